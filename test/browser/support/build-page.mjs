// Vite (rolldown) builds of a page for the browser suites and the browser benchmark (plain JS,
// typed by build-page.d.mts): the workspace packages from their TypeScript sources (the
// '@carboncp/source' condition) with the browser's conditions, as an app's bundler would.
import { build } from 'vite';

export const BROWSER_CONDITIONS = ['@carboncp/source', 'browser', 'module', 'import', 'default'];

/** Builds the page at root/index.html (its scripts, onnxruntime-web and its wasm) into outDir. */
export async function buildPage(root, outDir, resolve = {}) {
  await build({
    root,
    configFile: false,
    logLevel: 'warn',
    resolve: { conditions: BROWSER_CONDITIONS, ...resolve },
    build: { outDir, emptyOutDir: true, target: 'es2022', minify: false, reportCompressedSize: false, chunkSizeWarningLimit: 100_000 },
  });
}
