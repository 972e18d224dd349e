/**
 * Several server sites over the fake platform (one FakeServer per site): the site chosen per
 * request by carbon, water and latency, the equity cap, and failover. Worked by hand: the
 * 'server' candidate's tail takes 2 ms on a 200 W server, 0.4 J per request, so a site at I
 * g/kWh adds 0.4 I / 3.6e6 g and, at W L/kWh, 0.4 W / 3.6e6 L; everything else of the request
 * (its bytes, the device's part) is the same at every site.
 *
 *   site  I (g/kWh)  water (L/kWh)  carbon at the site x 3.6e6 (g)  RTT (ms, measured)
 *   A     400        0              160                             5
 *   B     100        1               40                             20
 *   C      20        10               8                             80
 */
import { CarbonAwareDecision, candidatesForSites, type DecisionCandidate } from '@carboncp/calibrator';
import { parseSiteTrace } from '@carboncp/carbon';
import { loadDeviceProfile } from '@carboncp/carbon/node';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CalibratedPolicy } from './calibrated-policy.js';
import { ManualClock } from './clock.js';
import { FakeRuntime, FakeServer, fakeModel, seededFloats, type FakeTensor } from './fake-platform.test-support.js';
import type { SiteOptions } from './site-options.js';
import { SplitClient, type SplitClientOptions } from './split-client.js';
import type { ClientPlan, Transport } from './types.js';

const profile = await loadDeviceProfile('raspberry-pi-4');
const dist = (medianMs: number) => ({ medianMs, p10Ms: medianMs, p90Ms: medianMs, meanMs: medianMs, sdMs: 0, n: 10 });
const zero = dist(0);
const KWH = 3.6e6;

/** 'server' (tail 2 ms on the server) and 'device' (600 ms here: never worth it at these grids). */
function candidates(sites: string[]): DecisionCandidate[] {
  const base: DecisionCandidate[] = [
    { id: 'server/none', planId: 'server', kind: 'server', compression: 'none', bytesUp: 200, bytesDown: 100, head: zero, tail: dist(2), tailSource: 'server-profile', maxAbsError: 0 },
    { id: 'device/none', planId: 'device', kind: 'device', compression: 'none', bytesUp: 0, bytesDown: 0, head: dist(600), tail: zero, tailSource: 'device-profile', maxAbsError: 0 },
  ];
  return candidatesForSites(base, sites.map((site) => ({ site })));
}

const SITES: SiteOptions[] = [
  { name: 'A', url: 'ws://a', carbon: 400, wue: 0 },
  { name: 'B', url: 'ws://b', carbon: 100, wue: 1 },
  { name: 'C', url: 'ws://c', carbon: 20, wue: 4, gridWaterLPerKwh: 6 },
];

/** One FakeServer per site, behind one transport that routes by URL; `rttMs`: each site's pong delay from its first ping (the one sent on connecting). */
function sitesOf(model: ReturnType<typeof fakeModel>, clock?: ManualClock, rttMs: Record<string, number> = {}) {
  const servers: Record<string, FakeServer> = Object.fromEntries(SITES.map((s) => [s.name, new FakeServer(model, clock)]));
  for (const [name, ms] of Object.entries(rttMs)) servers[name]!.pongDelayMs = () => ms;
  const byUrl = Object.fromEntries(SITES.map((s) => [s.url, servers[s.name]!]));
  const transport: Transport = { connect: (url, handlers) => byUrl[url]!.connect(url, handlers) };
  return { servers, transport };
}

