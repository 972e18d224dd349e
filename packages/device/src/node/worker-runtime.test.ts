import { monitorEventLoopDelay } from 'node:perf_hooks';
import { readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ModelBuilder } from '@carboncp/core';
import { ocrModelPath } from '@carboncp/core/node';
import { isCarboncpError } from '@carboncp/protocol';
import * as ort from 'onnxruntime-node';
import { DEVICE_DEFAULTS, resolveHeadThreadOptions } from '../client/client-options.js';
import { ManualClock, systemClock, type Clock, type ClockTimer } from '../client/clock.js';
import type { RuntimeSession } from '../client/types.js';
import { createClient } from './create-client.js';
import { OrtRuntime } from './ort-runtime.js';
import { WorkerRuntime } from './worker-runtime.js';

const FAULTY = new URL('./faulty-head-worker.test-support.js', import.meta.url);

/** Seeded floats in [-1, 1). */
function seeded(count: number, seed: number): Float32Array {
  let state = seed >>> 0;
  return Float32Array.from({ length: count }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 31 - 1;
  });
}

/** x FP32 [N,64] and ids INT64 [N,4] in; y FP32 (a tanh layer), e FP16 (an embedding cast down) and m BOOL out. */
function mixedModel(): Uint8Array {
  return new ModelBuilder({ name: 'mixed' })
    .input('x', 'FP32', ['N', 64])
    .input('ids', 'INT64', ['N', 4])
    .initializer('w', 'FP32', [64, 32], { seed: 1, std: 0.2 })
    .initializer('table', 'FP32', [10, 8], { seed: 2, std: 1 })
    .initializer('zero', 'FP32', [], [0])
    .node('MatMul', ['x', 'w'], ['xw'])
    .node('Tanh', ['xw'], ['y'])
    .node('Gather', ['table', 'ids'], ['g'], { axis: 0 })
    .node('Cast', ['g'], ['e'], { to: 10 })
    .node('Greater', ['y', 'zero'], ['m'])
    .output('y', 'FP32', ['N', 32])
    .output('e', 'FP16', ['N', 4, 8])
    .output('m', 'BOOL', ['N', 32])
    .toBytes();
}

/** Eight chained [256,1024]x[1024,1024] MatMuls: a head long enough (~100 ms) to block a loop. */
function heavyModel(): Uint8Array {
  const b = new ModelBuilder({ name: 'heavy' }).input('x', 'FP32', [256, 1024]);
  let last = 'x';
  for (let i = 0; i < 8; i++) {
    b.initializer(`w${i}`, 'FP32', [1024, 1024], { seed: 10 + i, std: 0.03 });
    b.node('MatMul', [last, `w${i}`], [`h${i}`]);
    last = `h${i}`;
  }
  return b.output(last, 'FP32', [256, 1024]).toBytes();
}

function mixedFeeds(runtime: { tensor: OrtRuntime['tensor'] }, seed: number, batch = 2): Record<string, ort.Tensor> {
  const ids = BigInt64Array.from({ length: batch * 4 }, (_, i) => BigInt((i * 7 + seed) % 10));
  return {
    x: runtime.tensor('FP32', seeded(batch * 64, seed), [batch, 64]),
    ids: runtime.tensor('INT64', ids, [batch, 4]),
  };
}

/** Atomics.waitAsync (Node 16+), absent from the TypeScript lib this repository targets. */
const waitAsync = (Atomics as unknown as {
  waitAsync(cells: Int32Array, index: number, value: number): { async: false; value: string } | { async: true; value: Promise<string> };
}).waitAsync;

/**
 * Feeds of mixedModel whose run holds the FAULTY worker's thread until open(): x lives in a
 * SharedArrayBuffer, its first value -777 asks for the gate, its last two int32 cells are the
 * gate (see faulty-head-worker.test-support.js). onThread() resolves once the run is on the thread.
 */
