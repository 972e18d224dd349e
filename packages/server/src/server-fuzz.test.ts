/**
 * Fuzzing a real server (default 'worker' executor, ws on 127.0.0.1) with at least 10,000 seeded
 * mutated frames: hellos, pings and infer requests for a small cut, mutated by bit flips, JSON
 * bytes, insertions, deletions and truncation, sent in batches on fresh connections. After each
 * batch a healthy client must still get the right answer; the server must never answer an id
 * twice, never log an unexpected failure, and end with its queue gauges at 0.
 *
 * Counted exactly: the server counts the bytes of every frame it reads
 * (carboncp_received_bytes_total), in order, and ignores what arrives after it decided to close,
 * so the count's growth over a batch says how many of its frames the server processed.
 * Size: 10,000 processed frames in 40 batches of 250 (about 1,100 connections: a frame that spoils
 * a connection ends it, and the rest of its batch goes on a new one), 7-15 s on 2 shared cores.
 */
import { mulberry32, type Partition, type Plan } from '@carboncp/core';
import { MessageType, PROTOCOL_VERSION, encodeFrame, tensorToArray, type Message, type WireTensor } from '@carboncp/protocol';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startServer, type CarboncpServer } from './index.js';
import { CLS_INPUT_SHAPES, CLS_PATH, clsInputs, crossingFor, expectResponse, inferBody, loadClsPartition, maxAbsDiff } from './testing/fixtures.js';
import { TestClient } from './testing/ws-test-client.js';

const FRAMES = 10_000;
const BATCH = 250;

const below = (random: () => number, n: number) => Math.floor(random() * n);
const INTERESTING = [0x00, 0xff, 0x7f, 0x80, 0x22, 0x2c, 0x5b, 0x5d, 0x7b, 0x7d, 0x2d, 0x30, 0x39, 0x65];

/** 1-4 edits; most land past the 16-byte fixed header (a per-request error keeps the connection). */
function mutate(frame: Uint8Array, random: () => number): Uint8Array {
  const bytes = Array.from(frame);
  const edits = 1 + below(random, 4);
  for (let e = 0; e < edits && bytes.length > 0; e++) {
    const inHeader = random() < 0.03;
    const at = inHeader ? below(random, Math.min(16, bytes.length)) : 16 + below(random, Math.max(1, bytes.length - 16));
    if (at >= bytes.length) continue;
    switch (below(random, 5)) {
      case 0:
        bytes[at] ^= 1 << below(random, 8);
        break;
      case 1:
        bytes[at] = INTERESTING[below(random, INTERESTING.length)];
        break;
      case 2:
        bytes.splice(at, 0, below(random, 256));
        break;
      case 3:
        bytes.splice(at, 1);
        break;
      default:
        if (random() < 0.3) bytes.length = at;
    }
  }
  return Uint8Array.from(bytes);
}

let partition: Partition;
let small: Plan;
let sample: WireTensor[];
let server: CarboncpServer;
const logs: string[] = [];

beforeAll(async () => {
  partition = await loadClsPartition();
  // A late cut with an 800-byte crossing tensor: mutated requests that still decode run quickly.
  small = partition.plans.find((p) => p.kind === 'split' && p.crossing.length === 1 && p.crossing[0].source === 'head' && p.crossing[0].bytesPerSample <= 1024)!;
  sample = await crossingFor(partition, small, clsInputs(partition, 5));
  server = await startServer({ models: [CLS_PATH], inputShapes: CLS_INPUT_SHAPES, port: 0, log: (line) => logs.push(line) });
});

afterAll(async () => {
  await server?.close({ drainMs: 5000 });
});

async function receivedBytes(): Promise<number> {
  const text = await (await fetch(`${server.httpUrl}/metrics`)).text();
  return Number(/^carboncp_received_bytes_total (\d+)$/m.exec(text)?.[1]);
}

async function gauges(): Promise<string[]> {
  const text = await (await fetch(`${server.httpUrl}/metrics`)).text();
  return text.split('\n').filter((line) => /^carboncp_(queue_depth|in_flight_requests) /.test(line));
}

