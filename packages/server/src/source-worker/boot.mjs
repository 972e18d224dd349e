// Starts a worker thread whose entry is a TypeScript source file (workerData.entry), for when
// the server itself runs from its sources (vitest resolves @carboncp/* to src/*.ts through the
// '@carboncp/source' condition). Node 20 cannot load .ts, and a worker thread does not inherit
// vitest's transform, so the worker gets its own loader hooks (hooks.mjs): the same sources the
// test runs on the main thread, never a dist/ that may be stale. The built server (dist/) starts
// tail-worker.js directly and never loads this file; it is not part of the published package.
import { register } from 'node:module';
import { workerData } from 'node:worker_threads';

register(new URL('./hooks.mjs', import.meta.url));
await import(workerData.entry);
