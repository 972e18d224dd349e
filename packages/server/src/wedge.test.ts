/**
 * The defects behind "the default server wedges" (issue 6), each pinned on a real server (ws on
 * 127.0.0.1), for both executors where they apply:
 * - requests read in one socket chunk (ws hands out views into that chunk) and a broken frame
 *   between them: every valid request answered once, with the right outputs;
 * - a broken frame reusing an id in flight: one answer under that id;
 * - a tail run that never comes back (a gated worker, a reply lost on the way): its requests get
 *   CARBONCP_TIMEOUT within tail-timeout-ms, the worker is replaced, the queue gauges go back
 *   to 0 and the next request is served;
 * - readiness 503 while no worker can run.
 * Ordering is by events (gates, answers, vi.waitFor), never by sleeps.
 */
import type { Partition, Plan } from '@carboncp/core';
import { MessageType, encodeFrame, tensorToArray, type Message, type WireTensor } from '@carboncp/protocol';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { clsInputs, crossingFor, expectResponse, inferBody, loadClsPartition, maxAbsDiff, middleSplit } from './testing/fixtures.js';
import { EXIT_MARKER, GATE_MARKER, SWALLOW_MARKER } from './testing/worker-markers.js';
import { gatedServers, marked, openGate, untilBlocked } from './testing/worker-gate.js';
import { TestClient } from './testing/ws-test-client.js';

let partition: Partition;
let split: Plan;
const samples: WireTensor[][] = [];
const expected: Float32Array[] = [];
/** A late cut whose crossing tensor is small (800 bytes): ten requests fit in one socket read. */
let small: Plan;
const smallSamples: WireTensor[][] = [];
const smallExpected: Float32Array[] = [];
const { logs, start, closeAll } = gatedServers();

beforeAll(async () => {
  partition = await loadClsPartition();
  split = middleSplit(partition);
  small = partition.plans.find((p) => p.kind === 'split' && p.crossing.length === 1 && p.crossing[0].source === 'head' && p.crossing[0].bytesPerSample <= 1024)!;
  for (let seed = 0; seed < 6; seed++) {
    const inputs = clsInputs(partition, 900 + seed);
    samples.push(await crossingFor(partition, split, inputs));
    smallSamples.push(await crossingFor(partition, small, inputs));
  }
  // Reference outputs from the main-thread executor, one request at a time.
  const reference = await start({ executor: 'main' });
  const client = await TestClient.ready(reference.url);
  const first = (answer: Message) => tensorToArray(expectResponse(answer).body.outputs[0]) as Float32Array;
  for (const inputs of samples) expected.push(first(await client.infer(inferBody(partition, split, inputs))));
  for (const inputs of smallSamples) smallExpected.push(first(await client.infer(inferBody(partition, small, inputs))));
  await closeAll();
});

afterEach(closeAll);

function inferFrame(requestId: number, inputs: WireTensor[], plan = split): Uint8Array {
  return encodeFrame({ type: MessageType.InferRequest, requestId, body: inferBody(partition, plan, inputs) });
}

/** An infer frame with an intact fixed header whose JSON header is `{"broken`. */
function brokenFrame(requestId: number): Uint8Array {
  const json = new TextEncoder().encode('{"broken');
  const frame = new Uint8Array(16 + 8 * Math.ceil(json.length / 8)).fill(0x20);
  frame.set(inferFrame(requestId, samples[0]).subarray(0, 16));
  new DataView(frame.buffer).setUint32(12, frame.length - 16, true);
  frame.set(json, 16);
  return frame;
}

function answersTo(client: TestClient, requestId: number): Message[] {
  return client.received.filter((m) => (m.type === MessageType.InferResponse || m.type === MessageType.Error) && m.requestId === requestId);
}

async function gauges(httpUrl: string): Promise<{ queue: number; inFlight: number }> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  const read = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1]);
  return { queue: read('carboncp_queue_depth'), inFlight: read('carboncp_in_flight_requests') };
}