describe('server fuzz', () => {
  it(`survives ${FRAMES}+ seeded mutated frames over real sockets; a healthy client is served after every batch`, { timeout: 180_000 }, async () => {
    const random = mulberry32(0x5eed);
    const healthy = await TestClient.ready(server.url);
    const expected = tensorToArray(expectResponse(await healthy.infer(inferBody(partition, small, sample))).body.outputs[0]) as Float32Array;
    const hello = encodeFrame({ type: MessageType.Hello, requestId: 0, body: { protocol_version: PROTOCOL_VERSION, client: 'fuzz', models: [] } });
    const bases = (id: number): Uint8Array[] => [
      encodeFrame({ type: MessageType.InferRequest, requestId: id, body: inferBody(partition, small, sample) }),
      encodeFrame({ type: MessageType.InferRequest, requestId: id, body: inferBody(partition, small, sample) }),
      encodeFrame({ type: MessageType.InferRequest, requestId: id, body: inferBody(partition, small, sample, { id: `r${id}`, parameters: { timeout_ms: 5000 } }) }),
      encodeFrame({ type: MessageType.Ping, requestId: id, body: { t: id } }),
      hello,
    ];
    const pingBytes = encodeFrame({ type: MessageType.Ping, requestId: 0x7fff_ffff, body: { t: 1 } }).byteLength;
    let processed = 0;
    let batches = 0;
    let closedByServer = 0;
    let connections = 0;
    let internal = 0;
    let nextId = 1;
    while (processed < FRAMES) {
      expect(batches).toBeLessThan(100);
      batches++;
      let frames = Array.from({ length: BATCH }, () => {
        const options = bases(nextId++);
        // Mostly infer requests: their refusals keep the connection, so more frames per connection.
        const pick = random();
        return mutate(options[pick < 0.92 ? below(random, 3) : pick < 0.96 ? 3 : 4], random);
      });
      /** Per connection: answers under each request id, and frames sent (and read) under it. */
      const answers = new Map<string, number>();
      const sent = new Map<string, number>();
      let connection = 0;
      // One batch may take several connections: a frame that spoils one ends it, the rest go on a new one.
      while (frames.length > 0) {
        const before = await receivedBytes();
        const fuzz = await TestClient.connect(server.url);
        fuzz.sendRaw(hello);
        for (const frame of frames) fuzz.sendRaw(frame);
        // The pong (request id outside the mutated range) says the server read all of them; a
        // close says it stopped at a frame that spoils the connection.
        const ended = await Promise.race([fuzz.ping(1, 0x7fff_ffff).then(() => 'pong' as const), fuzz.closed.then(() => 'closed' as const)]);
        if (ended === 'closed') closedByServer++;
        fuzz.close();
        await fuzz.closed;
        connection++;
        connections++;
        for (const m of fuzz.received) {
          // A mutated request is refused for what is wrong with it, never with a server fault.
          if (m.type === MessageType.Error) internal += m.body.code === 'CARBONCP_INTERNAL' ? 1 : 0;
          if ((m.type === MessageType.InferResponse || m.type === MessageType.Error) && m.requestId !== 0) {
            const key = `${connection}/${m.requestId}`;
            answers.set(key, (answers.get(key) ?? 0) + 1);
          }
        }
        let remaining = (await receivedBytes()) - before - hello.byteLength - (ended === 'pong' ? pingBytes : 0);
        let taken = 0;
        while (taken < frames.length && remaining >= frames[taken].byteLength) remaining -= frames[taken++].byteLength;
        expect(remaining).toBe(0);
        if (ended === 'pong') expect(taken).toBe(frames.length);
        // A connection closed before any frame (the hello itself refused) cannot happen: it is valid.
        expect(taken).toBeGreaterThan(0);
        for (const frame of frames.slice(0, taken)) {
          if (frame.byteLength < 12) continue;
          const key = `${connection}/${new DataView(frame.buffer, frame.byteOffset).getUint32(8, true)}`;
          sent.set(key, (sent.get(key) ?? 0) + 1);
        }
        processed += taken;
        frames = frames.slice(taken);
      }
      // Every answer decoded (TestClient throws otherwise); never more answers under an id than
      // frames that carried it (each request is answered at most once).
      for (const [key, count] of answers) expect(count, `answers under ${key}`).toBeLessThanOrEqual(sent.get(key) ?? 0);
      // The healthy client is served, correctly.
      const answer = expectResponse(await healthy.infer(inferBody(partition, small, sample)));
      expect(maxAbsDiff(tensorToArray(answer.body.outputs[0]) as Float32Array, expected)).toBeLessThan(1e-6);
    }
    expect(processed).toBeGreaterThanOrEqual(FRAMES);
    expect(internal).toBe(0);
    // Both kinds of ending happened: per-request refusals and connection-level ones.
    expect(closedByServer).toBeGreaterThan(batches);
    expect(closedByServer).toBeLessThan(connections);
    await vi.waitFor(async () => expect(await gauges()).toEqual(['carboncp_queue_depth 0', 'carboncp_in_flight_requests 0']), { timeout: 20_000 });
    expect(logs.filter((line) => /second answer|unexpected failure|ended without an answer/.test(line))).toEqual([]);
    console.log(`server fuzz: ${processed} frames processed in ${batches} batches on ${connections} connections (${closedByServer} closed by the server)`);
  });
});
