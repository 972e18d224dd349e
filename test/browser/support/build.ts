// Bundles for the browser suites with Vite (rolldown): the example app, the client's unit tests
// as a page, and an entry bundled as a library (the neutrality check).
import { mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Rollup } from 'vite';

import { BROWSER_CONDITIONS as conditions, buildPage } from './build-page.mjs';

export const APP_DIR = fileURLToPath(new URL('../app/', import.meta.url));

/** Builds the example app (index.html, main.ts, onnxruntime-web and its wasm) into outDir. */
export function buildApp(outDir: string): Promise<void> {
  return buildPage(APP_DIR, outDir);
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

/** vitest's own dependencies that the browser shim of its API (unit/vitest-shim.mjs) bundles. */
function vitestInternals(): Record<string, string> {
  const fromVitest = createRequire(createRequire(import.meta.url).resolve('vitest/package.json'));
  const dirOf = (name: string) => dirname(fromVitest.resolve(`${name}/package.json`));
  return { '@vitest/expect': dirOf('@vitest/expect'), '@vitest/spy': dirOf('@vitest/spy') };
}

/**
 * A page that runs the given vitest files in the browser (window.runUnitTests), with 'vitest'
 * replaced by unit/vitest-shim.mjs: the files themselves are bundled unchanged.
 */
export async function buildUnitTests(outDir: string, files: readonly string[]): Promise<void> {
  const src = join(outDir, 'src');
  await mkdir(src, { recursive: true });
  const shim = fileURLToPath(new URL('../unit/vitest-shim.mjs', import.meta.url));
  const loads = files.map((file) => `  [${JSON.stringify(basename(file))}, () => import(${JSON.stringify(file)})],`).join('\n');
  await writeFile(
    join(src, 'entry.mjs'),
    `import { runFile } from ${JSON.stringify(shim)};\nconst files = [\n${loads}\n];\n` +
      'window.runUnitTests = async () => { const all = []; for (const [file, load] of files) all.push(...(await runFile(file, load))); return all; };\n',
  );
  await writeFile(join(src, 'index.html'), '<!doctype html><meta charset="utf-8"><title>client unit tests</title><script type="module" src="./entry.mjs"></script>\n');
  await buildPage(src, join(outDir, 'dist'), { alias: { vitest: shim, ...vitestInternals() } });
}
