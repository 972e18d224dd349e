import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { distributionOf, ModelBuilder, profileFromJson, sha256Hex, type ModelProfile } from '@carboncp/core';
import { startServer, type CarboncpServer } from './index.js';
import { LatencyWindow } from './latency-window.js';
import { freshen, LIVE_MIN_RUNS, TailProfiles } from './tail-profiles.js';
import type { ServedModel } from './model-registry.js';

const TOKEN = 'profile-token-9f1';
const digest = (c: string) => c.repeat(64);

function fakeProfile(tails: Record<string, number>): ModelProfile {
  return {
    schemaVersion: 1,
    modelDigest: digest('a'),
    modelName: 'm',
    measuredAt: '2026-11-30T23:00:00.000Z',
    device: { cpu: 'cpu', cores: 2, os: 'linux', onnxruntime: '1.30.0', executionProvider: 'cpu', threads: null, graphOptimizationLevel: 'basic' },
    inputShapes: {},
    method: { kind: 'node-profiling', runs: 3, warmup: 0, fullModel: distributionOf([10]), attributedMs: 9, unattributedMs: 0, overheadMs: 1, fixedOverheadMs: 0.1, fusedPositions: 0 },
    plans: Object.entries(tails).map(([id, ms], k) => ({ id, digest: digest('b'), bytesPerSample: 4, k, head: distributionOf([1]), tail: distributionOf([ms * 0.9, ms, ms * 1.1]) })),
  };
}

describe('freshening a tail profile from live runs', () => {
  it('serves live tails where a plan has enough runs and scales the others by the median drift', () => {
    const window = new LatencyWindow(16);
    for (let i = 0; i < LIVE_MIN_RUNS; i++) window.record('m/split-1', 4 + (i % 2)); // median 4 vs profiled 2: x2
    for (let i = 0; i < LIVE_MIN_RUNS; i++) window.record('m/split-2', 12); // 12 vs 4: x3
    for (let i = 0; i < LIVE_MIN_RUNS - 1; i++) window.record('m/split-3', 100); // too few runs
    window.record('other/server', 1);
    const served = freshen(fakeProfile({ server: 10, 'split-1': 2, 'split-2': 4, 'split-3': 1 }), 'm', window);
    expect(served.live.plansWithLiveData).toBe(2);
    expect(served.live.drift).toBeCloseTo(2.5, 12);
    const plan = (id: string) => served.plans.find((p) => p.id === id)!;
    expect(plan('split-1').tailSource).toBe('live');
    expect(plan('split-1').tail).toEqual(distributionOf([4, 5, 4, 5, 4]));
    expect(plan('split-2').tail.medianMs).toBe(12);
    expect(plan('split-3').tailSource).toBe('profiled-scaled');
    expect(plan('split-3').tail.medianMs).toBeCloseTo(2.5, 12);
    expect(plan('server').tail.p90Ms).toBeCloseTo(10.8 * 2.5, 9); // p90 of [9, 10, 11] interpolated
    // The head is the profile's: live runs are tails only.
    expect(plan('split-3').head).toEqual(distributionOf([1]));
  });

  it('leaves the profile as measured without live runs', () => {
    const served = freshen(fakeProfile({ server: 10, 'split-1': 2 }), 'm', new LatencyWindow());
    expect(served.live).toMatchObject({ drift: 1, plansWithLiveData: 0 });
    expect(served.plans.map((p) => p.tailSource)).toEqual(['profiled', 'profiled']);
    expect(served.plans[1].tail).toEqual(fakeProfile({ server: 10, 'split-1': 2 }).plans[1].tail);
  });

  it('measures a model once however many ask at once, and again after a failure', async () => {
    let calls = 0;
    let fail = true;
    const profiles = new TailProfiles({
      mode: 'lazy',
      runs: 3,
      executionProvider: () => 'cpu',
      latency: new LatencyWindow(),
      log: () => undefined,
      measure: async () => {
        calls++;
        if (fail) throw new Error('no shapes');
        return fakeProfile({ server: 1 });
      },
    });
    const model = { name: 'm' } as ServedModel;
    await expect(profiles.served(model)).rejects.toThrow('no shapes');
    fail = false;
    const [a, b] = await Promise.all([profiles.served(model), profiles.served(model)]);
    expect(a.modelDigest).toBe(b.modelDigest);
    await profiles.served(model);
    expect(calls).toBe(2);
  });
});

describe('GET /v2/models/{name}/profile', () => {
  let dir: string;
  let bytes: Uint8Array;
  const servers: CarboncpServer[] = [];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'carboncp-profile-route-'));
    bytes = new ModelBuilder({ name: 'chain' })
      .input('x', 'FP32', ['N', 32])
      .initializer('w', 'FP32', [32, 32], { seed: 5, std: 0.3 })
      .node('MatMul', ['x', 'w'], ['a'])
      .node('Tanh', ['a'], ['b'])
      .node('Relu', ['b'], ['y'])
      .output('y', 'FP32', ['N', 32])
      .toBytes();
    await writeFile(join(dir, 'chain.onnx'), bytes);
  });
  afterAll(async () => {
    for (const server of servers) await server.close({ drainMs: 0 });
    await rm(dir, { recursive: true, force: true });
  });
  const start = async (profile: 'off' | 'lazy') => {
    const server = await startServer({ models: [join(dir, 'chain.onnx')], port: 0, executor: 'main', executionProviders: ['cpu'], token: TOKEN, profile, profileRuns: 3, log: () => undefined });
    servers.push(server);
    return server;
  };

  it('serves the tail profile of the served plans, behind the token like the other metadata', async () => {
    const server = await start('lazy');
    const url = `${server.httpUrl}/v2/models/chain/profile`;
    const refused = await fetch(url);
    expect(refused.status).toBe(401);
    await refused.arrayBuffer();
    const response = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    const profile = profileFromJson(body, { modelDigest: await sha256Hex(bytes), executionProvider: 'cpu' });
    expect(profile.plans.map((p) => p.id)).toEqual(['server', 'split-1', 'split-2']);
    expect(profile.plans.every((p) => p.tail.n === 3)).toBe(true);
    expect(body.live).toMatchObject({ drift: 1, plansWithLiveData: 0 });
    const missing = await fetch(`${server.httpUrl}/v2/models/nope/profile`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(missing.status).toBe(404);
    await missing.arrayBuffer();
  });

  it('answers 404 with profiling off', async () => {
    const server = await start('off');
    const response = await fetch(`${server.httpUrl}/v2/models/chain/profile`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(response.status).toBe(404);
    expect(((await response.json()) as { error: string }).error).toMatch(/does not profile its tails/);
  });
});
