/**
 * Who may use a server and for how long, on a real server (ws on 127.0.0.1): the HTTP side of
 * the token, connections that never send a request, and the per-address connection cap.
 */
import type { Partition, Plan } from '@carboncp/core';
import { MessageType, type WireTensor } from '@carboncp/protocol';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { clsInputs, crossingFor, expectError, expectResponse, inferBody, loadClsPartition, middleSplit } from './testing/fixtures.js';
import { gatedServers } from './testing/worker-gate.js';
import { TestClient } from './testing/ws-test-client.js';

const TOKEN = 'access-token-51c2';
let partition: Partition;
let split: Plan;
let sample: WireTensor[];
const { logs, start, closeAll } = gatedServers();

beforeAll(async () => {
  partition = await loadClsPartition();
  split = middleSplit(partition);
  sample = await crossingFor(partition, split, clsInputs(partition, 77));
});

afterEach(closeAll);

async function status(url: string, token?: string): Promise<number> {
  const response = await fetch(url, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });
  await response.arrayBuffer();
  return response.status;
}

describe('the token on the HTTP side', () => {
  it('health checks stay open; metadata, /v2 and /metrics need the token as a Bearer header', async () => {
    const server = await start({ token: TOKEN });
    const base = server.httpUrl;
    const model = `${base}/v2/models/${encodeURIComponent(partition.model.name)}`;
    expect(await status(`${base}/v2/health/live`)).toBe(200);
    expect(await status(`${base}/v2/health/ready`)).toBe(200);
    for (const path of [model, `${model}/ready`, `${base}/v2`, `${base}/metrics`, `${base}/nowhere`]) {
      expect(await status(path)).toBe(401);
      expect(await status(path, 'wrong')).toBe(401);
    }
    const refused = await fetch(model);
    expect(refused.headers.get('www-authenticate')).toBe('Bearer realm="carboncp"');
    expect(((await refused.json()) as { error: string }).error).toMatch(/needs the server's token as 'authorization: Bearer TOKEN'/);
    expect(await status(model, TOKEN)).toBe(200);
    expect(await status(`${base}/metrics`, TOKEN)).toBe(200);
    expect(await status(`${base}/nowhere`, TOKEN)).toBe(404);
  });

  it('openMetrics leaves /metrics open for a scraper, and only /metrics', async () => {
    const server = await start({ token: TOKEN, openMetrics: true });
    expect(await status(`${server.httpUrl}/metrics`)).toBe(200);
    expect(await status(`${server.httpUrl}/v2/models/${encodeURIComponent(partition.model.name)}`)).toBe(401);
  });

  it('without a token everything is open', async () => {
    const server = await start({});
    expect(await status(`${server.httpUrl}/metrics`)).toBe(200);
    expect(await status(`${server.httpUrl}/v2/models/${encodeURIComponent(partition.model.name)}`)).toBe(200);
  });
});

describe('idle connections', () => {
  it('closes a connection that sends no infer request within idleTimeoutMs, pings or not; one that sends a request stays', async () => {
    const server = await start({ idleTimeoutMs: 400 });
    const idle = await TestClient.ready(server.url);
    const pinging = await TestClient.ready(server.url);
    const working = await TestClient.ready(server.url);
    expectResponse(await working.infer(inferBody(partition, split, sample)));
    await pinging.ping(1);
    expect((await idle.closed).code).toBe(1000);
    expect((await idle.closed).reason).toMatch(/idle: no infer request within 400 ms of connecting/);
    expect((await pinging.closed).code).toBe(1000);
    // The connection that asked for something is still served, past the idle bound.
    expectResponse(await working.infer(inferBody(partition, split, sample)));
    expect(working.readyState).toBe(1);
    expect(logs.some((line) => /no infer request within 400 ms of connecting \(idle-timeout-ms\); closing it/.test(line))).toBe(true);
  });

  it('idleTimeoutMs 0 keeps idle connections', async () => {
    const server = await start({ idleTimeoutMs: 0, helloTimeoutMs: 200 });
    const idle = await TestClient.ready(server.url);
    // A later connection's hello timeout fires after 200 ms: by then an idle bound would have too.
    const silent = await TestClient.connect(server.url);
    expect((await silent.closed).code).toBe(1002);
    await idle.ping(1);
    expect(idle.readyState).toBe(1);
  });
});

describe('connections per address', () => {
  it('refuses a connection over maxConnectionsPerAddress with CARBONCP_BUSY and close 1013; a closed one frees its place', async () => {
    const server = await start({ maxConnectionsPerAddress: 2 });
    const first = await TestClient.ready(server.url);
    const second = await TestClient.ready(server.url);
    const third = await TestClient.connect(server.url);
    const refusal = expectError(await third.waitFor((m) => m.type === MessageType.Error));
    expect(refusal.code).toBe('CARBONCP_BUSY');
    expect(refusal.message).toMatch(/2 connections open from 127\.0\.0\.1, its limit per address \(max-connections-per-address 2\)/);
    expect((await third.closed).code).toBe(1013);
    second.close();
    await second.closed;
    // The server forgets the connection on its own close event, which may come just after ours.
    let again: TestClient | undefined;
    for (let attempt = 0; attempt < 50 && !again; attempt++) {
      const client = await TestClient.connect(server.url);
      const answer = await client.hello();
      if (answer.type === MessageType.HelloAck) again = client;
      else await client.closed;
    }
    expect(again).toBeDefined();
    expectResponse(await again!.infer(inferBody(partition, split, sample)));
    expectResponse(await first.infer(inferBody(partition, split, sample)));
  });
});
