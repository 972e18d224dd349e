#!/usr/bin/env node
/**
 * What the batching window is worth when clients do not share the server's event loop: closed-loop
 * clients in worker threads (each its own event loop and socket, like separate devices) against
 * the PP-OCR classifier's middle-cut tail, with batching off, adaptive batching with windowMs 2
 * (an idle executor waits up to 2 ms for company known to be coming, see
 * packages/server/src/request-queue.ts) and windowMs 0 (never waits). The modes run one after the
 * other within a round, rounds repeat (the machine is shared). Optional think time: each client
 * sleeps a seeded random 0..THINK ms (setTimeout) before each request, which desynchronises them.
 * Needs dist: `node scripts/pnpm.mjs exec tsc -b packages/server`.
 * Usage: node test/bench/batching-window.mjs [clients 4] [think-ms 0] [requests-per-client 150] [rounds 2]
 * Results in results/server.md.
 */
import { createRequire } from 'node:module';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

const require = createRequire(new URL('../../packages/server/package.json', import.meta.url));
const protocol = await import(require.resolve('@carboncp/protocol'));
const WebSocket = (await import(require.resolve('ws'))).default;
const { decodeFrame, encodeFrame, MessageType, PROTOCOL_VERSION, tensorFromArray } = protocol;

if (!isMainThread) {
  const { url, body, count, thinkMs, seed } = workerData;
  let state = seed >>> 0;
  const random = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const ws = new WebSocket(url, { perMessageDeflate: false });
  await new Promise((resolve) => ws.once('open', resolve));
  let pending;
  ws.on('message', (data) => pending(decodeFrame(data)));
  const answer = () => new Promise((resolve) => (pending = resolve));
  ws.send(encodeFrame({ type: MessageType.Hello, requestId: 0, body: { protocol_version: PROTOCOL_VERSION, client: 'batching-window bench', models: [] } }));
  await answer();
  const values = new Float32Array(body.size).map(() => random() - 0.5);
  const request = { model_name: body.model, plan_id: body.plan, plan_digest: body.planDigest, model_digest: body.modelDigest, inputs: [tensorFromArray(body.name, values, body.shape)] };
  parentPort.postMessage('ready');
  await new Promise((resolve) => parentPort.once('message', resolve));
  const latencies = [];
  const batches = [];
  for (let id = 1; id <= count; id++) {
    if (thinkMs > 0) await new Promise((resolve) => setTimeout(resolve, random() * thinkMs));
    const started = performance.now();
    ws.send(encodeFrame({ type: MessageType.InferRequest, requestId: id, body: request }));
    const message = await answer();
    latencies.push(performance.now() - started);
    if (message.type !== MessageType.InferResponse) throw new Error(`request failed: ${JSON.stringify(message.body)}`);
    batches.push(message.body.parameters.batch_size);
  }
  ws.close();
  parentPort.postMessage({ latencies, batches });
} else {
  const { startServer } = await import('../../packages/server/dist/index.js');
  const { ocrModelPath } = await import(require.resolve('@carboncp/core/node'));
  const [clients = 4, thinkMs = 0, perClient = 150, rounds = 2] = process.argv.slice(2).map(Number);
  const modes = { 'no batching': false, 'adaptive, window 2 ms': { maxBatch: 16, windowMs: 2 }, 'adaptive, window 0 ms': { maxBatch: 16, windowMs: 0 } };
  const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(p * xs.length) - 1)];
  console.log(`${clients} clients in worker threads, think 0..${thinkMs} ms, ${perClient} requests each`);
  console.log('| round | batching | requests/s | p50 ms | p99 ms | mean batch |\n|---|---|---|---|---|---|');
  for (let round = 1; round <= rounds; round++) {
    for (const [mode, batching] of Object.entries(modes)) {
      const server = await startServer({ models: [ocrModelPath('ch_ppocr_mobile_v2.0_cls_infer.onnx')], inputShapes: { '*': { x: [1, 3, 48, 192] } }, host: '127.0.0.1', port: 0, executionProviders: ['cpu'], batching, maxQueue: 1024, log: () => {} });
      const model = [...server.models.values()][0];
      const splits = [...model.servable.values()].filter((p) => p.kind === 'split' && p.crossing.length === 1 && p.crossing[0].source === 'head');
      const plan = splits[Math.floor(splits.length / 2)];
      const shape = [1, ...plan.crossing[0].shape.slice(1)];
      const body = { model: model.name, plan: plan.id, planDigest: plan.digest, modelDigest: model.loaded.digest, name: plan.crossing[0].name, shape, size: shape.reduce((a, b) => a * b, 1) };
      const workers = Array.from({ length: clients }, (_, k) => new Worker(new URL(import.meta.url), { workerData: { url: server.url, body, count: perClient, thinkMs, seed: 17 + k } }));
      await Promise.all(workers.map((w) => new Promise((resolve) => w.once('message', resolve))));
      const finished = Promise.all(workers.map((w) => new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); })));
      const started = performance.now();
      for (const w of workers) w.postMessage('go');
      const results = await finished;
      const seconds = (performance.now() - started) / 1000;
      const latencies = results.flatMap((r) => r.latencies);
      const batches = results.flatMap((r) => r.batches);
      console.log(`| ${round} | ${mode} | ${(latencies.length / seconds).toFixed(0)} | ${pct(latencies, 0.5).toFixed(2)} | ${pct(latencies, 0.99).toFixed(2)} | ${(batches.reduce((a, b) => a + b, 0) / batches.length).toFixed(2)} |`);
      await Promise.all(workers.map((w) => w.terminate()));
      await server.close({ drainMs: 500 });
    }
  }
}
