// Bundles for the browser suites with Vite (rolldown): the workspace packages from their
// TypeScript sources (the '@carboncp/source' condition), as a bundler of an app would.
import { fileURLToPath } from 'node:url';
import { build, type Rollup } from 'vite';

const conditions = ['@carboncp/source', 'browser', 'module', 'import', 'default'];
export const APP_DIR = fileURLToPath(new URL('../app/', import.meta.url));

/** Builds the example app (index.html, main.ts, onnxruntime-web and its wasm) into outDir. */
export async function buildApp(outDir: string): Promise<void> {
  await build({
    root: APP_DIR,
    configFile: false,
    logLevel: 'warn',
    resolve: { conditions },
    build: { outDir, emptyOutDir: true, target: 'es2022', minify: false, reportCompressedSize: false, chunkSizeWarningLimit: 100_000 },
  });
}

/**
 * One entry bundled as a browser library, the named packages left as imports: the output
 * chunks plus every module that went into them (rolldown's module ids).
 */
export async function bundleEntry(entry: string, external: (string | RegExp)[]): Promise<{ code: string; modules: string[]; imports: string[] }> {
  const output = (await build({
    configFile: false,
    logLevel: 'silent',
    resolve: { conditions },
    build: {
      write: false,
      target: 'es2022',
      // Minified: comments (which name Buffer or node: in prose) are gone, globals keep their names.
      minify: true,
      lib: { entry, formats: ['es'], fileName: 'entry' },
      rollupOptions: { external },
    },
  })) as Rollup.RollupOutput | Rollup.RollupOutput[];
  const chunks = (Array.isArray(output) ? output.flatMap((o) => o.output) : output.output).filter((o): o is Rollup.OutputChunk => o.type === 'chunk');
  return {
    code: chunks.map((c) => c.code).join('\n'),
    modules: [...new Set(chunks.flatMap((c) => Object.keys(c.modules)))],
    imports: [...new Set(chunks.flatMap((c) => [...c.imports, ...c.dynamicImports]))],
  };
}
