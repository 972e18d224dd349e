/**
 * What one client can cost the others, on a real server (ws on 127.0.0.1): connections that
 * never say hello, more connections than max-connections, a client that never reads its
 * answers, request ids reused while in flight, and shutdown while clients are mid-handshake.
 * "While in flight" is a fact here, not a timing: the test tail worker blocks on a gate.
 */
import type { Partition, Plan } from '@carboncp/core';
import { MessageType, type Message, type WireTensor } from '@carboncp/protocol';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from './index.js';
import { CLS_INPUT_SHAPES, CLS_PATH, clsInputs, crossingFor, expectError, expectResponse, inferBody, loadClsPartition, middleSplit } from './testing/fixtures.js';
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
  sample = await crossingFor(partition, split, clsInputs(partition, 41));
});

afterEach(closeAll);

function answersTo(client: TestClient, requestId: number): Message[] {
  return client.received.filter((m) => (m.type === MessageType.InferResponse || m.type === MessageType.Error) && m.requestId === requestId);
}

describe('connection limits', () => {
  it('refuses a connection over max-connections with CARBONCP_BUSY and close 1013; silent ones are closed by the hello timeout', async () => {
    const server = await start({ maxConnections: 2, helloTimeoutMs: 300 });
    const silent = [await TestClient.connect(server.url), await TestClient.connect(server.url)];
    const third = await TestClient.connect(server.url);
    const refusal = expectError(await third.waitFor((m) => m.type === MessageType.Error));
    expect(refusal.code).toBe('CARBONCP_BUSY');
    expect(refusal.message).toMatch(/2 connections open, its limit \(max-connections 2\)/);
    expect((await third.closed).code).toBe(1013);
    expect(logs.some((line) => line.includes('refused: the server has 2 connections open'))).toBe(true);
    // The hello timeout frees both slots; then a client gets in and is served.
    for (const client of silent) {
      expect(expectError(await client.waitFor((m) => m.type === MessageType.Error)).message).toMatch(/no hello within 300 ms/);
      expect((await client.closed).code).toBe(1002);
    }
    let served: TestClient | undefined;
    // The server forgets a connection on its close event, which may come just after ours: retry, bounded.
    for (let attempt = 0; attempt < 50 && !served; attempt++) {
      const client = await TestClient.connect(server.url);
      const first = await client.hello();
      if (first.type === MessageType.HelloAck) served = client;
      else await client.closed;
    }
    expect(served).toBeDefined();
    expectResponse(await served!.infer(inferBody(partition, split, sample)));
  });

  it('drops a client that sends requests but never reads the answers, and keeps serving the others', async () => {
    const server = await start({ maxBufferedBytes: 64 * 1024 });
    const witness = await TestClient.ready(server.url);
    const reader = await TestClient.ready(server.url);
    reader.pause();
    const dropped = () => logs.some((line) => line.includes('the client does not read its answers'));
    // Each ping costs the server a pong; unread, they fill the socket buffers, then ws's backlog.
    for (let batch = 0; batch < 400 && !dropped(); batch++) {
      for (let i = 0; i < 500; i++) reader.send({ type: MessageType.Ping, requestId: 0, body: { t: batch * 500 + i } });
      await witness.ping(batch + 1);
    }
    expect(dropped()).toBe(true);
    expect(logs.find((line) => line.includes('does not read'))).toMatch(/bytes wait to be sent, over max-buffered-bytes 65536; dropping the connection/);
    reader.resume();
    expect((await reader.closed).code).toBe(1006);
    expectResponse(await witness.infer(inferBody(partition, split, sample)));
  });
});

describe('request ids', () => {
  it('refuses a request id already in flight at connection level; the first request is answered once', async () => {
    const gate = new SharedArrayBuffer(8);
    const cells = new Int32Array(gate);
    const server = await start({}, gate);
    const client = await TestClient.ready(server.url);
    client.sendInfer(inferBody(partition, split, marked(sample, GATE_MARKER)), 5);
    await untilBlocked(cells);
    client.sendInfer(inferBody(partition, split, sample), 5);
    const refusal = await client.waitFor((m) => m.type === MessageType.Error);
    expect(refusal.requestId).toBe(0);
    const body = expectError(refusal);
    expect(body.code).toBe('CARBONCP_BAD_FRAME');
    expect(body.request_id).toBeUndefined();
    expect(body.message).toMatch(/request id 5 is already in flight on this connection; this second request was dropped/);
    openGate(cells);
    const firstAnswer = await client.answer(5);
    expect(expectResponse(firstAnswer).body.outputs.length).toBeGreaterThan(0);
    // Another request behind it (FIFO, one worker): had the duplicate been queued, it would be answered first.
    expectResponse(await client.answer(client.sendInfer(inferBody(partition, split, sample), 6)));
    expect(answersTo(client, 5)).toHaveLength(1);
    // Answered, the id is free again.
    client.sendInfer(inferBody(partition, split, sample), 5);
    expectResponse(await client.waitFor((m) => m.requestId === 5 && m.type === MessageType.InferResponse && m !== firstAnswer));
    expect(answersTo(client, 5)).toHaveLength(2);
  });

  it('refuses request id 0 for an infer request, and keeps the connection', async () => {
    const server = await start();
    const client = await TestClient.ready(server.url);
    client.sendInfer(inferBody(partition, split, sample), 0);
    const error = expectError(await client.waitFor((m) => m.type === MessageType.Error));
    expect(error.code).toBe('CARBONCP_BAD_FRAME');
    expect(error.message).toMatch(/needs a non-zero request id/);
    expectResponse(await client.infer(inferBody(partition, split, sample)));
  });
});

describe('shutdown and clients mid-handshake', () => {
  it('refuses a hello that arrives while draining, and closes connections that never said hello', async () => {
    const gate = new SharedArrayBuffer(8);
    const cells = new Int32Array(gate);
    const server = await start({ helloTimeoutMs: 60_000 }, gate);
    const busy = await TestClient.ready(server.url);
    const id = busy.sendInfer(inferBody(partition, split, marked(sample, GATE_MARKER)));
    await untilBlocked(cells);
    const late = await TestClient.connect(server.url);
    const silent = await TestClient.connect(server.url);
    const closing = server.close({ drainMs: 30_000 });
    const refused = expectError(await late.hello());
    expect(refused.code).toBe('CARBONCP_SHUTTING_DOWN');
    expect(refused.message).toMatch(/accepts no new clients/);
    expect((await late.closed).code).toBe(1001);
    openGate(cells);
    expectResponse(await busy.answer(id));
    await closing;
    // Never said hello, and was not left waiting for its hello timeout (60 s).
    expect((await silent.closed).code).toBe(1001);
    expect((await busy.closed).code).toBe(1001);
  });

  it('close() twice: one shutdown, both calls resolve', async () => {
    const server = await start();
    const first = server.close();
    const second = server.close({ drainMs: 1 });
    expect(second).toBe(first);
    await Promise.all([first, second]);
    expect(logs.filter((line) => line === 'carboncp server stopped')).toHaveLength(1);
  });

  it('a port in use: CARBONCP_LISTEN, and nothing of the second server is left listening', async () => {
    const server = await start({ executor: 'main' });
    const error = await startServer({ models: [CLS_PATH], inputShapes: CLS_INPUT_SHAPES, port: server.port, log: () => undefined }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'CARBONCP_LISTEN' });
    expect((error as Error).message).toMatch(new RegExp(`cannot listen on 127.0.0.1:${server.port}: the address is already in use`));
    await server.close();
    await expect(TestClient.connect(server.url)).rejects.toThrow(/ECONNREFUSED/);
  });
});