const open: SplitClient<FakeTensor>[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

async function setup(
  extra: Partial<SplitClientOptions<FakeTensor, ClientPlan>> = {},
  policyExtra: Partial<ConstructorParameters<typeof CalibratedPolicy>[0]> = {},
  clock?: ManualClock,
  rttMs?: Record<string, number>,
) {
  const model = fakeModel();
  const { servers, transport } = sitesOf(model, clock, rttMs);
  const decider = new CarbonAwareDecision(candidates(['A', 'B', 'C']), { exploration: false });
  const policy = new CalibratedPolicy({ decider, deviceProfile: profile, radio: 'wifi', fallbackIntensityGPerKwh: 300, serverPowerW: 200, defaults: { mode: 'mean', sloMs: 10_000 }, ...policyExtra });
  const client = await SplitClient.open({
    model,
    runtime: new FakeRuntime(),
    transport,
    servers: SITES,
    timeoutMs: 2_000,
    reconnect: { initialMs: 5, maxMs: 20, seed: 1 },
    cutPolicy: policy,
    ...(clock ? { clock } : {}),
    ...extra,
  });
  open.push(client);
  return { model, servers, client, policy };
}
const x = (seed = 5): FakeTensor => ({ type: 'float32', dims: [1, 4], data: seededFloats(seed, 4) });
const expectOutput = (y: FakeTensor, input: FakeTensor, model: ReturnType<typeof fakeModel>) => {
  const want = model.local(input.data as Float32Array);
  (y.data as Float32Array).forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 5));
};

describe('choosing a site', () => {
  it('by carbon: the cleanest grid (C), 0.4 J x the intensity apart, and telemetry names the site', async () => {
    const { client, policy, model } = await setup();
    const input = x();
    const { outputs, telemetry } = await client.infer({ x: input }, { cut: 'auto' });
    expectOutput(outputs.y!, input, model);
    expect(telemetry.decision!.candidateId).toBe('server/none@C');
    expect(telemetry.site).toMatchObject({ name: 'C', url: 'ws://c', intensityGPerKwh: 20, waterLPerKwh: 10 });
    const byId = Object.fromEntries(policy.lastDecision()!.assessments.map((a) => [a.candidate.id, a.objectiveValue * KWH]));
    expect(byId['server/none@A']! - byId['server/none@C']!).toBeCloseTo(160 - 8, 6);
    expect(byId['server/none@B']! - byId['server/none@C']!).toBeCloseTo(40 - 8, 6);
  });

  it('by water: at 10 g per litre C costs 8 + 40 and B 40 + 4 (x 3.6e6): B', async () => {
    const { client, policy } = await setup({}, { defaults: { mode: 'mean', sloMs: 10_000, waterWeight: 10 } });
    const { telemetry } = await client.infer({ x: x() }, { cut: 'auto' });
    expect(telemetry.site!.name).toBe('B');
    const byId = Object.fromEntries(policy.lastDecision()!.assessments.map((a) => [a.candidate.id, a.objectiveValue * KWH]));
    expect(byId['server/none@C']! - byId['server/none@B']!).toBeCloseTo(48 - 44, 6);
    expect(byId['server/none@A']! - byId['server/none@B']!).toBeCloseTo(160 - 44, 6);
  });

  it("by latency: each site's RTT is measured on its own connection; an SLO of 50 ms rules C (80 ms) out", async () => {
    const clock = new ManualClock();
    const rtt: Record<string, number> = { A: 5, B: 20, C: 80 };
    const { client, policy } = await setup({ keepaliveMs: 100, keepaliveTimeoutMs: 1_000 }, {}, clock, rtt);
    await clock.advance(100); // every opening pong back; every site idle for keepaliveMs: one more ping each
    await clock.advance(100); // every pong back
    const states = Object.fromEntries(client.sites().map((s) => [s.name, s]));
    for (const name of ['A', 'B', 'C']) expect(states[name]!.rttMs).toBeCloseTo(rtt[name]!, 6);

    const free = await client.infer({ x: x() }, { cut: 'auto' });
    expect(free.telemetry.site!.name).toBe('C');
    const latency = Object.fromEntries(policy.lastDecision()!.assessments.map((a) => [a.candidate.id, a.latency.point]));
    expect(latency['server/none@C']! - latency['server/none@B']!).toBeCloseTo(60, 6);
    expect(latency['server/none@B']! - latency['server/none@A']!).toBeCloseTo(15, 6);

    const bound = await client.infer({ x: x() }, { cut: 'auto', sloMs: 50 });
    expect(bound.telemetry.site!.name).toBe('B');
    expect(bound.telemetry.decision!.bound).toBe('slo');
  });
});