function gatedFeeds(runtime: { tensor: OrtRuntime['tensor'] }, seed: number) {
  const x = new Float32Array(new SharedArrayBuffer(2 * 64 * 4));
  x.set(seeded(2 * 64, seed));
  x[0] = -777;
  const cells = new Int32Array(x.buffer);
  const entered = cells.length - 1;
  const gate = cells.length - 2;
  cells[entered] = 0;
  cells[gate] = 0;
  return {
    feeds: { x: runtime.tensor('FP32', x, [2, 64]), ids: mixedFeeds(runtime, seed).ids },
    async onThread(): Promise<void> {
      const wait = waitAsync(cells, entered, 0);
      if (wait.async) await wait.value;
    },
    open(): void {
      Atomics.store(cells, gate, 1);
      Atomics.notify(cells, gate);
    },
  };
}

/** Records how a promise settled, so a test can tell what has settled so far without waiting. */
function track<T>(promise: Promise<T>, log: string[], label: string): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  return promise.then(
    (value) => {
      log.push(label);
      return { ok: true as const, value };
    },
    (error: unknown) => {
      log.push(label);
      return { ok: false as const, error };
    },
  );
}

/**
 * The system clock, except that after `expire` is set the next timer of exactly `boundMs` (a
 * head bound: no other timer of the client has that length) fires at once, in a microtask: the
 * call it bounds fails before the thread can answer, with no time passing. One timer only: the
 * retired thread's own bound (terminate if still running) must stay a real one.
 */
function expiringClock(boundMs: number): Clock & { expire: boolean; bounds: number } {
  const mine = new Set<ClockTimer>();
  const cleared = new Set<ClockTimer>();
  const clock = {
    expire: false,
    bounds: 0,
    now: () => systemClock.now(),
    epochMs: () => systemClock.epochMs(),
    setTimeout(callback: () => void, ms: number, options?: { unref?: boolean }): ClockTimer {
      if (ms !== boundMs) return systemClock.setTimeout(callback, ms, options);
      clock.bounds++;
      if (!clock.expire) return systemClock.setTimeout(callback, ms, options);
      clock.expire = false;
      const timer: ClockTimer = {};
      mine.add(timer);
      queueMicrotask(() => {
        if (!cleared.has(timer)) callback();
      });
      return timer;
    },
    clearTimeout(timer: ClockTimer | undefined): void {
      if (timer !== undefined && mine.has(timer)) cleared.add(timer);
      else systemClock.clearTimeout(timer);
    },
  };
  return clock;
}

const opened: { runtime: WorkerRuntime; sessions: RuntimeSession<ort.Tensor>[] }[] = [];
afterEach(async () => {
  for (const { runtime, sessions } of opened.splice(0)) {
    await Promise.all(sessions.map((s) => s.release()));
    runtime.close();
  }
});

async function workerSession(bytes: Uint8Array, options: ConstructorParameters<typeof WorkerRuntime>[0] = {}) {
  const runtime = new WorkerRuntime({ intraOpNumThreads: 1, ...options });
  const session = await runtime.load(bytes, 'test model');
  opened.push({ runtime, sessions: [session] });
  return { runtime, session };
}

function expectSameTensors(actual: Record<string, ort.Tensor>, expected: Record<string, ort.Tensor>): void {
  expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
  for (const [name, tensor] of Object.entries(expected)) {
    expect(actual[name].type, name).toBe(tensor.type);
    expect(actual[name].dims, name).toEqual(tensor.dims);
    expect(Array.from(actual[name].data as ArrayLike<number>), name).toEqual(Array.from(tensor.data as ArrayLike<number>));
  }
}

