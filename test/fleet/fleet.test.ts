// A fleet of three `carboncp serve` processes behind HAProxy (`carboncp fleet`, the built CLI), on
// 127.0.0.1, serving ResNet-18 (the 'server' cut sends the 602,112-byte input). In order, on one
// fleet: devices spread over the servers; a server with a long queue gets fewer new connections
// than its peers; a server killed mid-load costs no request (each resolves once) and its devices
// come back through HAProxy to the others, at a split cut; a SIGTERMed server drains (agent says
// drain, no new connections, its queue is finished) and exits.
import { seededInputs } from '@carboncp/core/node';
import { createClient, type CarboncpClient, type InferResult } from '@carboncp/device/node';
import { ensureModel, getZooModel } from '@carboncp/models';
import type * as ort from 'onnxruntime-node';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maxAbsDiffAll, referenceRunner } from '../e2e/split-harness.js';
import { alive, askAgent, connectionsOf, haproxyServers, metricsOf, pollUntil, skipWithoutHaproxy, startFleet, type RunningFleet } from './fleet-harness.js';

const MODEL = 'resnet18';
const TOL = 1e-3;
const DEVICES = 6;
const skip = skipWithoutHaproxy('fleet tests');
const { inputShapes } = getZooModel(MODEL);
let file = '';
let fleet: RunningFleet | undefined;
let reference: Awaited<ReturnType<typeof referenceRunner>> | undefined;
const devices: CarboncpClient[] = [];
const cleanup: (() => Promise<unknown>)[] = [];

const shapeFlags = () => Object.entries(inputShapes).flatMap(([name, shape]) => ['--input-shape', `${name}=${shape.join(',')}`]);

beforeAll(async () => {
  if (skip) return;
  file = await ensureModel(MODEL);
  reference = await referenceRunner(file);
  // No restarts: the killed server stays down, so the others must carry its devices (restarts:
  // fleet-supervision.test.ts).
  fleet = await startFleet(['--servers', '3', '--port', '0', '--models', file, ...shapeFlags(), '--ep', 'cpu', '--drain-ms', '30000', '--restart', 'off']);
}, 400_000);

afterAll(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => undefined);
  for (const device of devices) await device.close().catch(() => undefined);
  await fleet?.stop();
  await reference?.release();
}, 120_000);

async function device(url: string): Promise<CarboncpClient> {
  const client = await createClient({ model: file, server: url, inputShapes, reconnect: { initialMs: 20, maxMs: 200, seed: 11 }, timeoutMs: 120_000 });
  cleanup.push(() => client.close());
  return client;
}

const middle = (client: CarboncpClient) => {
  const splits = client.plans.filter((p) => p.kind === 'split');
  return splits[Math.floor(splits.length / 2)].id;
};

async function counts(f: RunningFleet): Promise<number[]> {
  return Promise.all(f.servers.map((s) => connectionsOf(s)));
}

/** Opens a bare WebSocket (no hello: it counts as a connection for HAProxy and the server). */
function bareSocket(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: 5000 });
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
  });
}

async function checked(results: InferResult<ort.Tensor>[], inputs: Record<string, ort.Tensor>[]): Promise<void> {
  for (const [i, { outputs }] of results.entries()) {
    expect(maxAbsDiffAll(outputs, await (reference as NonNullable<typeof reference>).run(inputs[i]))).toBeLessThanOrEqual(TOL);
  }
}

