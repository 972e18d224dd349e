// A small HTTP server on 127.0.0.1 for the browser suites and the browser benchmark (plain JS,
// typed by static-server.d.mts): the built app from one directory and extra files (models, plan
// JSON) at fixed paths. 127.0.0.1 is a secure context for the browser,
// so WebGPU and crypto.subtle are there as on an https:// page.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';

const TYPES = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.onnx': 'application/octet-stream',
  '.css': 'text/css',
};

/**
 * Serves `root` (and `extra`: URL path -> file) on 127.0.0.1 at a free port: { url, served, close }.
 * `isolated`: with the COOP and COEP headers that make its pages cross-origin isolated
 * (SharedArrayBuffer, so onnxruntime-web's WASM threads).
 */
export async function serveStatic(root, extra = {}, options = {}) {
  const isolation = options.isolated ? { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' } : {};
  const served = [];
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    served.push(path);
    const file = extra[path] ?? join(root, normalize(path === '/' ? '/index.html' : path).replace(/^(\.\.[/\\])+/, ''));
    try {
      const info = await stat(file);
      if (!info.isFile()) throw new Error('not a file');
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'content-length': info.size, ...isolation });
      createReadStream(file).pipe(res);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    served,
    close: () => new Promise((resolve) => server.close(() => resolve())).then(() => server.closeAllConnections()),
  };
}
