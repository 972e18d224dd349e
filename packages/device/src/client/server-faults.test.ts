/**
 * A server that answers wrongly, or at the wrong time, and a client closed while it works: the
 * app never gets an output of the wrong name, shape or datatype, and every infer() settles once.
 */
import { MessageType, isCarboncpError, tensorFromArray, type WireTensor } from '@carboncp/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FakeRuntime, FakeServer, fakeModel, seededFloats, type FakeTensor, type OutputTamper } from './fake-platform.test-support.js';
import { SplitClient } from './split-client.js';

const open: SplitClient<FakeTensor>[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

async function setup(refuse?: 'down') {
  const model = fakeModel();
  const server = new FakeServer(model);
  server.refuse = refuse;
  const client = await SplitClient.open({
    model,
    runtime: new FakeRuntime(),
    transport: server,
    server: 'ws://fake',
    timeoutMs: 2_000,
    reconnect: { initialMs: 5, maxMs: 20, seed: 3 },
  });
  open.push(client);
  return { model, server, client };
}

const input = (seed: number, batch = 2): FakeTensor => ({ type: 'float32', dims: [batch, 4], data: seededFloats(seed, batch * 4) });

function expectLocal(actual: FakeTensor, expected: Float32Array): void {
  expect(actual.dims).toEqual([expected.length / 4, 4]);
  const data = actual.data as Float32Array;
  for (let i = 0; i < expected.length; i++) expect(Math.abs(data[i] - expected[i])).toBeLessThanOrEqual(1e-5);
}

const floats = (name: string, shape: number[]) => tensorFromArray(name, new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);

describe('a server whose answer does not fit the plan', () => {
  const cases: [string, OutputTamper, RegExp][] = [
    ['another output name', (o) => o.map((t) => ({ ...t, name: 'z' })), /unexpected output\(s\) 'z'; the plan's tail has 'y'/],
    ['an extra output', (o) => [...o, floats('x', [2, 4])], /unexpected output\(s\) 'x'/],
    ['no outputs', () => [], /missing output 'y' \(FP32 \[N, 4\]\)/],
    ['a wrong fixed dimension', (o) => o.map((t) => floats(t.name, [2, 5])), /output 'y' has shape \[2, 5\], expected \[N, 4\] \(axis 1 must be 4\)/],
    ['a wrong rank', (o) => o.map((t) => floats(t.name, [8])), /output 'y' has shape \[8\] \(rank 1\), expected \[N, 4\] \(rank 2\)/],
    ['another batch size than the inputs', (o) => o.map((t) => floats(t.name, [3, 4])), /axis 0 must be 2: N is 2 in input 'x'/],
    [
      'another datatype',
      (o) => o.map((t: WireTensor) => tensorFromArray(t.name, new Int32Array(8), [2, 4], 'INT32')),
      /output 'y' has datatype INT32, expected FP32/,
    ],
  ];
  for (const [what, tamper, message] of cases) {
    it(`${what}: the tail runs locally, with CARBONCP_BAD_TENSOR in telemetry`, async () => {
      const { model, server, client } = await setup();
      server.behaviour = { kind: 'answer', tamper };
      const x = input(21);
      const { outputs, telemetry } = await client.infer({ x }, { cut: 'split-1' });
      expect(Object.keys(outputs)).toEqual(['y']);
      expectLocal(outputs.y, model.local(x.data as Float32Array));
      expect(telemetry.path).toBe('local-fallback');
      expect(telemetry.error?.code).toBe('CARBONCP_BAD_TENSOR');
      expect(telemetry.error?.message).toMatch(message);
      expect(server.requests).toHaveLength(1);
    });
  }

  it('a correct answer still passes the checks', async () => {
    const { model, server, client } = await setup();
    server.behaviour = { kind: 'answer', tamper: (o) => o };
    const x = input(22, 3);
    const { outputs, telemetry } = await client.infer({ x }, { cut: 'split-1' });
    expect(telemetry.path).toBe('split');
    expectLocal(outputs.y, model.local(x.data as Float32Array));
  });
});

describe('answers nobody asked for', () => {
  it('a response for an unknown request id is dropped; the client keeps working', async () => {
    const { model, server, client } = await setup();
    server.broadcast({
      type: MessageType.InferResponse,
      requestId: 424242,
      body: { model_name: 'fake', plan_id: 'split-1', outputs: [floats('y', [2, 4])], parameters: { server_ms: 1, queue_ms: 0, batch_size: 1, execution_provider: 'cpu' } },
    });
    server.broadcast({ type: MessageType.Error, requestId: 424243, body: { code: 'CARBONCP_INTERNAL', message: 'stray', request_id: 424243 } });
    const x = input(23);
    const { outputs, telemetry } = await client.infer({ x }, { cut: 'split-1' });
    expect(telemetry.path).toBe('split');
    expectLocal(outputs.y, model.local(x.data as Float32Array));
    expect(client.stats().lateResponses).toBe(0);
    expect(client.state).toBe('open');
  });
});

describe('closing the client', () => {
  it('requests in flight each resolve once, locally, with CARBONCP_SHUTTING_DOWN; infer() afterwards rejects', async () => {
    const { model, server, client } = await setup();
    server.behaviour = { kind: 'silent' };
    const xs = [input(31), input(32), input(33)];
    const settled: string[] = [];
    const runs = xs.map((x, i) =>
      client.infer({ x }, { cut: 'split-1' }).then(
        (result) => {
          settled.push(`ok ${i}`);
          return result;
        },
        (error: unknown) => {
          settled.push(`error ${i}`);
          throw error;
        },
      ),
    );
    await vi.waitFor(() => expect(server.requests).toHaveLength(3));
    const first = client.close();
    const second = client.close();
    expect(second).toBe(first);
    await first;
    const results = await Promise.all(runs);
    results.forEach(({ outputs, telemetry }, i) => {
      expectLocal(outputs.y, model.local(xs[i].data as Float32Array));
      expect(telemetry.path).toBe('local-fallback');
      expect(telemetry.error?.code).toBe('CARBONCP_SHUTTING_DOWN');
    });
    expect(settled.sort()).toEqual(['ok 0', 'ok 1', 'ok 2']);
    const after = await client.infer({ x: xs[0] }).then(() => undefined, (e: unknown) => e);
    expect(isCarboncpError(after, 'CARBONCP_SHUTTING_DOWN')).toBe(true);
  });

  it('a ready() still waiting rejects with CARBONCP_SHUTTING_DOWN when the client closes, not when its timeout ends', async () => {
    const { client } = await setup('down');
    const waiting = client.ready(600_000).then(() => undefined, (e: unknown) => e);
    await client.close();
    const error = await waiting;
    expect(isCarboncpError(error, 'CARBONCP_SHUTTING_DOWN')).toBe(true);
    expect(isCarboncpError(await client.ready(10).then(() => undefined, (e: unknown) => e), 'CARBONCP_SHUTTING_DOWN')).toBe(true);
  });
});
