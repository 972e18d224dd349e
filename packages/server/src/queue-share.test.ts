/**
 * Each connection's share of the request queue (maxQueuePerConnection), on a real server (ws on
 * 127.0.0.1): a client that floods gets CARBONCP_BUSY past its share while the others are still
 * queued and answered, and the global maxQueue bound still holds. "Queued" is a fact here, not a
 * timing: the test tail worker blocks on a gate, and a pong comes back only after the server has
 * read every frame sent before its ping.
 */
import type { Partition, Plan } from '@carboncp/core';
import { MessageType, type Message, type WireTensor } from '@carboncp/protocol';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defaultMaxQueuePerConnection, resolveOptions } from './options.js';
import { clsInputs, crossingFor, expectError, expectResponse, inferBody, loadClsPartition, middleSplit } from './testing/fixtures.js';
import { GATE_MARKER } from './testing/worker-markers.js';
import { gatedServers, marked, openGate, untilBlocked } from './testing/worker-gate.js';
import { TestClient } from './testing/ws-test-client.js';

let partition: Partition;
let split: Plan;
let sample: WireTensor[];
const { logs, start, closeAll } = gatedServers();

beforeAll(async () => {
  partition = await loadClsPartition();
  split = middleSplit(partition);
  sample = await crossingFor(partition, split, clsInputs(partition, 43));
});

afterEach(closeAll);

function sendMany(client: TestClient, count: number): number[] {
  return Array.from({ length: count }, () => client.sendInfer(inferBody(partition, split, sample)));
}

function errorsIn(client: TestClient): Message[] {
  return client.received.filter((m) => m.type === MessageType.Error);
}

/** A worker blocked on the gate, holding one request of `client` in a running batch. */
async function holdWorker(client: TestClient, cells: Int32Array): Promise<number> {
  const id = client.sendInfer(inferBody(partition, split, marked(sample, GATE_MARKER)));
  await untilBlocked(cells);
  return id;
}

describe('per-connection share of the queue', () => {
  it('refuses a flooding client past its share while another client is queued and answered; answers free the share', async () => {
    const gate = new SharedArrayBuffer(8);
    const cells = new Int32Array(gate);
    const server = await start({ maxQueue: 8, maxQueuePerConnection: 3 }, gate);
    const flood = await TestClient.ready(server.url);
    const other = await TestClient.ready(server.url);
    const held = await holdWorker(flood, cells);
    // One running + two waiting make the flooding client's share of 3; the other five are refused.
    const floodIds = sendMany(flood, 7);
    const refused = await Promise.all(floodIds.slice(2).map((id) => flood.answer(id)));
    for (const message of refused) {
      const error = expectError(message);
      expect(error.code).toBe('CARBONCP_BUSY');
      expect(error.message).toMatch(/this connection has 3 requests queued or running, its limit \(max-queue-per-connection 3\)/);
    }
    // The other client fills its own share, behind the flooding client's requests (5 of 8 waiting).
    const otherIds = sendMany(other, 3);
    expect((await other.ping()).type).toBe(MessageType.Pong);
    expect(errorsIn(other)).toHaveLength(0);
    openGate(cells);
    for (const id of otherIds) expectResponse(await other.answer(id));
    for (const id of [held, ...floodIds.slice(0, 2)]) expectResponse(await flood.answer(id));
    // Every answer released its count: the flooding client's full share is accepted again.
    const again = sendMany(flood, 3);
    for (const id of again) expectResponse(await flood.answer(id));
    expect(errorsIn(flood)).toHaveLength(5);
    expect(errorsIn(other)).toHaveLength(0);
    expect(logs.some((line) => line.includes('max-queue 8 (3 per connection)'))).toBe(true);
  });

  it('keeps the global max-queue bound across connections', async () => {
    const gate = new SharedArrayBuffer(8);
    const cells = new Int32Array(gate);
    const server = await start({ maxQueue: 2, maxQueuePerConnection: 1 }, gate);
    const clients = [await TestClient.ready(server.url), await TestClient.ready(server.url), await TestClient.ready(server.url), await TestClient.ready(server.url)];
    const [holder, first, second, late] = clients;
    const held = await holdWorker(holder, cells);
    const firstId = first.sendInfer(inferBody(partition, split, sample));
    await first.ping();
    const secondId = second.sendInfer(inferBody(partition, split, sample));
    await second.ping();
    // Two are waiting (max-queue 2): the fourth client is within its own share but the queue is full.
    const lateError = expectError(await late.answer(late.sendInfer(inferBody(partition, split, sample))));
    expect(lateError.code).toBe('CARBONCP_BUSY');
    expect(lateError.message).toMatch(/2 requests are queued \(max-queue 2\)/);
    openGate(cells);
    expectResponse(await holder.answer(held));
    expectResponse(await first.answer(firstId));
    expectResponse(await second.answer(secondId));
    expectResponse(await late.infer(inferBody(partition, split, sample)));
  });
});

describe('maxQueuePerConnection option', () => {
  const base = { models: [] as string[] };

  it('defaults to a quarter of maxQueue, rounded up, at least 1', () => {
    expect(resolveOptions(base).maxQueuePerConnection).toBe(64);
    expect(resolveOptions({ ...base, maxQueue: 10 }).maxQueuePerConnection).toBe(3);
    expect(resolveOptions({ ...base, maxQueue: 1 }).maxQueuePerConnection).toBe(1);
    expect(defaultMaxQueuePerConnection(3)).toBe(1);
    expect(resolveOptions({ ...base, maxQueue: 10, maxQueuePerConnection: 10 }).maxQueuePerConnection).toBe(10);
  });

  it('refuses a value that is not a positive integer or exceeds maxQueue', () => {
    for (const value of [0, -1, 1.5, Number.NaN]) {
      expect(() => resolveOptions({ ...base, maxQueuePerConnection: value })).toThrow(
        expect.objectContaining({ code: 'CARBONCP_INVALID_ARGUMENT', message: expect.stringMatching(/maxQueuePerConnection must be a positive integer/) }),
      );
    }
    expect(() => resolveOptions({ ...base, maxQueue: 4, maxQueuePerConnection: 5 })).toThrow(
      expect.objectContaining({ code: 'CARBONCP_INVALID_ARGUMENT', message: 'maxQueuePerConnection (5) must be at most maxQueue (4): it is one connection\'s share of the queue' }),
    );
  });
});
