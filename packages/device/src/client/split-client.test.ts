// The client over an in-memory fake server, on a ManualClock: time moves only when a test
// advances it, so nothing here sleeps and every duration in telemetry is exact.
import { isCarboncpError } from '@carboncp/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ManualClock } from './clock.js';
import type { CutPolicy } from './cut-policy.js';
import { FakeRuntime, FakeServer, fakeModel, seededFloats, type FakeTensor } from './fake-platform.test-support.js';
import { SplitClient } from './split-client.js';
import type { ClientPlan, RequestTelemetry } from './types.js';

const open: SplitClient<FakeTensor>[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

interface Setup {
  timeoutMs?: number;
  refuse?: 'down' | 'unauthorized';
  runtime?: (clock: ManualClock) => FakeRuntime;
  cutPolicy?: CutPolicy<ClientPlan>;
  defaultCut?: string;
}

async function setup(options: Setup = {}) {
  const clock = new ManualClock(1_000);
  const model = fakeModel();
  const server = new FakeServer(model, clock);
  server.refuse = options.refuse;
  const client = await SplitClient.open({
    model,
    runtime: options.runtime?.(clock) ?? new FakeRuntime(),
    transport: server,
    server: 'ws://fake',
    timeoutMs: options.timeoutMs ?? 2_000,
    reconnect: { initialMs: 5, maxMs: 20, seed: 1 },
    clock,
    ...(options.cutPolicy ? { cutPolicy: options.cutPolicy } : {}),
    ...(options.defaultCut ? { defaultCut: options.defaultCut } : {}),
  });
  open.push(client);
  /** Lets a dropped connection be noticed and the reconnect (at most maxMs later) complete. */
  const reconnect = async () => {
    await vi.waitFor(() => expect(client.state).toBe('connecting'));
    await clock.advance(20);
    await client.ready(1);
  };
  return { clock, model, server, client, reconnect };
}

const input = (seed: number, batch = 2): FakeTensor => ({ type: 'float32', dims: [batch, 4], data: seededFloats(seed, batch * 4) });

function expectClose(actual: FakeTensor, expected: Float32Array, tol = 1e-5) {
  const data = actual.data as Float32Array;
  expect(data.length).toBe(expected.length);
  for (let i = 0; i < data.length; i++) expect(Math.abs(data[i] - expected[i])).toBeLessThanOrEqual(tol);
}

const sumOfParts = (t: RequestTelemetry) => t.waitMs + t.headMs + t.transferMs + t.serverMs + t.tailLocalMs;

describe('SplitClient over a fake server', () => {
  it('runs each kind of plan and reports the path it took', async () => {
    const { model, server, client } = await setup();
    const x = input(11);
    const expected = model.local(x.data as Float32Array);
    for (const [cut, path] of [['split-1', 'split'], ['server', 'remote'], ['device', 'local']] as const) {
      const { outputs, telemetry } = await client.infer({ x }, { cut });
      expectClose(outputs.y, expected);
      expect(telemetry.path).toBe(path);
      expect(telemetry.planId).toBe(cut);
      expect(telemetry.cutChosenBy).toBe('caller');
      expect(telemetry.error).toBeUndefined();
      if (cut === 'device') expect(telemetry.bytesUp).toBe(0);
      else {
        expect(telemetry.bytesUp).toBeGreaterThan(32);
        expect(telemetry.bytesDown).toBeGreaterThan(32);
      }
    }
    expect(server.requests.map((r) => r.plan_id)).toEqual(['split-1', 'server']);
    expect(server.requests[0].plan_digest).toBe(model.plans[1].digest);
  });

  it('telemetry adds up: wait + head + transfer + server (its queue included) + local tail = total, each on its clock', async () => {
    // Each run keeps the device busy 5 ms, 3 of them computing; the server answers 4 ms after the
    // request and says it spent 0.5 ms (0.25 of them queued) of those.
    const { clock, model, server, client } = await setup({ runtime: (c) => new FakeRuntime({ clock: c, busyMs: 5, computeMs: 3 }) });
    server.behaviour = { kind: 'answer', delayMs: 4 };
    const x = input(3);
    // The head's 5 ms then the answer's 4: advance() moves on from where the clock stood when called.
    const pending = client.infer({ x }, { cut: 'split-1' });
    await clock.advance(9);
    const split = (await pending).telemetry;
    expect(split).toMatchObject({ path: 'split', headMs: 3, serverMs: 0.5, queueMs: 0.25, transferMs: 3.5, tailLocalMs: 0, waitMs: 2, totalMs: 9 });
    expect(sumOfParts(split)).toBe(split.totalMs);

    // A timeout: the attempt's 30 ms are transfer (no server time), the local tail runs 5 (3 computing).
    server.behaviour = { kind: 'answer', delayMs: 100 };
    const late = client.infer({ x }, { cut: 'split-1', timeoutMs: 30 });
    await clock.advance(35);
    const fallback = await late;
    expectClose(fallback.outputs.y, model.local(x.data as Float32Array));
    expect(fallback.telemetry).toMatchObject({ path: 'local-fallback', headMs: 3, transferMs: 30, serverMs: 0, queueMs: 0, tailLocalMs: 3, waitMs: 4, totalMs: 40 });
    expect(sumOfParts(fallback.telemetry)).toBe(fallback.telemetry.totalMs);

    const local = (await client.infer({ x }, { cut: 'device' })).telemetry;
    expect(local).toMatchObject({ path: 'local', headMs: 3, waitMs: 2, transferMs: 0, serverMs: 0, totalMs: 5 });
  });

  it('caps a server time longer than the round trip the device saw, so no part is negative', async () => {
    const { clock, server, client } = await setup();
    server.behaviour = { kind: 'answer', delayMs: 0.2 };
    const pending = client.infer({ x: input(4) }, { cut: 'server' });
    await clock.advance(0.2);
    const { telemetry } = await pending;
    // The fake server reports 0.5 ms of its own (0.25 queued) over a 0.2 ms round trip.
    expect(telemetry.serverMs).toBeCloseTo(0.2, 9);
    expect(telemetry.queueMs).toBeCloseTo(0.2, 9);
    expect(telemetry.transferMs).toBe(0);
    expect(telemetry.totalMs).toBeCloseTo(0.2, 9);
    expect(sumOfParts(telemetry)).toBeCloseTo(telemetry.totalMs, 9);
  });

  it('keeps its timers on the injected clock: keepalive while idle, a timeout per request in flight, none after close', async () => {
    const { clock, server, client } = await setup();
    // The ping sent on connecting holds a timeout until its pong (delivered on the clock's next turn).
    await clock.advance(0);
    await vi.waitFor(() => expect(server.pings).toHaveLength(1));
    await vi.waitFor(() => expect(client.networkEstimate()).toBeDefined());
    // Idle and open: only the keepalive timer, unref'd.
    expect([clock.pending(), clock.pending(true)]).toEqual([1, 0]);
    server.behaviour = { kind: 'silent' };
    const pending = client.infer({ x: input(2) }, { cut: 'split-1', timeoutMs: 50 });
    await vi.waitFor(() => expect(server.requests).toHaveLength(1));
    expect([clock.pending(), clock.pending(true)]).toEqual([2, 1]);
    await clock.advance(50);
    expect((await pending).telemetry).toMatchObject({ path: 'local-fallback', error: { code: 'CARBONCP_TIMEOUT' }, transferMs: 50 });
    await client.close();
    expect(clock.pending()).toBe(0);
  });

  it('rejects an unknown cut and bad inputs before anything is sent', async () => {
    const { server, client } = await setup();
    const bad = async (promise: Promise<unknown>, code: string, pattern: RegExp) => {
      const error = await promise.then(() => undefined, (e: unknown) => e);
      expect(isCarboncpError(error, code)).toBe(true);
      expect((error as Error).message).toMatch(pattern);
    };
    await bad(client.infer({ x: input(1) }, { cut: 'split-99' }), 'CARBONCP_UNKNOWN_PLAN', /split-99.*valid cuts: server, split-1, device/);
    await bad(client.infer({ x: { type: 'float32', dims: [2, 5], data: new Float32Array(10) } }), 'CARBONCP_BAD_TENSOR', /has shape \[2, 5\], expected \[N, 4\] \(axis 1 must be 4\)/);
    await bad(client.infer({ x: { type: 'int64', dims: [1, 4], data: new BigInt64Array(4) } }), 'CARBONCP_BAD_TENSOR', /datatype INT64, expected FP32/);
    await bad(client.infer({ x: { type: 'float32', dims: [1, 4], data: new Float32Array(3) } }), 'CARBONCP_BAD_TENSOR', /carries 3 elements, but FP32 \[1, 4\] needs 4/);
    await bad(client.infer({}), 'CARBONCP_BAD_TENSOR', /missing input 'x'/);
    await bad(client.infer({ x: input(1), z: input(2) }), 'CARBONCP_BAD_TENSOR', /unexpected input\(s\) 'z'; the model has 'x'/);
    await bad(client.infer({ x: input(1) }, { compression: 'zip' as never }), 'CARBONCP_INVALID_ARGUMENT', /compression/);
    await bad(client.infer({ x: input(1) }, { timeoutMs: -1 }), 'CARBONCP_INVALID_ARGUMENT', /timeoutMs/);
    expect(server.requests).toHaveLength(0);
  });

  it('refuses bad options at construction, naming the option', async () => {
    const model = fakeModel();
    const base = { model, runtime: new FakeRuntime(), transport: new FakeServer(model), server: 'ws://fake' };
    const refused = async (extra: object, code: string, pattern: RegExp) => {
      const error = await SplitClient.open({ ...base, ...extra }).then((c) => c.close(), (e: unknown) => e);
      expect(isCarboncpError(error, code), String(error)).toBe(true);
      expect((error as Error).message).toMatch(pattern);
    };
    await refused({ defaultCut: 'split-7' }, 'CARBONCP_UNKNOWN_PLAN', /split-7' \(defaultCut\)/);
    await refused({ server: 'http://x' }, 'CARBONCP_INVALID_ARGUMENT', /ws:\/\//);
    await refused({ maxPayload: 1.5 }, 'CARBONCP_INVALID_ARGUMENT', /maxPayload/);
    await refused({ handshakeTimeoutMs: 0 }, 'CARBONCP_INVALID_ARGUMENT', /handshakeTimeoutMs/);
    await refused({ reconnect: { initialMs: 10, maxMs: 5 } }, 'CARBONCP_INVALID_ARGUMENT', /reconnect/);
    await refused({ cutPolicy: {} }, 'CARBONCP_INVALID_ARGUMENT', /cutPolicy/);
  });

  it('falls back to the local tail on a timeout and counts the late response', async () => {
    const { clock, model, server, client } = await setup({ timeoutMs: 30 });
    server.behaviour = { kind: 'answer', delayMs: 120, scale: 100 };
    const x = input(5);
    const pending = client.infer({ x }, { cut: 'split-1' });
    await clock.advance(30);
    const { outputs, telemetry } = await pending;
    expect(telemetry.path).toBe('local-fallback');
    expect(telemetry.error?.code).toBe('CARBONCP_TIMEOUT');
    // The server's (scaled, so distinguishable) late answer must not leak into the result.
    expectClose(outputs.y, model.local(x.data as Float32Array));
    expect(client.stats()).toMatchObject({ requests: 1, localFallback: 1, timeouts: 1, lateResponses: 0 });
    await clock.advance(90);
    expect(client.stats()).toMatchObject({ requests: 1, localFallback: 1, timeouts: 1, lateResponses: 1 });
  });

  it('falls back with the server error code', async () => {
    const { model, server, client } = await setup();
    server.behaviour = { kind: 'error', code: 'CARBONCP_BUSY' };
    const x = input(6);
    const { outputs, telemetry } = await client.infer({ x }, { cut: 'server' });
    expect(telemetry).toMatchObject({ path: 'local-fallback', error: { code: 'CARBONCP_BUSY' } });
    expectClose(outputs.y, model.local(x.data as Float32Array));
  });

  it('does not use a plan whose digest differs on the server, and says so', async () => {
    const { model, server, client, reconnect } = await setup();
    server.ackModels = [{ name: 'fake', digest: model.digest, plans: [{ id: 'split-1', digest: 'f'.repeat(64) }, { id: 'server', digest: model.plans[0].digest }] }];
    server.dropAll();
    await reconnect();
    const x = input(8);
    const split = await client.infer({ x }, { cut: 'split-1' });
    expect(split.telemetry).toMatchObject({ path: 'local-fallback', error: { code: 'CARBONCP_DIGEST_MISMATCH' } });
    expectClose(split.outputs.y, model.local(x.data as Float32Array));
    expect((await client.infer({ x }, { cut: 'server' })).telemetry.path).toBe('remote');
    expect(server.requests.map((r) => r.plan_id)).toEqual(['server']);
    expect(client.remoteStatus('split-1').usable).toBe(false);
  });

  it('resolves every in-flight request exactly once when the connection drops, then reconnects', async () => {
    const { model, server, client, reconnect } = await setup();
    server.behaviour = { kind: 'silent' };
    const inputs = Array.from({ length: 12 }, (_, i) => input(100 + i, 1 + (i % 3)));
    let resolutions = 0;
    const pending = inputs.map((x, i) =>
      client.infer({ x }, { cut: i % 2 ? 'split-1' : 'server' }).then((r) => {
        resolutions += 1;
        return r;
      }),
    );
    await vi.waitFor(() => expect(server.requests).toHaveLength(12));
    server.dropAll();
    const results = await Promise.all(pending);
    expect(resolutions).toBe(12);
    results.forEach((result, i) => {
      expect(result.telemetry).toMatchObject({ path: 'local-fallback', error: { code: 'CARBONCP_CONNECTION_LOST' } });
      expectClose(result.outputs.y, model.local(inputs[i].data as Float32Array));
    });
    server.behaviour = { kind: 'answer' };
    await reconnect();
    const after = await client.infer({ x: inputs[0] }, { cut: 'split-1' });
    expect(after.telemetry.path).toBe('split');
    expect(client.stats()).toMatchObject({ connects: 2, disconnects: 1, localFallback: 12, split: 1 });
  });

  it('works offline when the server is down at start, and connects when it comes up', async () => {
    const { clock, model, server, client } = await setup({ refuse: 'down' });
    expect(client.state).toBe('connecting');
    const x = input(9);
    const offline = await client.infer({ x }, { cut: 'split-1' });
    expect(offline.telemetry).toMatchObject({ path: 'local-fallback', error: { code: 'CARBONCP_NOT_READY' } });
    expectClose(offline.outputs.y, model.local(x.data as Float32Array));
    server.refuse = undefined;
    await clock.advance(20);
    await client.ready(1);
    expect((await client.infer({ x }, { cut: 'split-1' })).telemetry.path).toBe('split');
  });

  it('refuses to start with a token the server rejects', async () => {
    const error = await setup({ refuse: 'unauthorized' }).then(() => undefined, (e: unknown) => e);
    expect(isCarboncpError(error, 'CARBONCP_UNAUTHORIZED')).toBe(true);
  });

  it('compresses FP32 crossing tensors on request', async () => {
    const { model, server, client } = await setup();
    const x = input(12, 4);
    const plain = await client.infer({ x }, { cut: 'split-1' });
    const half = await client.infer({ x }, { cut: 'split-1', compression: 'fp16' });
    const int8 = await client.infer({ x }, { cut: 'split-1', compression: 'int8' });
    expect(server.requests.map((r) => r.inputs[0].datatype)).toEqual(['FP32', 'FP16', 'UINT8']);
    expect(half.telemetry.bytesUp).toBeLessThan(plain.telemetry.bytesUp);
    expect(half.telemetry.compression).toBe('fp16');
    const expected = model.local(x.data as Float32Array);
    // fp16 keeps ~3 significant digits of |h| <= 2; int8 has 256 levels over the range of h.
    expectClose(half.outputs.y, expected, 3 * 2 * 2 ** -10);
    expectClose(int8.outputs.y, expected, 3 * (2 / 255));
  });
});

describe('cut policy', () => {
  it('the default policy keeps defaultCut for no cut and for cut: auto, with the requested compression', async () => {
    const { server, client } = await setup({ defaultCut: 'split-1' });
    const x = input(14);
    const none = await client.infer({ x });
    const auto = await client.infer({ x }, { cut: 'auto', compression: 'fp16' });
    expect(none.telemetry).toMatchObject({ planId: 'split-1', path: 'split', compression: 'none', cutChosenBy: 'policy' });
    expect(auto.telemetry).toMatchObject({ planId: 'split-1', path: 'split', compression: 'fp16', cutChosenBy: 'policy' });
    expect(server.requests.map((r) => r.inputs[0].datatype)).toEqual(['FP32', 'FP16']);
  });

  it('a custom policy chooses plan and compression from the context, and observes every request', async () => {
    const seen: { plan: string; chosenBy: string; total: number }[] = [];
    const contexts: { batch: number; usable: boolean; requested: string | undefined }[] = [];
    const policy: CutPolicy<ClientPlan> = {
      // Big batches go to the server compressed, small ones stay on the device.
      choose(context) {
        const batch = context.inputDims.x[0];
        contexts.push({ batch, usable: context.remoteUsable('split-1'), requested: context.requested.compression });
        const plan = context.plans.find((p) => p.id === (batch >= 3 ? 'split-1' : 'device'))!;
        return { plan, compression: batch >= 3 ? 'int8' : 'none' };
      },
      observe({ candidate, chosenBy, telemetry }) {
        seen.push({ plan: candidate.plan.id, chosenBy, total: telemetry.totalMs });
      },
    };
    const { model, server, client } = await setup({ cutPolicy: policy });
    const big = input(15, 4);
    const small = input(16, 1);
    const a = await client.infer({ x: big }, { cut: 'auto' });
    const b = await client.infer({ x: small });
    const c = await client.infer({ x: small }, { cut: 'server' });
    expect(a.telemetry).toMatchObject({ planId: 'split-1', path: 'split', compression: 'int8', cutChosenBy: 'policy' });
    expectClose(a.outputs.y, model.local(big.data as Float32Array), 3 * (2 / 255));
    expect(b.telemetry).toMatchObject({ planId: 'device', path: 'local', cutChosenBy: 'policy' });
    expect(c.telemetry).toMatchObject({ planId: 'server', path: 'remote', cutChosenBy: 'caller' });
    expect(contexts).toEqual([
      { batch: 4, usable: true, requested: undefined },
      { batch: 1, usable: true, requested: undefined },
    ]);
    expect(seen.map((s) => [s.plan, s.chosenBy])).toEqual([['split-1', 'policy'], ['device', 'policy'], ['server', 'caller']]);
    expect(server.requests.map((r) => [r.plan_id, r.inputs[0].datatype])).toEqual([['split-1', 'UINT8'], ['server', 'FP32']]);
  });

  it('a policy answer that is not one of the client plans, or a bad compression, is refused', async () => {
    const foreign: ClientPlan = { id: 'split-9', kind: 'split', crossing: [], headOutputs: [], tailOutputs: [], digest: 'x' };
    let answer: () => { plan: ClientPlan; compression: string } = () => ({ plan: foreign, compression: 'none' });
    const { client } = await setup({ cutPolicy: { choose: () => answer() as never } });
    const error = await client.infer({ x: input(17) }).then(() => undefined, (e: unknown) => e);
    expect(isCarboncpError(error, 'CARBONCP_UNKNOWN_PLAN')).toBe(true);
    expect((error as Error).message).toMatch(/split-9' \(chosen by the cut policy\)/);
    answer = () => ({ plan: client.plans[0], compression: 'zstd' });
    const error2 = await client.infer({ x: input(17) }).then(() => undefined, (e: unknown) => e);
    expect(isCarboncpError(error2, 'CARBONCP_INVALID_ARGUMENT')).toBe(true);
  });
});
