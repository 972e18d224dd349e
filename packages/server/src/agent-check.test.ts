/**
 * The HAProxy agent: its weight by hand-checkable cases, and a real server answering on its agent
 * port: `ready W%` from its queue, `drain` from the moment close() starts until the queue is done.
 * "Queued" is a fact, not a timing: the test tail worker blocks on a gate (see worker-gate.ts).
 */
import { connect } from 'node:net';
import type { Partition, Plan } from '@carboncp/core';
import type { WireTensor } from '@carboncp/protocol';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_REFERENCE_WAIT_MS, agentReply, agentWeight, medianOf } from './agent-check.js';
import { resolveOptions } from './options.js';
import { clsInputs, crossingFor, expectResponse, inferBody, loadClsPartition, middleSplit } from './testing/fixtures.js';
import { GATE_MARKER } from './testing/worker-markers.js';
import { gatedServers, marked, openGate, untilBlocked } from './testing/worker-gate.js';
import { TestClient } from './testing/ws-test-client.js';

describe('agentWeight', () => {
  it('is 100 x R / (R + backlog / concurrency x tail ms), R = 100 ms, rounded, at least 1', () => {
    expect(AGENT_REFERENCE_WAIT_MS).toBe(100);
    expect(agentWeight({ queueDepth: 0, inFlight: 0, concurrency: 1, tailMs: 40 })).toBe(100);
    // One request of 100 ms ahead: a new one waits R, half the weight.
    expect(agentWeight({ queueDepth: 0, inFlight: 1, concurrency: 1, tailMs: 100 })).toBe(50);
    // 2 waiting + 1 running of 100 ms: 300 ms -> 100 x 100 / 400 = 25.
    expect(agentWeight({ queueDepth: 2, inFlight: 1, concurrency: 1, tailMs: 100 })).toBe(25);
    // Two worker threads halve the wait: 4 x 50 / 2 = 100 ms -> 50.
    expect(agentWeight({ queueDepth: 3, inFlight: 1, concurrency: 2, tailMs: 50 })).toBe(50);
    // Fast tails weigh a queue lightly: 9 x 2 ms = 18 ms -> 10000 / 118 = 84.7 -> 85.
    expect(agentWeight({ queueDepth: 8, inFlight: 1, concurrency: 1, tailMs: 2 })).toBe(85);
    // No tail run yet: each request counts R. 1 -> 50, 3 -> 25.
    expect(agentWeight({ queueDepth: 1, inFlight: 0, concurrency: 1, tailMs: undefined })).toBe(50);
    expect(agentWeight({ queueDepth: 3, inFlight: 0, concurrency: 1, tailMs: undefined })).toBe(25);
    // A very long queue floors at 1 (0 would act as a drain).
    expect(agentWeight({ queueDepth: 10_000, inFlight: 1, concurrency: 1, tailMs: 500 })).toBe(1);
  });

  it('replies ready W% or drain, one line', () => {
    const load = { queueDepth: 2, inFlight: 1, concurrency: 1, tailMs: 100 };
    expect(agentReply(load, false)).toBe('ready 25%\n');
    expect(agentReply(load, true)).toBe('drain\n');
  });

  it('medianOf pools values: odd, even, none', () => {
    expect(medianOf([5, 1, 3])).toBe(3);
    expect(medianOf([4, 1, 3, 2])).toBe(2.5);
    expect(medianOf([])).toBeUndefined();
  });
});

describe('agentPort option', () => {
  it('takes 0..65535, not the server port', () => {
    expect(resolveOptions({ models: [], agentPort: 0 }).agentPort).toBe(0);
    expect(resolveOptions({ models: [] }).agentPort).toBeUndefined();
    for (const value of [-1, 65536, 1.5]) {
      expect(() => resolveOptions({ models: [], agentPort: value })).toThrow(expect.objectContaining({ code: 'CARBONCP_INVALID_ARGUMENT', message: expect.stringMatching(/agentPort must be an integer/) }));
    }
    expect(() => resolveOptions({ models: [], port: 9000, agentPort: 9000 })).toThrow(/agentPort must differ from port \(9000\)/);
  });
});

/** One agent check as HAProxy makes it: connect, read until the server closes. */
function askAgent(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const socket = connect(port, '127.0.0.1');
    socket.setEncoding('utf8');
    socket.setTimeout(5000, () => socket.destroy(new Error('agent did not answer within 5 s')));
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
}

describe('a server with an agent port', () => {
  let partition: Partition;
  let split: Plan;
  let sample: WireTensor[];
  const { logs, start, closeAll } = gatedServers();
  beforeAll(async () => {
    partition = await loadClsPartition();
    split = middleSplit(partition);
    sample = await crossingFor(partition, split, clsInputs(partition, 17));
  });
  afterEach(closeAll);

  it('reports its queue as weight, then drain while close() finishes the queue', async () => {
    const gate = new SharedArrayBuffer(8);
    const cells = new Int32Array(gate);
    const server = await start({ agentPort: 0 }, gate);
    const agentPort = server.agentPort as number;
    expect(agentPort).toBeGreaterThan(0);
    expect(logs.some((line) => line.includes(`agent-check listening on 127.0.0.1:${agentPort}`))).toBe(true);
    expect(await askAgent(agentPort)).toBe('ready 100%\n');

    const client = await TestClient.ready(server.url);
    const held = client.sendInfer(inferBody(partition, split, marked(sample, GATE_MARKER)));
    await untilBlocked(cells);
    const queued = [client.sendInfer(inferBody(partition, split, sample)), client.sendInfer(inferBody(partition, split, sample))];
    await client.ping();
    // 1 running + 2 waiting, no finished tail yet: 3 x R -> 25%.
    expect(await askAgent(agentPort)).toBe('ready 25%\n');

    const closing = server.close({ drainMs: 30_000 });
    expect(await askAgent(agentPort)).toBe('drain\n');
    openGate(cells);
    for (const id of [held, ...queued]) expectResponse(await client.answer(id));
    await closing;
    await expect(askAgent(agentPort)).rejects.toThrow(/ECONNREFUSED/);
  });
});
