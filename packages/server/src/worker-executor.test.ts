/**
 * The 'worker' executor on a real server (ws on 127.0.0.1): what the worker threads add over the
 * main-thread executor. Workers start from this repository's sources (see
 * source-worker/boot.mjs), through a test entry (testing/test-tail-worker.ts) that can crash its
 * worker or block it on a gate, so that "while a tail runs" is a fact, not a timing.
 */
import type { Partition, Plan } from '@carboncp/core';
import { MessageType, tensorToArray, type WireTensor } from '@carboncp/protocol';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from './index.js';
import { CLS_PATH, clsInputs, crossingFor, expectError, expectResponse, inferBody, loadClsPartition, maxAbsDiff, middleSplit } from './testing/fixtures.js';
import { EXIT_MARKER, GATE_MARKER, THROW_MARKER } from './testing/worker-markers.js';
import { gatedServers, marked, openGate, untilBlocked } from './testing/worker-gate.js';
import { TestClient } from './testing/ws-test-client.js';

let partition: Partition;
let split: Plan;
const samples: WireTensor[][] = [];
const { logs, start, closeAll } = gatedServers();

beforeAll(async () => {
  partition = await loadClsPartition();
  split = middleSplit(partition);
  for (let seed = 1; seed <= 4; seed++) samples.push(await crossingFor(partition, split, clsInputs(partition, 300 + seed)));
});

afterEach(closeAll);

function outputs(message: Parameters<typeof expectResponse>[0]): Float32Array[] {
  return expectResponse(message).body.outputs.map((o) => tensorToArray(o) as Float32Array);
}