describe.each(['worker', 'main'] as const)('executor %s', (executor) => {
  it.each(['small', 'middle'] as const)('answers every request of a burst read in one socket chunk, a broken frame among them, with the right outputs (%s cut)', async (which) => {
    const [plan, inputs, outputs] = which === 'small' ? [small, smallSamples, smallExpected] : [split, samples, expected];
    const server = await start({ executor });
    const client = await TestClient.ready(server.url);
    // Ten valid requests and a broken one in one write: ws hands the server views into one chunk.
    const frames: Uint8Array[] = [];
    const ids: number[] = [];
    for (let i = 0; i < 10; i++) {
      if (i === 3) frames.push(brokenFrame(500));
      ids.push(100 + i);
      frames.push(inferFrame(100 + i, inputs[i % inputs.length], plan));
    }
    client.sendBurst(frames);
    for (const [i, id] of ids.entries()) {
      const answer = expectResponse(await client.answer(id));
      expect(maxAbsDiff(tensorToArray(answer.body.outputs[0]) as Float32Array, outputs[i % inputs.length])).toBeLessThan(1e-5);
    }
    const broken = await client.answer(500);
    expect(broken.type === MessageType.Error && broken.body.code).toBe('CARBONCP_BAD_FRAME');
    // Once each, and nothing left counted.
    await client.ping();
    for (const id of [...ids, 500]) expect(answersTo(client, id).length).toBe(1);
    expect(await gauges(server.httpUrl)).toEqual({ queue: 0, inFlight: 0 });
  });

  it('answers an id once when a broken frame reuses it while it is in flight', async () => {
    const server = await start({ executor });
    const client = await TestClient.ready(server.url);
    client.sendBurst([inferFrame(78, samples[0]), brokenFrame(78), inferFrame(78, samples[1]), inferFrame(79, samples[2])]);
    expectResponse(await client.answer(79));
    await client.ping();
    const under78 = answersTo(client, 78);
    expect(under78.length).toBe(1);
    expect(maxAbsDiff(tensorToArray(expectResponse(under78[0]).body.outputs[0]) as Float32Array, expected[0])).toBeLessThan(1e-5);
    // The broken frame and the second valid 78 are refused at connection level (request id 0).
    const connectionLevel = client.received.filter((m) => m.type === MessageType.Error && m.requestId === 0);
    expect(connectionLevel.map((m) => m.type === MessageType.Error && m.body.message)).toEqual([
      expect.stringMatching(/undecodable frame reused request id 78, which is in flight/),
      expect.stringMatching(/request id 78 is already in flight/),
    ]);
    // The id is free again once answered.
    expectResponse(await client.infer(inferBody(partition, split, samples[3])));
  });
});

