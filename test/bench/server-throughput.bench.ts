/**
 * Server throughput: closed-loop clients (each sends its next request when the previous answer
 * arrives) against the PP-OCR classifier's tail at a middle cut, at 1, 4 and 16 concurrent
 * clients, for each executor (tails on the event loop, on 1 worker thread, on 2) without
 * batching and with adaptive dynamic batching (window 2 ms). Clients and server share this
 * process and its cores (the clients only encode/decode frames; the head is run once up front).
 * Each iteration sends ~160 requests; afterAll prints requests/s (best iteration) and p50/p99
 * latency over all requests.
 *
 * Responsiveness: while one client runs resnet18's 'server' plan back to back (the whole model as
 * the tail, tens of ms per run), probes on their own event loop (a worker thread of this process)
 * ping over the protocol and GET /v2/health/live every 20 ms; afterAll prints their latencies per
 * executor. Results in results/server.md.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { ensureModel } from '@carboncp/models';
import { PROTOCOL_VERSION, encodeFrame, tensorFromArray } from '@carboncp/protocol';
import { MessageType } from '@carboncp/protocol';
import { startServer, type CarboncpServer, type ServerOptions } from '@carboncp/server';
import { afterAll, bench, describe } from 'vitest';
import { CLS_INPUT_SHAPES, CLS_PATH, clsInputs, crossingFor, inferBody, loadClsPartition, middleSplit } from '../../packages/server/src/testing/fixtures.js';
import { TestClient } from '../../packages/server/src/testing/ws-test-client.js';

const partition = await loadClsPartition();
const plan = middleSplit(partition);
const inputs = await crossingFor(partition, plan, clsInputs(partition, 1));
const TOTAL = 160;

const modes: Record<string, Pick<ServerOptions, 'executor' | 'workers' | 'batching'>> = {
  'main, no batching': { executor: 'main', batching: false },
  'main, batching 16/2 ms': { executor: 'main', batching: { maxBatch: 16, windowMs: 2 } },
  'worker x1, no batching': { executor: 'worker', workers: 1, batching: false },
  'worker x1, batching 16/2 ms': { executor: 'worker', workers: 1, batching: { maxBatch: 16, windowMs: 2 } },
  'worker x2, no batching': { executor: 'worker', workers: 2, batching: false },
  'worker x2, batching 16/2 ms': { executor: 'worker', workers: 2, batching: { maxBatch: 16, windowMs: 2 } },
};
const servers = new Map<string, CarboncpServer>();
for (const [mode, options] of Object.entries(modes)) {
  servers.set(mode, await startServer({ models: [CLS_PATH], inputShapes: CLS_INPUT_SHAPES, port: 0, executionProviders: ['cpu'], maxQueue: 1024, log: () => {}, ...options }));
}

interface Stats {
  latencies: number[];
  rates: number[];
  batches: number[];
}
const stats = new Map<string, Stats>();

async function connect(server: CarboncpServer, count: number): Promise<TestClient[]> {
  const clients = await Promise.all(Array.from({ length: count }, () => TestClient.connect(server.url)));
  await Promise.all(clients.map((c) => c.hello()));
  // Warm the tail session (built lazily on the first request).
  await clients[0].infer(inferBody(partition, plan, inputs));
  return clients;
}

const body = inferBody(partition, plan, inputs);
async function closedLoop(clients: TestClient[], key: string): Promise<void> {
  const perClient = Math.ceil(TOTAL / clients.length);
  const entry = stats.get(key) ?? { latencies: [], rates: [], batches: [] };
  stats.set(key, entry);
  const started = performance.now();
  await Promise.all(
    clients.map(async (client) => {
      for (let i = 0; i < perClient; i++) {
        const t0 = performance.now();
        const answer = await client.infer(body);
        entry.latencies.push(performance.now() - t0);
        if (answer.type !== MessageType.InferResponse) throw new Error(`request failed: ${JSON.stringify(answer.body)}`);
        entry.batches.push(answer.body.parameters.batch_size);
        // Answers are kept by the test client; drop them so memory stays flat.
        client.received.length = 0;
      }
    }),
  );
  entry.rates.push((perClient * clients.length * 1000) / (performance.now() - started));
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
};

for (const mode of Object.keys(modes)) {
  describe(`cls ${plan.id} tail, ${mode}`, () => {
    for (const concurrency of [1, 4, 16]) {
      const key = `${mode}|${concurrency}`;
      let clients: TestClient[] | undefined;
      bench(
        `${concurrency} clients`,
        async () => {
          clients ??= await connect(servers.get(mode)!, concurrency);
          await closedLoop(clients, key);
        },
        { iterations: 5, warmupIterations: 1, time: 0 },
      );
    }
  });
}

afterAll(async () => {
  const rows = ['| executor, batching | clients | requests/s (best) | requests/s (median) | p50 ms | p99 ms | mean batch |', '|---|---|---|---|---|---|---|'];
  for (const [key, s] of stats) {
    const [mode, clients] = key.split('|');
    const meanBatch = s.batches.reduce((a, b) => a + b, 0) / s.batches.length;
    rows.push(
      `| ${mode} | ${clients} | ${Math.max(...s.rates).toFixed(0)} | ${pct(s.rates, 0.5).toFixed(0)} | ${pct(s.latencies, 0.5).toFixed(2)} | ${pct(s.latencies, 0.99).toFixed(2)} | ${meanBatch.toFixed(2)} |`,
    );
  }
  console.log(`\nserver throughput, ${partition.model.name} ${plan.id} (crossing ${plan.crossing.map((c) => `${c.name} [${c.shape?.join(',') ?? '?'}]`).join(' ')}, ${plan.bytesPerSample} B/sample)\n${rows.join('\n')}\n`);
  for (const server of servers.values()) await server.close({ drainMs: 1000 });
  const probeRows = ['| executor | resnet18 runs/s | health p50 / p99 / max ms | ping p50 / p99 / max ms |', '|---|---|---|---|'];
  for (const [executor, r] of responsiveness) {
    const trio = (xs: number[]) => `${pct(xs, 0.5).toFixed(1)} / ${pct(xs, 0.99).toFixed(1)} / ${Math.max(...xs).toFixed(1)}`;
    probeRows.push(`| ${executor} | ${r.runsPerSecond.toFixed(1)} | ${trio(r.health)} | ${trio(r.ping)} |`);
  }
  console.log(`\nresponsiveness while resnet18 'server' runs back to back (probes every ${PROBE_EVERY_MS} ms for ${PROBE_FOR_MS} ms)\n${probeRows.join('\n')}\n`);
});

// --- responsiveness -------------------------------------------------------------------------

const PROBE_EVERY_MS = 20;
const PROBE_FOR_MS = 4000;
const responsiveness = new Map<string, { runsPerSecond: number; health: number[]; ping: number[] }>();
const wsPath = createRequire(new URL('../../packages/server/package.json', import.meta.url)).resolve('ws');

// Plain CommonJS for an eval worker: raw frames in, time to the next message out.
const PROBE_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const WebSocket = require(workerData.wsPath);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
(async () => {
  const ws = new WebSocket(workerData.url);
  let next;
  ws.on('message', () => { const n = next; next = undefined; n?.(); });
  await new Promise((r) => ws.once('open', r));
  const answer = (frame) => new Promise((r) => { next = r; ws.send(frame); });
  await answer(Buffer.from(workerData.hello));
  const ping = [], health = [];
  const end = performance.now() + workerData.forMs;
  const pinger = (async () => { while (performance.now() < end) { const t = performance.now(); await answer(Buffer.from(workerData.ping)); ping.push(performance.now() - t); await sleep(workerData.everyMs); } })();
  const checker = (async () => { while (performance.now() < end) { const t = performance.now(); const r = await fetch(workerData.httpUrl + '/v2/health/live'); await r.text(); health.push(performance.now() - t); await sleep(workerData.everyMs); } })();
  await Promise.all([pinger, checker]);
  ws.close();
  parentPort.postMessage({ ping, health });
})();
`;

const resnetPath = await ensureModel('resnet18');
const RESNET_INPUT = tensorFromArray('input', Float32Array.from({ length: 3 * 224 * 224 }, (_, i) => ((i * 7919) % 255) / 255 - 0.5), [1, 3, 224, 224]);

for (const executor of ['main', 'worker'] as const) {
  describe(`responsiveness, ${executor} executor`, () => {
    bench(
      'resnet18 server plan back to back, probed',
      async () => {
        const server = await startServer({ models: [resnetPath], port: 0, executionProviders: ['cpu'], executor, log: () => {} });
        try {
          const model = [...server.models.values()][0];
          const plan = model.servable.get('server')!;
          const body = { model_name: model.name, plan_id: plan.id, plan_digest: plan.digest, model_digest: model.loaded.digest, inputs: [RESNET_INPUT] };
          const load = await TestClient.connect(server.url);
          await load.hello();
          await load.infer(body); // opens the session
          const probe = new Worker(PROBE_SOURCE, {
            eval: true,
            workerData: {
              wsPath,
              url: server.url,
              httpUrl: server.httpUrl,
              everyMs: PROBE_EVERY_MS,
              forMs: PROBE_FOR_MS,
              hello: encodeFrame({ type: MessageType.Hello, requestId: 0, body: { protocol_version: PROTOCOL_VERSION, client: 'probe', models: [] } }),
              ping: encodeFrame({ type: MessageType.Ping, requestId: 0, body: { t: 1 } }),
            },
          });
          const probed = new Promise<{ ping: number[]; health: number[] }>((resolve, reject) => {
            probe.once('message', resolve);
            probe.once('error', reject);
          });
          let done = false;
          let runs = 0;
          const started = performance.now();
          const loop = (async () => {
            while (!done) {
              const answer = await load.infer(body);
              if (answer.type !== MessageType.InferResponse) throw new Error(`resnet18 request failed: ${JSON.stringify(answer.body)}`);
              load.received.length = 0;
              runs += 1;
            }
          })();
          const result = await probed;
          done = true;
          await loop;
          const entry = responsiveness.get(executor) ?? { runsPerSecond: 0, health: [], ping: [] };
          entry.runsPerSecond = Math.max(entry.runsPerSecond, (runs * 1000) / (performance.now() - started));
          entry.health.push(...result.health);
          entry.ping.push(...result.ping);
          responsiveness.set(executor, entry);
          load.close();
          await probe.terminate();
        } finally {
          await server.close({ drainMs: 5000 });
        }
      },
      { iterations: 2, warmupIterations: 0, time: 0 },
    );
  });
}