describe('a fixed cut at a named site', () => {
  it('runs there (site in InferOptions); an unknown site, a site with cut auto, or on a one-server client is refused', async () => {
    const { client, servers, model } = await setup();
    const input = x(21);
    const { outputs, telemetry } = await client.infer({ x: input }, { cut: 'server', site: 'A' });
    expectOutput(outputs.y!, input, model);
    expect(telemetry).toMatchObject({ cutChosenBy: 'caller', path: 'remote', site: { name: 'A' } });
    expect(servers.A!.requests).toHaveLength(1);
    expect(servers.C!.requests).toHaveLength(0);
    await expect(client.infer({ x: input }, { cut: 'server', site: 'Z' })).rejects.toMatchObject({ code: 'CARBONCP_INVALID_ARGUMENT', message: expect.stringMatching(/no site 'Z' \(sites: A, B, C\)/) });
    await expect(client.infer({ x: input }, { cut: 'auto', site: 'A' })).rejects.toMatchObject({ code: 'CARBONCP_INVALID_ARGUMENT', message: expect.stringMatching(/site goes with a fixed cut/) });
    const single = fakeModel();
    const one = await SplitClient.open({ model: single, runtime: new FakeRuntime(), transport: new FakeServer(single), server: 'ws://fake' });
    open.push(one);
    await expect(one.infer({ x: input }, { cut: 'server', site: 'A' })).rejects.toMatchObject({ code: 'CARBONCP_INVALID_ARGUMENT', message: expect.stringMatching(/this client has one server/) });
  });
});

describe('equity', () => {
  /** n requests in turn; each server reports 0.4 J per request, so the footprint at a site is 0.4 I / 3.6e6 g. */
  async function stream(n: number, equity?: { maxShare: number }) {
    const { client, servers } = await setup(equity ? { equity } : {});
    for (const server of Object.values(servers)) server.behaviour = { kind: 'answer', parameters: { energy_j: 0.4 } };
    const sites: string[] = [];
    for (let i = 0; i < n; i += 1) sites.push((await client.infer({ x: x(i) }, { cut: 'auto' })).telemetry.site!.name);
    return { sites, states: client.sites() };
  }

  it('without it C carries everything; a 0.5 cap moves requests to B until C carries about half', async () => {
    const free = await stream(40);
    expect(free.sites.every((s) => s === 'C')).toBe(true);
    expect(free.states.find((s) => s.name === 'C')!.share).toBe(1);

    const { sites, states } = await stream(300, { maxShare: 0.5 });
    const byName = Object.fromEntries(states.map((s) => [s.name, s]));
    // Each request's footprint at its site: 0.4 x 20 / 3.6e6 g at C, 0.4 x 100 / 3.6e6 g at B.
    expect(byName.C!.carbonG).toBeCloseTo((byName.C!.requests * 0.4 * 20) / KWH, 12);
    expect(byName.B!.carbonG).toBeCloseTo((byName.B!.requests * 0.4 * 100) / KWH, 12);
    expect(byName.C!.waterL).toBeCloseTo((byName.C!.requests * 0.4 * 10) / KWH, 12);
    expect(sites.filter((s) => s === 'B').length).toBeGreaterThan(0);
    expect(Math.max(...states.map((s) => s.share))).toBeLessThanOrEqual(0.5 + 0.05);
    expect(byName.C!.share).toBeGreaterThan(0.4);
    expect(byName.C!.lambda).toBeGreaterThanOrEqual(0);
    expect(states.reduce((sum, s) => sum + s.share, 0)).toBeCloseTo(1, 9);
  });

  it('refuses a cap below 1/sites and equity on a single server', async () => {
    await expect(setup({ equity: { maxShare: 0.2 } })).rejects.toThrow(/cap must be in \[1\/3, 1\]/);
    const model = fakeModel();
    await expect(SplitClient.open({ model, runtime: new FakeRuntime(), transport: new FakeServer(model), server: 'ws://fake', equity: { maxShare: 0.5 } })).rejects.toThrow(/at least two sites/);
  });
});

