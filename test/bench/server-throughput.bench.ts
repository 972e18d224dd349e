/**
 * Server throughput: closed-loop clients (each sends its next request when the previous answer
 * arrives) against the PP-OCR classifier's tail at a middle cut, at 1, 4 and 16 concurrent
 * clients, without batching and with adaptive dynamic batching (window 2 ms and 0 ms). Clients
 * and server share this process and its cores (the clients only encode/decode frames; the head
 * is run once up front). Each iteration
 * sends ~160 requests; afterAll prints requests/s (best iteration) and p50/p99 latency over all
 * requests. Results in results/server.md.
 */
import { MessageType } from '@carboncp/protocol';
import { startServer, type CarboncpServer, type ServerOptions } from '@carboncp/server';
import { afterAll, bench, describe } from 'vitest';
import { CLS_INPUT_SHAPES, CLS_PATH, clsInputs, crossingFor, inferBody, loadClsPartition, middleSplit } from '../../packages/server/src/testing/fixtures.js';
import { TestClient } from '../../packages/server/src/testing/ws-test-client.js';

const partition = await loadClsPartition();
const plan = middleSplit(partition);
const inputs = await crossingFor(partition, plan, clsInputs(partition, 1));
const TOTAL = 160;

// Adaptive batching (see request-queue.ts): windowMs only bounds the wait for company known to
// be coming; the 0 ms row shows what that wait is worth.
const modes: Record<string, ServerOptions['batching']> = {
  'no batching': false,
  'batching max 16, 2 ms': { maxBatch: 16, windowMs: 2 },
  'batching max 16, 0 ms': { maxBatch: 16, windowMs: 0 },
};
const servers = new Map<string, CarboncpServer>();
for (const [mode, batching] of Object.entries(modes)) {
  servers.set(mode, await startServer({ models: [CLS_PATH], inputShapes: CLS_INPUT_SHAPES, port: 0, executionProviders: ['cpu'], batching, maxQueue: 1024, log: () => {} }));
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
  const rows = ['| batching | clients | requests/s (best) | requests/s (median) | p50 ms | p99 ms | mean batch |', '|---|---|---|---|---|---|---|'];
  for (const [key, s] of stats) {
    const [mode, clients] = key.split('|');
    const meanBatch = s.batches.reduce((a, b) => a + b, 0) / s.batches.length;
    rows.push(
      `| ${mode} | ${clients} | ${Math.max(...s.rates).toFixed(0)} | ${pct(s.rates, 0.5).toFixed(0)} | ${pct(s.latencies, 0.5).toFixed(2)} | ${pct(s.latencies, 0.99).toFixed(2)} | ${meanBatch.toFixed(2)} |`,
    );
  }
  console.log(`\nserver throughput, ${partition.model.name} ${plan.id} (crossing ${plan.crossing.map((c) => `${c.name} [${c.shape?.join(',') ?? '?'}]`).join(' ')}, ${plan.bytesPerSample} B/sample)\n${rows.join('\n')}\n`);
  for (const server of servers.values()) await server.close({ drainMs: 1000 });
});