describe('WorkerRuntime', () => {
  it('gives the same outputs as the main-thread runtime: FP32, INT64 in; FP32, FP16, BOOL out; several seeds and batch sizes', async () => {
    const bytes = mixedModel();
    const main = await new OrtRuntime({ intraOpNumThreads: 1 }).load(bytes, 'mixed');
    const { runtime, session } = await workerSession(bytes);
    expect(session.inputNames).toEqual(main.inputNames);
    expect(session.outputNames).toEqual(main.outputNames);
    for (const [seed, batch] of [[1, 1], [2, 2], [3, 5]]) {
      const feeds = mixedFeeds(runtime, seed, batch);
      const before = Array.from(feeds.x.data as Float32Array);
      expectSameTensors(await session.run(feeds), await main.run(feeds));
      expect(Array.from(feeds.x.data as Float32Array)).toEqual(before); // the caller's inputs are untouched
      expect(runtime.describe((await session.run(feeds)).e)).toMatchObject({ datatype: 'FP16' });
    }
    await main.release();
  });

  it('gives the same outputs as the main-thread runtime on the real PP-OCR classifier, runs in flight together', async () => {
    const bytes = new Uint8Array(await readFile(ocrModelPath('ch_ppocr_mobile_v2.0_cls_infer.onnx')));
    const main = await new OrtRuntime({ intraOpNumThreads: 1 }).load(bytes, 'cls');
    const { runtime, session } = await workerSession(bytes);
    const feeds = [7, 8, 9].map((seed) => ({ x: runtime.tensor('FP32', seeded(3 * 48 * 192, seed), [1, 3, 48, 192]) }));
    const results = await Promise.all(feeds.map((f) => session.run(f)));
    for (let i = 0; i < feeds.length; i++) expectSameTensors(results[i], await main.run(feeds[i]));
    await main.release();
  });

  it('a view into a larger buffer sends only its own bytes and computes on them', async () => {
    const bytes = mixedModel();
    const { runtime, session } = await workerSession(bytes);
    const big = seeded(64 * 1000, 5);
    const feeds = { x: runtime.tensor('FP32', big.subarray(640, 640 + 128), [2, 64]), ids: mixedFeeds(runtime, 1).ids };
    const plain = { x: runtime.tensor('FP32', big.slice(640, 640 + 128), [2, 64]), ids: feeds.ids };
    expectSameTensors(await session.run(feeds), await session.run(plain));
  });

  it('keeps the event loop responsive while heads run (lag far below the main-thread runtime\'s)', async () => {
    const bytes = heavyModel();
    const x = seeded(256 * 1024, 3);
    const lagWhile = async (run: () => Promise<unknown>) => {
      const histogram = monitorEventLoopDelay({ resolution: 5 });
      histogram.enable();
      const started = performance.now();
      for (let i = 0; i < 4; i++) await run();
      const perRun = (performance.now() - started) / 4;
      histogram.disable();
      return { maxLagMs: histogram.max / 1e6, meanLagMs: histogram.mean / 1e6, p90LagMs: histogram.percentile(90) / 1e6, perRun };
    };
    const mainSession = await new OrtRuntime({ intraOpNumThreads: 1 }).load(bytes, 'heavy');
    const mainFeeds = { x: new ort.Tensor('float32', x, [256, 1024]) };
    await mainSession.run(mainFeeds); // warm-up
    const onMain = await lagWhile(() => mainSession.run(mainFeeds));
    await mainSession.release();
    const { session } = await workerSession(bytes);
    await session.run(mainFeeds);
    const onWorker = await lagWhile(() => session.run(mainFeeds));
    // The measure can fail: on the main thread the loop is blocked for about a whole run.
    expect(onMain.maxLagMs, JSON.stringify({ onMain, onWorker })).toBeGreaterThan(0.5 * onMain.perRun);
    // Mean and p90, not max: on a loaded machine the scheduler alone delays a timer now and then.
    expect(onWorker.meanLagMs, JSON.stringify({ onMain, onWorker })).toBeLessThan(0.25 * onMain.meanLagMs);
    expect(onWorker.p90LagMs, JSON.stringify({ onMain, onWorker })).toBeLessThan(0.25 * onMain.perRun);
  });

  it('a thread that dies fails its run with CARBONCP_WORKER_EXITED, and the next run gets a new thread with the session reloaded', async () => {
    const bytes = mixedModel();
    const { runtime, session } = await workerSession(bytes, { entry: FAULTY });
    const good = mixedFeeds(runtime, 4);
    const expected = await session.run(good);
    const crash = mixedFeeds(runtime, 4);
    (crash.x.data as Float32Array)[0] = -12345;
    const error = await session.run(crash).then(() => undefined, (e: unknown) => e);
    expect(isCarboncpError(error, 'CARBONCP_WORKER_EXITED'), String(error)).toBe(true);
    expect((error as Error).message).toMatch(/exited with code 7/);
    expectSameTensors(await session.run(good), expected);
    expect(runtime.threadsStarted).toBe(2);
  });

  it('a run that does not finish within callTimeoutMs fails with CARBONCP_TIMEOUT at the bound (on the given clock) and the thread is replaced; runs queued behind it then run there', async () => {
    const clock = new ManualClock();
    const { runtime, session } = await workerSession(mixedModel(), { entry: FAULTY, callTimeoutMs: 300, clock });
    const good = mixedFeeds(runtime, 6);
    const expected = await session.run(good);
    const gate = gatedFeeds(runtime, 6);
    const settled: string[] = [];
    const stuck = track(session.run(gate.feeds), settled, 'stuck');
    await gate.onThread();
    const behind = track(session.run(good), settled, 'behind');
    await clock.advance(299);
    expect(settled).toEqual([]);
    await clock.advance(1);
    expect(settled).toEqual(['stuck']); // at the bound, not later (advance lets the rejection run)
    const outcome = await stuck;
    expect(!outcome.ok && isCarboncpError(outcome.error, 'CARBONCP_TIMEOUT'), String(!outcome.ok && outcome.error)).toBe(true);
    expect(!outcome.ok && (outcome.error as Error).message).toMatch(/a run on the head worker thread took more than 300 ms; the thread is replaced/);
    const next = await behind;
    expect(next.ok, String(!next.ok && next.error)).toBe(true);
    expectSameTensors((next as { value: Record<string, ort.Tensor> }).value, expected);
    expectSameTensors(await session.run(good), expected);
    expect(runtime.threadsStarted).toBe(2);
    // The retired thread is not terminated inside its run: once the run returns, it ends itself.
    expect(runtime.threadsAlive).toBe(2);
    gate.open();
    await vi.waitFor(() => expect(runtime.threadsAlive).toBe(1));
  });

  it('a retired thread whose run never returns is terminated after another callTimeoutMs', async () => {
    const clock = new ManualClock();
    const { runtime, session } = await workerSession(mixedModel(), { entry: FAULTY, callTimeoutMs: 300, clock });
    const gate = gatedFeeds(runtime, 7);
    const stuck = session.run(gate.feeds).then(() => undefined, (e: unknown) => e);
    await gate.onThread();
    await clock.advance(300);
    expect(isCarboncpError(await stuck, 'CARBONCP_TIMEOUT')).toBe(true);
    await clock.advance(299);
    expect(runtime.threadsAlive).toBe(1);
    await clock.advance(1);
    await vi.waitFor(() => expect(runtime.threadsAlive).toBe(0));
  });

  it('a load or run that finds maxWaitingCalls waiting fails at once with CARBONCP_BUSY; those waiting run, releases are never refused', async () => {
    const { runtime, session } = await workerSession(mixedModel(), { entry: FAULTY, maxWaitingCalls: 2, callTimeoutMs: 0 });
    const other = await runtime.load(mixedModel(), 'other');
    const good = mixedFeeds(runtime, 5);
    const expected = await session.run(good);
    const gate = gatedFeeds(runtime, 5);
    const settled: string[] = [];
    const held = track(session.run(gate.feeds), settled, 'held');
    await gate.onThread();
    const waiting = [track(session.run(good), settled, 'waiting-1'), track(other.run(good), settled, 'waiting-2')];
    // The thread is held, two calls wait: the next run and load are refused before anything moves.
    const refusals = [track(session.run(good), settled, 'refused-run'), track(runtime.load(mixedModel(), 'third'), settled, 'refused-load')];
    const released = track(other.release(), settled, 'released'); // queues past the bound
    await new Promise((resolve) => setImmediate(resolve)); // one turn of the event loop, no time: a refusal is at once
    try {
      expect(settled).toEqual(['refused-run', 'refused-load']);
    } finally {
      gate.open();
    }
    for (const refused of await Promise.all(refusals)) {
      expect(!refused.ok && isCarboncpError(refused.error, 'CARBONCP_BUSY'), String(!refused.ok && refused.error)).toBe(true);
      expect(!refused.ok && (refused.error as Error).message).toMatch(/has 2 calls waiting \(maxWaitingCalls 2; createClient's headQueueLimit\)/);
    }
    expect((await held).ok).toBe(true);
    for (const call of waiting) {
      const result = await call;
      expect(result.ok, String(!result.ok && result.error)).toBe(true);
      expectSameTensors((result as { value: Record<string, ort.Tensor> }).value, expected);
    }
    expect((await released).ok).toBe(true);
    expect(settled).toEqual(['refused-run', 'refused-load', 'held', 'waiting-1', 'waiting-2', 'released']);
    // Room again once the queue drains; one thread served it all.
    expectSameTensors(await session.run(good), expected);
    expect(runtime.threadsStarted).toBe(1);
  });

  it('a model onnxruntime cannot load is CARBONCP_BAD_MODEL; a bad run rejects and leaves the thread serving', async () => {
    const runtime = new WorkerRuntime();
    opened.push({ runtime, sessions: [] });
    const error = await runtime.load(new Uint8Array([1, 2, 3, 4]), 'garbage').then(() => undefined, (e: unknown) => e);
    expect(isCarboncpError(error, 'CARBONCP_BAD_MODEL'), String(error)).toBe(true);
    const session = await runtime.load(mixedModel(), 'mixed');
    opened[opened.length - 1].sessions.push(session);
    const wrong = { x: runtime.tensor('FP32', seeded(10, 1), [1, 10]), ids: mixedFeeds(runtime, 1).ids };
    await expect(session.run(wrong)).rejects.toThrow();
    await expect(session.run(mixedFeeds(runtime, 1))).resolves.toHaveProperty('y');
    expect(runtime.threadsStarted).toBe(1);
  });

  it('ends its thread when every session is released, and starts one again for a new load', async () => {
    const runtime = new WorkerRuntime();
    const a = await runtime.load(mixedModel(), 'a');
    const b = await runtime.load(mixedModel(), 'b');
    await a.release();
    await expect(b.run(mixedFeeds(runtime, 2))).resolves.toHaveProperty('y');
    await b.release();
    await expect(b.run(mixedFeeds(runtime, 2))).rejects.toThrow(/released/);
    const c = await runtime.load(mixedModel(), 'c');
    await expect(c.run(mixedFeeds(runtime, 2))).resolves.toHaveProperty('m');
    expect(runtime.threadsStarted).toBe(2);
    await c.release();
  });

  it('rejects a bad callTimeoutMs or maxWaitingCalls (CARBONCP_INVALID_ARGUMENT)', () => {
    expect(() => new WorkerRuntime({ callTimeoutMs: -1 })).toThrow(/callTimeoutMs must be a number of milliseconds >= 0/);
    expect(() => new WorkerRuntime({ maxWaitingCalls: 1.5 })).toThrow(/maxWaitingCalls must be a whole number of calls >= 0/);
    expect(() => new WorkerRuntime({ maxWaitingCalls: -1 })).toThrow(/maxWaitingCalls/);
  });
});

describe("createClient({ headThread: 'worker' })", () => {
  const common = { model: mixedModel(), server: 'ws://127.0.0.1:9', inputShapes: { x: [1, 64], ids: [1, 4] }, reconnect: { initialMs: 60_000, maxMs: 60_000 }, keepaliveMs: 0 };

  it('runs the model on the worker thread with the same outputs as the main thread; a bad value is refused', async () => {
    const onWorker = await createClient({ ...common, headThread: 'worker' });
    const onMain = await createClient({ ...common, headThread: 'main' });
    try {
      const feeds = mixedFeeds(new OrtRuntime(), 3, 1);
      const a = await onWorker.infer(feeds, { cut: 'device' });
      const b = await onMain.infer(feeds, { cut: 'device' });
      expectSameTensors(a.outputs, b.outputs);
    } finally {
      await onWorker.close();
      await onMain.close();
    }
    await expect(createClient({ ...common, headThread: 'gpu' as 'main' })).rejects.toThrow(/headThread must be 'main' or 'worker'/);
  });

  it('headTimeoutMs bounds each call on the worker: a head past it fails the request with CARBONCP_TIMEOUT, the thread is replaced and the next request is answered', async () => {
    const clock = expiringClock(4321);
    const client = await createClient({ ...common, headThread: 'worker', headTimeoutMs: 4321, clock });
    try {
      const feeds = mixedFeeds(new OrtRuntime(), 3, 1);
      const first = await client.infer(feeds, { cut: 'device' });
      expect(clock.bounds).toBe(2); // the session's load and the head's run, each bounded by headTimeoutMs
      clock.expire = true;
      const error = await client.infer(feeds, { cut: 'device' }).then(() => undefined, (e: unknown) => e);
      expect(isCarboncpError(error, 'CARBONCP_TIMEOUT'), String(error)).toBe(true);
      expect((error as Error).message).toMatch(/a run on the head worker thread took more than 4321 ms; the thread is replaced/);
      expectSameTensors((await client.infer(feeds, { cut: 'device' })).outputs, first.outputs);
      // The failed run, the retired thread's own bound (it exits after its run, never terminated
      // inside onnxruntime), then the reload on a new thread and the run.
      expect(clock.bounds).toBe(6);
    } finally {
      await client.close();
    }
  });

  it('headQueueLimit bounds the requests waiting for the worker: past it infer() fails at once with CARBONCP_BUSY, the others are answered', async () => {
    const client = await createClient({ ...common, headThread: 'worker', headQueueLimit: 1 });
    try {
      const feeds = mixedFeeds(new OrtRuntime(), 4, 1);
      const expected = (await client.infer(feeds, { cut: 'device' })).outputs; // the session is loaded
      const settled: string[] = [];
      const results = await Promise.all(Array.from({ length: 6 }, (_, i) => track(client.infer(feeds, { cut: 'device' }), settled, String(i))));
      const busy = results.flatMap((r, i) => (r.ok ? [] : [i]));
      // One head on the thread at most, one waiting: the other four (or five) are refused.
      expect(busy.length, JSON.stringify(settled)).toBeGreaterThanOrEqual(4);
      expect(results[0].ok).toBe(true);
      for (const i of busy) {
        const { error } = results[i] as { error: unknown };
        expect(isCarboncpError(error, 'CARBONCP_BUSY'), String(error)).toBe(true);
        expect((error as Error).message).toMatch(/maxWaitingCalls 1; createClient's headQueueLimit/);
      }
      for (const r of results) if (r.ok) expectSameTensors(r.value.outputs, expected);
      // At once: every refusal settled before the first answer came back from the thread.
      expect(settled.slice(0, busy.length).map(Number).sort()).toEqual(busy);
      expectSameTensors((await client.infer(feeds, { cut: 'device' })).outputs, expected);
    } finally {
      await client.close();
    }
  });

  it('the head options are checked by the option resolver, before the model is read', async () => {
    expect(resolveHeadThreadOptions({})).toEqual({ headThread: 'main', headTimeoutMs: DEVICE_DEFAULTS.headTimeoutMs, headQueueLimit: DEVICE_DEFAULTS.headQueueLimit });
    expect(resolveHeadThreadOptions({ headThread: 'worker', headTimeoutMs: 0, headQueueLimit: 0 })).toEqual({ headThread: 'worker', headTimeoutMs: 0, headQueueLimit: 0 });
    const unreadable = { ...common, model: '/nonexistent/model.onnx' };
    const cases: [Parameters<typeof createClient>[0], RegExp][] = [
      [{ ...unreadable, headThread: 'worker', headTimeoutMs: -5 }, /headTimeoutMs must be a number of milliseconds >= 0 \(0: no bound\), got -5/],
      [{ ...unreadable, headThread: 'worker', headTimeoutMs: Number.POSITIVE_INFINITY }, /headTimeoutMs must be/],
      [{ ...unreadable, headThread: 'worker', headQueueLimit: 2.5 }, /headQueueLimit must be a whole number of calls >= 0, got 2.5/],
      [{ ...unreadable, headTimeoutMs: 1000 }, /headTimeoutMs bounds calls on the head worker thread: it needs headThread: 'worker'/],
      [{ ...unreadable, headThread: 'main', headQueueLimit: 8 }, /headQueueLimit bounds calls .* needs headThread: 'worker'/],
    ];
    for (const [options, pattern] of cases) {
      const error = await createClient(options).then(() => undefined, (e: unknown) => e);
      expect(isCarboncpError(error, 'CARBONCP_INVALID_ARGUMENT'), String(error)).toBe(true);
      expect((error as Error).message).toMatch(pattern);
    }
  });
});