describe('the bound on a tail run (worker executor)', () => {
  it('a run that does not finish within tail-timeout-ms fails with CARBONCP_TIMEOUT; a new worker serves the next request', async () => {
    const gate = new SharedArrayBuffer(16);
    const cells = new Int32Array(gate);
    const server = await start({ tailTimeoutMs: 2500 }, gate);
    const client = await TestClient.ready(server.url);
    // Opens the session first, so that the bound below times the run, not the open.
    expectResponse(await client.infer(inferBody(partition, split, samples[0])));
    const stuck = client.sendInfer(inferBody(partition, split, marked(samples[0], GATE_MARKER)));
    await untilBlocked(cells);
    const queued = client.sendInfer(inferBody(partition, split, samples[1]));
    const error = await client.answer(stuck);
    expect(error.type === MessageType.Error && error.body).toMatchObject({
      code: 'CARBONCP_TIMEOUT',
      message: expect.stringMatching(/did not finish within 2500 ms \(tail-timeout-ms\)/),
    });
    // Served by the replacement while the old worker is still blocked.
    expect(maxAbsDiff(tensorToArray(expectResponse(await client.answer(queued)).body.outputs[0]) as Float32Array, expected[1])).toBeLessThan(1e-5);
    expect(logs.some((line) => /CARBONCP_TIMEOUT: tail worker 0 did not finish a run of .* within 2500 ms \(tail-timeout-ms\); replacing it/.test(line))).toBe(true);
    expect(await gauges(server.httpUrl)).toEqual({ queue: 0, inFlight: 0 });
    // The retired worker, let go, ends itself: the close below terminates nothing.
    openGate(cells);
    await server.close({ drainMs: 2000 });
    expect(logs.some((line) => /terminating it/.test(line))).toBe(false);
  });

  it('a retired worker whose run never returns is terminated after another tail-timeout-ms', async () => {
    const gate = new SharedArrayBuffer(16);
    const cells = new Int32Array(gate);
    const server = await start({ tailTimeoutMs: 2000 }, gate);
    const client = await TestClient.ready(server.url);
    expectResponse(await client.infer(inferBody(partition, split, samples[0])));
    const stuck = client.sendInfer(inferBody(partition, split, marked(samples[0], GATE_MARKER)));
    await untilBlocked(cells);
    expect((await client.answer(stuck)).type).toBe(MessageType.Error);
    // The gate stays shut: the old worker never finishes its run.
    await vi.waitFor(() => expect(logs.some((line) => /tail worker 0 \(retired\) still runs after another 2000 ms; terminating it/.test(line))).toBe(true), {
      timeout: 10_000,
    });
    expectResponse(await client.infer(inferBody(partition, split, samples[1])));
    expect(await gauges(server.httpUrl)).toEqual({ queue: 0, inFlight: 0 });
  });

  it('a reply that never comes back fails its request with CARBONCP_TIMEOUT instead of stalling the queue', async () => {
    const server = await start({ tailTimeoutMs: 1000 });
    const client = await TestClient.ready(server.url);
    const lost = client.sendInfer(inferBody(partition, split, marked(samples[0], SWALLOW_MARKER)));
    const next = [2, 3, 4].map((i) => client.sendInfer(inferBody(partition, split, samples[i])));
    const error = await client.answer(lost);
    expect(error.type === MessageType.Error && error.body.code).toBe('CARBONCP_TIMEOUT');
    for (const [k, id] of next.entries()) {
      expect(maxAbsDiff(tensorToArray(expectResponse(await client.answer(id)).body.outputs[0]) as Float32Array, expected[k + 2])).toBeLessThan(1e-5);
    }
    expect(await gauges(server.httpUrl)).toEqual({ queue: 0, inFlight: 0 });
  });

  it('a worker that hangs while starting fails its request with CARBONCP_TIMEOUT and is replaced', async () => {
    const gate = new SharedArrayBuffer(16);
    const cells = new Int32Array(gate);
    const server = await start({ workers: 1, tailTimeoutMs: 2000 }, gate);
    const client = await TestClient.ready(server.url);
    expectResponse(await client.infer(inferBody(partition, split, samples[0])));
    // The replacement of the worker crashed below hangs before it is ready.
    Atomics.store(cells, 3, 2);
    expect((await client.infer(inferBody(partition, split, marked(samples[0], EXIT_MARKER)))).type).toBe(MessageType.Error);
    const waiting = await client.infer(inferBody(partition, split, samples[1]));
    expect(waiting.type === MessageType.Error && waiting.body).toMatchObject({ code: 'CARBONCP_TIMEOUT' });
    expect((await fetch(`${server.httpUrl}/v2/health/ready`)).status).toBe(503);
    // Workers may start again: the replacement of the hung one serves.
    Atomics.store(cells, 3, 0);
    Atomics.notify(cells, 3);
    const served = expectResponse(await client.infer(inferBody(partition, split, samples[2])));
    expect(maxAbsDiff(tensorToArray(served.body.outputs[0]) as Float32Array, expected[2])).toBeLessThan(1e-5);
    await vi.waitFor(async () => expect((await fetch(`${server.httpUrl}/v2/health/ready`)).status).toBe(200), { timeout: 10_000 });
    expect(await gauges(server.httpUrl)).toEqual({ queue: 0, inFlight: 0 });
    // The retired worker, once started, heard its 'close' and ended itself: nothing to terminate.
    await server.close({ drainMs: 2000 });
    expect(logs.some((line) => /terminating it/.test(line))).toBe(false);
  });

  it('/v2/health/ready says 503 while no worker can run a tail', async () => {
    const gate = new SharedArrayBuffer(16);
    const cells = new Int32Array(gate);
    const server = await start({ workers: 1 }, gate);
    expect((await fetch(`${server.httpUrl}/v2/health/ready`)).status).toBe(200);
    // From now on a worker fails to start: the crashed worker's slot stays empty.
    Atomics.store(cells, 3, 1);
    const client = await TestClient.ready(server.url);
    const crashed = await client.infer(inferBody(partition, split, marked(samples[0], EXIT_MARKER)));
    expect(crashed.type === MessageType.Error && crashed.body.code).toBe('CARBONCP_INTERNAL');
    await vi.waitFor(() => expect(logs.some((line) => /tail worker slot 0 stays empty/.test(line))).toBe(true), { timeout: 20_000 });
    const ready = await fetch(`${server.httpUrl}/v2/health/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ ready: false });
    // Still alive, and requests are answered (with an error), not left waiting.
    expect((await fetch(`${server.httpUrl}/v2/health/live`)).status).toBe(200);
    const refused = await client.infer(inferBody(partition, split, samples[1]));
    expect(refused.type === MessageType.Error && refused.body.message).toMatch(/no tail worker is running/);
    expect(await gauges(server.httpUrl)).toEqual({ queue: 0, inFlight: 0 });
  });
});