describe('worker executor', () => {
  it('gives the same outputs as the main-thread executor, batched and not', async () => {
    const main = await start({ executor: 'main' });
    const m = await TestClient.ready(main.url);
    const expected: Float32Array[][] = [];
    for (const inputs of samples) expected.push(outputs(await m.infer(inferBody(partition, split, inputs))));

    // Two workers, requests sent together: both workers run some (each opens its own session).
    const worker = await start({ workers: 2 });
    const w = await TestClient.ready(worker.url);
    const unbatched = await Promise.all(samples.map((inputs) => w.infer(inferBody(partition, split, inputs))));
    unbatched.forEach((answer, i) => outputs(answer).forEach((values, j) => expect(maxAbsDiff(values, expected[i][j])).toBeLessThan(1e-5)));
    const opened = (slot: number) => logs.filter((line) => line.startsWith(`tail session ${partition.model.name}/${split.id}:`) && line.endsWith(`(worker ${slot})`));
    expect(opened(0).length).toBe(1);
    expect(opened(1).length).toBe(1);

    const batched = await start({ workers: 1, batching: { maxBatch: 4, windowMs: 50 } });
    const b = await TestClient.ready(batched.url);
    // Sent in one go: the first runs at once, the rest wait for the worker and run as one batch.
    const answers = await Promise.all(samples.map((inputs) => b.infer(inferBody(partition, split, inputs))));
    expect(Math.max(...answers.map((a) => expectResponse(a).body.parameters.batch_size))).toBeGreaterThan(1);
    answers.forEach((answer, i) => outputs(answer).forEach((values, j) => expect(maxAbsDiff(values, expected[i][j])).toBeLessThan(1e-5)));
  });

  it('answers health, metrics and pings while a tail blocks its worker', async () => {
    const gate = new SharedArrayBuffer(8);
    const cells = new Int32Array(gate);
    const server = await start({}, gate);
    const c = await TestClient.ready(server.url);
    const blockedId = c.sendInfer(inferBody(partition, split, marked(samples[0], GATE_MARKER)));
    await untilBlocked(cells);
    const live = await fetch(`${server.httpUrl}/v2/health/live`);
    expect(live.status).toBe(200);
    const metrics = await (await fetch(`${server.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/carboncp_in_flight_requests 1\n/);
    const pong = await c.ping(5);
    expect(pong.type === MessageType.Pong && pong.body.in_flight).toBe(1);
    // A request behind the blocked one is read and queued, not lost.
    const queuedId = c.sendInfer(inferBody(partition, split, samples[1]));
    const pong2 = await c.ping(6);
    expect(pong2.type === MessageType.Pong && pong2.body.queue_depth).toBe(1);
    expect(c.received.some((m) => m.type === MessageType.InferResponse)).toBe(false);
    openGate(cells);
    expectResponse(await c.answer(blockedId));
    expectResponse(await c.answer(queuedId));
  });

  for (const drainMs of [30_000, 0]) {
    it(`close (drainMs ${drainMs}) lets a run in a worker finish and answers it, then asks the worker to end itself`, async () => {
      // Terminating a thread while onnxruntime is inside a call (a run, a session release) can
      // abort the whole process, so close never terminates a worker that answers, whatever the
      // drain time: it finishes its run, then gets a 'close' message, releases its sessions and
      // ends by itself. gate[2] counts the 'close' messages the test worker received.
      const gate = new SharedArrayBuffer(12);
      const cells = new Int32Array(gate);
      const server = await start({}, gate);
      const c = await TestClient.ready(server.url);
      const id = c.sendInfer(inferBody(partition, split, marked(samples[0], GATE_MARKER)));
      await untilBlocked(cells);
      let closed = false;
      const closing = server.close({ drainMs }).then(() => {
        closed = true;
      });
      await c.ping();
      expect(closed).toBe(false);
      openGate(cells);
      expect(expectResponse(await c.answer(id)).body.outputs.length).toBeGreaterThan(0);
      await closing;
      expect((await c.closed).code).toBe(1001);
      expect(Atomics.load(cells, 2)).toBe(1);
      expect(logs.some((line) => /terminating it/.test(line))).toBe(false);
      expect(logs.at(-1)).toBe('carboncp server stopped');
    });
  }

  for (const [how, marker, why] of [
    ['process.exit', EXIT_MARKER, /exit code 7/],
    ['an uncaught error', THROW_MARKER, /uncaught error \(test worker: deliberate uncaught error\)/],
  ] as const) {
    it(`a worker that dies by ${how} fails only its request with CARBONCP_INTERNAL, and is replaced`, async () => {
      const server = await start({ workers: 1 });
      const c = await TestClient.ready(server.url);
      const before = outputs(await c.infer(inferBody(partition, split, samples[2])));
      const crashId = c.sendInfer(inferBody(partition, split, marked(samples[0], marker)));
      // Queued behind the crash (one worker, no batching): runs on the replacement.
      const nextId = c.sendInfer(inferBody(partition, split, samples[2]));
      const error = expectError(await c.answer(crashId));
      expect(error.code).toBe('CARBONCP_INTERNAL');
      expect(error.request_id).toBe(crashId);
      expect(error.message).toMatch(why);
      const after = outputs(await c.answer(nextId));
      expect(maxAbsDiff(after[0], before[0])).toBe(0);
      expect(logs.some((line) => /tail worker 0 stopped .*starting a new worker/.test(line) && why.test(line))).toBe(true);
      // The replacement opened the session again.
      expect(logs.filter((line) => line.startsWith(`tail session ${partition.model.name}/${split.id}:`)).length).toBe(2);
      const metrics = await (await fetch(`${server.httpUrl}/metrics`)).text();
      expect(metrics).toMatch(/carboncp_errors_total\{code="CARBONCP_INTERNAL"\} 1\n/);
      expect(metrics).toMatch(/carboncp_session_cache_entries 1\n/);
    });
  }
});

describe('executor options', () => {
  it('refuses an unknown executor and workers without the worker executor', async () => {
    await expect(startServer({ models: [CLS_PATH], executor: 'gpu' as never })).rejects.toThrow(/executor must be 'main' or 'worker'/);
    await expect(startServer({ models: [CLS_PATH], executor: 'main', workers: 2 })).rejects.toThrow(/applies to executor 'worker' only/);
    await expect(startServer({ models: [CLS_PATH], workers: 0 })).rejects.toThrow(/workers must be a positive integer/);
  });
});