describe('failover', () => {
  it('a site that dies with a request in flight: retried once at the next site, resolved once; C is skipped while down and used again once back', async () => {
    const { client, servers, model } = await setup();
    servers.C!.behaviour = { kind: 'silent' };
    const input = x(11);
    let resolutions = 0;
    const pending = client.infer({ x: input }, { cut: 'auto' }).then((r) => {
      resolutions += 1;
      return r;
    });
    await vi.waitFor(() => expect(servers.C!.requests.length).toBe(1));
    servers.C!.refuse = 'down';
    servers.C!.dropAll();
    const { outputs, telemetry } = await pending;
    expect(resolutions).toBe(1);
    expectOutput(outputs.y!, input, model);
    expect(telemetry.path).toBe('remote');
    expect(telemetry.failover).toMatchObject({ from: { name: 'C', url: 'ws://c' }, error: { code: 'CARBONCP_CONNECTION_LOST' } });
    // The retry goes to the decision's best runner-up: B (40) before A (160).
    expect(telemetry.site!.name).toBe('B');
    expect(servers.B!.requests.length).toBe(1);

    const down = await client.infer({ x: x(12) }, { cut: 'auto' });
    expect(down.telemetry.site!.name).toBe('B');
    expect(down.telemetry.failover).toBeUndefined();
    expect(down.telemetry.decision!.bound).toBe('site');
    expect(client.sites().find((s) => s.name === 'C')).toMatchObject({ up: false, state: 'connecting' });

    servers.C!.refuse = undefined;
    servers.C!.behaviour = { kind: 'answer' };
    await vi.waitFor(() => expect(client.sites().find((s) => s.name === 'C')!.up).toBe(true), { timeout: 2_000 });
    const back = await client.infer({ x: x(13) }, { cut: 'auto' });
    expect(back.telemetry.site!.name).toBe('C');
    expect(client.stats().disconnects).toBe(1);
  });

  it('when the second site fails too the device runs the tail; with every site down the device runs it all', async () => {
    const { client, servers, model } = await setup();
    servers.A!.behaviour = { kind: 'error', code: 'CARBONCP_BUSY' };
    servers.B!.behaviour = { kind: 'error', code: 'CARBONCP_BUSY' };
    const input = x(21);
    const { outputs, telemetry } = await client.infer({ x: input }, { cut: 'split-1' });
    expectOutput(outputs.y!, input, model);
    // A caller's cut goes to the first site that can run it (A), then once to the next (B).
    expect(telemetry).toMatchObject({ path: 'local-fallback', error: { code: 'CARBONCP_BUSY' }, failover: { from: { name: 'A' } }, site: { name: 'B' } });
    expect(servers.A!.requests.length + servers.B!.requests.length + servers.C!.requests.length).toBe(1 + 1 + 0 + 0);

    for (const server of Object.values(servers)) {
      server.refuse = 'down';
      server.dropAll();
    }
    await vi.waitFor(() => expect(client.state).toBe('connecting'));
    const local = await client.infer({ x: input }, { cut: 'auto' });
    expect(local.telemetry.path).toBe('local');
    expect(local.telemetry.site).toBeUndefined();
    expectOutput(local.outputs.y!, input, model);
  });

  it('a site that refuses the token is closed for good and the others serve; only every site refusing is an error', async () => {
    const model = fakeModel();
    const { servers, transport } = sitesOf(model);
    servers.A!.refuse = 'unauthorized';
    const client = await SplitClient.open({ model, runtime: new FakeRuntime(), transport, servers: SITES, reconnect: { initialMs: 5, maxMs: 20, seed: 1 } });
    open.push(client);
    expect(client.sites().map((s) => [s.name, s.state, s.lastError?.code])).toEqual([
      ['A', 'closed', 'CARBONCP_UNAUTHORIZED'],
      ['B', 'open', undefined],
      ['C', 'open', undefined],
    ]);
    expect((await client.infer({ x: x() })).telemetry.site!.name).toBe('B');
    for (const server of Object.values(servers)) server.refuse = 'unauthorized';
    await expect(SplitClient.open({ model, runtime: new FakeRuntime(), transport, servers: SITES })).rejects.toThrow(/bad token/);
  });

  it('without a calibrator the sites are tried in the order given', async () => {
    const model = fakeModel();
    const { servers, transport } = sitesOf(model);
    const client = await SplitClient.open({ model, runtime: new FakeRuntime(), transport, servers: SITES, reconnect: { initialMs: 5, maxMs: 20, seed: 1 } });
    open.push(client);
    expect((await client.infer({ x: x() })).telemetry.site!.name).toBe('A');
    servers.A!.refuse = 'down';
    servers.A!.dropAll();
    await vi.waitFor(() => expect(client.sites()[0]!.up).toBe(false));
    expect((await client.infer({ x: x() })).telemetry.site!.name).toBe('B');
    expect(client.remoteStatus('server', 'A').usable).toBe(false);
    expect(client.remoteStatus('server', 'B').usable).toBe(true);
  });
});

