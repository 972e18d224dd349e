// The browser entry of @carboncp/device bundled as an app's bundler would (Vite/rolldown, browser
// conditions): nothing in it may import node:*, ws or onnxruntime-node, or use Node's Buffer.
// The Node entry bundled the same way is the control: the same checks must find its imports.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { bundleEntry } from './support/build.js';

const entry = (name: string) => fileURLToPath(new URL(`../../packages/device/src/${name}`, import.meta.url));

/** What makes a bundle Node-only, as found in its modules, its remaining imports and its code. */
function nodeOnly(bundle: { code: string; modules: string[]; imports: string[] }): string[] {
  const found: string[] = [];
  for (const id of bundle.modules) if (/^node:|[/\\]node_modules[/\\](ws|onnxruntime-node)[/\\]|^\0?(ws|onnxruntime-node)$/.test(id)) found.push(`module ${id}`);
  for (const name of bundle.imports) if (/^(node:|ws$|onnxruntime-node)|^(fs|path|os|worker_threads|child_process|crypto|url|module)$/.test(name)) found.push(`import ${name}`);
  // A free `Buffer` (not globalThis.Buffer, which the protocol's encoder probes for, nor ArrayBuffer).
  for (const match of bundle.code.matchAll(/(?<![.\w$])Buffer\b/g)) found.push(`Buffer at ${match.index}: ${bundle.code.slice(match.index - 20, match.index + 30)}`);
  for (const match of bundle.code.matchAll(/\brequire\(/g)) found.push(`require at ${match.index}`);
  return found;
}

describe('@carboncp/device entries bundled for the browser', () => {
  it('./browser: only onnxruntime-web is imported; no node:*, ws, onnxruntime-node or Buffer inside', async () => {
    const bundle = await bundleEntry(entry('browser.ts'), [/^onnxruntime-web/]);
    expect(nodeOnly(bundle)).toEqual([]);
    expect(bundle.imports).toEqual(['onnxruntime-web']);
    // The bundle holds the shared client, not a copy: the neutral modules are the package's own.
    expect(bundle.modules.some((id) => id.endsWith('packages/device/src/client/split-client.ts'))).toBe(true);
    expect(bundle.modules.some((id) => id.endsWith('packages/device/src/browser/ort-web-runtime.ts'))).toBe(true);
  });

  it('. (the neutral client): imports nothing at all', async () => {
    const bundle = await bundleEntry(entry('index.ts'), []);
    expect(nodeOnly(bundle)).toEqual([]);
    expect(bundle.imports).toEqual([]);
  });

  it('./node (the control): the same checks find its Node imports', async () => {
    const bundle = await bundleEntry(entry('node.ts'), [/^node:/, /^onnxruntime-node/, /^ws$/, /^bufferutil/]);
    const found = nodeOnly(bundle);
    expect(found.some((f) => f.startsWith('import node:'))).toBe(true);
    expect(found).toContain('import ws');
    expect(found).toContain('import onnxruntime-node');
  });
});