describe.skipIf(skip)('a fleet of three servers behind HAProxy', () => {
  it('spreads devices over the servers and answers them correctly', async () => {
    const f = fleet as RunningFleet;
    expect(f.servers).toHaveLength(3);
    const before = await counts(f);
    for (let i = 0; i < DEVICES; i++) {
      const client = await device(f.url);
      await client.ready(30_000);
      devices.push(client);
    }
    expect(await pollUntil(async () => (await counts(f)).reduce((a, b) => a + b, 0) === DEVICES, 10_000)).toBe(true);
    const after = await counts(f);
    expect(before).toEqual([0, 0, 0]);
    // Least connections over equal weights: two devices each.
    expect(after).toEqual([2, 2, 2]);
    const inputs = devices.map((_, i) => seededInputs(devices[0].partition.model, inputShapes, 100 + i));
    const results = await Promise.all(devices.map((d, i) => d.infer(inputs[i], { cut: i % 2 ? 'server' : middle(d) })));
    for (const [i, r] of results.entries()) expect(r.telemetry.path).toBe(i % 2 ? 'remote' : 'split');
    await checked(results, inputs);
  });

  it('sends fewer new connections to a server whose queue is long', async () => {
    const f = fleet as RunningFleet;
    const [busy] = f.servers;
    // A device of its own, straight to the first server, fills its queue with whole-model tails.
    const flooder = await device(busy.url);
    await flooder.ready(30_000);
    const feeds = seededInputs(flooder.partition.model, inputShapes, 7);
    // 64: one connection's default share of the queue (a quarter of max-queue 256).
    const flood = Array.from({ length: 64 }, () => flooder.infer(feeds, { cut: 'server' }));
    const weighed = await pollUntil(async () => {
      const weights = await haproxyServers(f.adminSocket);
      return (weights.get(busy.name)?.weight ?? 100) <= 50;
    }, 20_000);
    expect(weighed, 'HAProxy to read the busy server\'s low weight from its agent').toBe(true);
    const before = await counts(f);
    const sockets: WebSocket[] = [];
    cleanup.push(async () => sockets.forEach((s) => s.terminate()));
    for (let i = 0; i < 6; i++) sockets.push(await bareSocket(f.url));
    const after = await counts(f);
    const added = after.map((n, i) => n - before[i]);
    expect(added.reduce((a, b) => a + b, 0)).toBe(6);
    expect(added[0]).toBeLessThan(added[1]);
    expect(added[0]).toBeLessThan(added[2]);
    for (const socket of sockets) socket.terminate();
    const done = await Promise.all(flood);
    for (const r of done) expect(r.telemetry.path, r.telemetry.error?.message).toBe('remote');
    await flooder.close();
  });

  it('loses no request when a server is killed mid-load; its devices come back through HAProxy to the others, split', async () => {
    const f = fleet as RunningFleet;
    const victim = f.servers[1];
    // The bare sockets of the test before are gone once every server counts only the devices.
    expect(await pollUntil(async () => (await counts(f)).reduce((a, b) => a + b, 0) === DEVICES, 10_000)).toBe(true);
    const onVictim = await connectionsOf(victim);
    expect(onVictim).toBeGreaterThan(0);
    const inputs = devices.flatMap((_, d) => Array.from({ length: 4 }, (_, k) => seededInputs(devices[0].partition.model, inputShapes, 300 + d * 4 + k)));
    const resolutions = new Array<number>(inputs.length).fill(0);
    const pending = inputs.map((feeds, i) => {
      const client = devices[Math.floor(i / 4)];
      return client.infer(feeds, { cut: i % 2 ? 'server' : middle(client) }).then((r) => ((resolutions[i] += 1), r));
    });
    await Promise.race(pending);
    process.kill(victim.pid, 'SIGKILL');
    const results = await Promise.all(pending);
    expect(resolutions).toEqual(inputs.map(() => 1));
    for (const r of results) expect(['split', 'remote', 'local-fallback']).toContain(r.telemetry.path);
    await checked(results, inputs);
    expect(await pollUntil(() => !alive(victim.pid), 10_000)).toBe(true);

    // Every device reconnects, through HAProxy, to the two servers left.
    const others = [f.servers[0], f.servers[2]];
    expect(await pollUntil(async () => (await Promise.all(others.map(connectionsOf))).reduce((a, b) => a + b, 0) === DEVICES, 30_000)).toBe(true);
    const again = devices.map((_, i) => seededInputs(devices[0].partition.model, inputShapes, 600 + i));
    const back = await Promise.all(devices.map((d, i) => d.infer(again[i], { cut: middle(d) })));
    for (const r of back) expect(r.telemetry.path).toBe('split');
    await checked(back, again);
    const disconnects = devices.reduce((sum, d) => sum + d.stats().disconnects, 0);
    expect(disconnects).toBe(onVictim);
  });

  it('drains a SIGTERMed server: agent says drain, no new connections, its queue finished, then it exits', async () => {
    const f = fleet as RunningFleet;
    const [draining, , peer] = f.servers;
    const direct = await device(draining.url);
    await direct.ready(30_000);
    const feeds = seededInputs(direct.partition.model, inputShapes, 9);
    // Every request must have reached the server before it is told to stop (later ones are refused
    // with CARBONCP_SHUTTING_DOWN, rightly): queued + running + answered = all of them.
    const answeredBefore = await metricsOf(draining, ['carboncp_requests_total']);
    const queued = Array.from({ length: 64 }, () => direct.infer(feeds, { cut: 'server' }));
    const atServer = async () => (await metricsOf(draining, ['carboncp_queue_depth', 'carboncp_in_flight_requests', 'carboncp_requests_total'])) - answeredBefore;
    expect(await pollUntil(async () => (await atServer()) >= queued.length, 60_000)).toBe(true);
    process.kill(draining.pid, 'SIGTERM');
    expect(await pollUntil(async () => (await askAgent(draining.agentPort)) === 'drain\n', 10_000)).toBe(true);
    const before = await connectionsOf(peer);
    const sockets: WebSocket[] = [];
    cleanup.push(async () => sockets.forEach((s) => s.terminate()));
    for (let i = 0; i < 3; i++) sockets.push(await bareSocket(f.url));
    expect(await connectionsOf(peer)).toBe(before + 3);
    const results = await Promise.all(queued);
    // Finished by the draining server itself, not by a fallback.
    for (const r of results) expect(r.telemetry.path, r.telemetry.error?.message).toBe('remote');
    expect(await pollUntil(() => !alive(draining.pid), 60_000)).toBe(true);
    expect(f.log.some((line) => line.includes(`[${draining.name}] carboncp server stopped`))).toBe(true);
    for (const socket of sockets) socket.terminate();
  });
});