describe('site figures', () => {
  it("a site's trace gives its grid and WUE by the hour; carbon and wue given override it; a pong's grid overrides both", async () => {
    // Two hours of two sites (the ten-site file's format): kg/kWh x 1000 = g/kWh.
    const trace = parseSiteTrace(
      ['location,time_utc,wue_L_per_kWh,carbon_kg_per_kWh,price_USD_per_MWh', 'X,2026-01-01 00,2,0.5,1', 'X,2026-01-01 01,3,0.1,1', 'Y,2026-01-01 00,1,0.3,1', 'Y,2026-01-01 01,1,0.3,1'].join('\n'),
    );
    const clock = new ManualClock(0, Date.UTC(2026, 0, 1, 1, 10)); // 01:10 UTC: the second hour
    const model = fakeModel();
    const { servers, transport } = sitesOf(model);
    const client = await SplitClient.open({
      model,
      runtime: new FakeRuntime(),
      transport,
      clock,
      servers: [
        { name: 'X', url: 'ws://a', trace: trace[0]!, gridWaterLPerKwh: 0.5 },
        { name: 'Y', url: 'ws://b', trace: trace[1]!, carbon: 42, wue: 0.25 },
      ],
    });
    open.push(client);
    expect(client.sites().map((s) => [s.name, s.intensityGPerKwh, s.waterLPerKwh])).toEqual([
      ['X', 100, 3.5],
      ['Y', 42, 0.25],
    ]);
    servers.A!.pongContext = () => ({ queue_depth: 0, in_flight: 0, tail_ms: {}, carbon_intensity: { value_g_per_kwh: 7, source: 'pong' } });
    await client.serverContext();
    expect(client.sites()[0]!.intensityGPerKwh).toBe(7);
  });
});

describe('options', () => {
  it('refuses server with servers, duplicate names and bad figures', async () => {
    const model = fakeModel();
    const base = { model, runtime: new FakeRuntime(), transport: new FakeServer(model) };
    await expect(SplitClient.open({ ...base, server: 'ws://x', servers: SITES })).rejects.toThrow(/exclude each other/);
    await expect(SplitClient.open({ ...base, servers: [SITES[0]!, { ...SITES[1]!, name: 'A' }] })).rejects.toThrow(/servers\[1\]\.name/);
    await expect(SplitClient.open({ ...base, servers: [{ name: 'A', url: 'http://a' }] })).rejects.toThrow(/ws:\/\/ or wss:\/\//);
    await expect(SplitClient.open({ ...base, servers: [{ name: 'A', url: 'ws://a', wue: -1 }] })).rejects.toThrow(/wue must be/);
    await expect(SplitClient.open({ ...base, servers: [] })).rejects.toThrow(/non-empty list/);
  });
});
