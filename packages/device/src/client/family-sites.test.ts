/**
 * A family client with several sites over the fake platform: every variant's client connects to
 * every site (one FakeServer per variant and site), and the decision is variant x site x cut.
 * Worked by hand as sites.test.ts: a 'server' tail of 2 ms (small) or 8 ms (large) on a 200 W
 * server is 0.4 J or 1.6 J, so a site at I g/kWh adds 0.4 I / 3.6e6 g or 1.6 I / 3.6e6 g; A is at
 * 400 g/kWh, C at 20. The large variant's run on the device is 4x the small one's.
 */
import { CarbonAwareDecision, SiteEquity, candidatesForSites, type DecisionCandidate } from '@carboncp/calibrator';
import { loadDeviceProfile } from '@carboncp/carbon/node';
import { ErrorCode } from '@carboncp/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CalibratedPolicy } from './calibrated-policy.js';
import { systemClock } from './clock.js';
import { FamilyClient, type FamilyMember } from './family-client.js';
import { FamilyPolicy } from './family-policy.js';
import { FAKE_FAMILY, FakeRuntime, FakeServer, fakeModel, seededFloats, type FakeTensor } from './fake-platform.test-support.js';
import type { SiteOptions } from './site-options.js';
import { SplitClient } from './split-client.js';
import type { ClientPlan, Transport } from './types.js';

const profile = await loadDeviceProfile('raspberry-pi-4');
const FAMILY = FAKE_FAMILY;
const VARIANTS = ['small', 'large'] as const;
type Variant = (typeof VARIANTS)[number];
/** Device runs (ms): long enough that the device never pays against a site here (it would take the requests the cap moves). */
const HEAD_MS: Record<Variant, number> = { small: 1500, large: 6000 };
const SITES: SiteOptions[] = [
  { name: 'A', url: 'ws://a', carbon: 400, wue: 0 },
  { name: 'C', url: 'ws://c', carbon: 20, wue: 0 },
];
const KWH = 3.6e6;
const dist = (medianMs: number) => ({ medianMs, p10Ms: medianMs, p90Ms: medianMs, meanMs: medianMs, sdMs: 0, n: 10 });

/** The server's tail of each variant (ms): on a 200 W server, 0.4 J and 1.6 J. */
const TAIL_MS: Record<Variant, number> = { small: 2, large: 8 };
const TAIL_J: Record<Variant, number> = { small: 0.4, large: 1.6 };

/** Per variant: 'server' (its tail on the server) and 'device' (its whole run on the device). */
function candidates(): DecisionCandidate[] {
  const base = VARIANTS.flatMap((variant): DecisionCandidate[] => {
    const quality = FAMILY.variants.find((v) => v.name === variant)!.quality.value;
    return [
      { id: `server/none/${variant}`, planId: 'server', kind: 'server', compression: 'none', bytesUp: 200, bytesDown: 100, head: dist(0), tail: dist(TAIL_MS[variant]), tailSource: 'server-profile', maxAbsError: 0, variant, quality },
      { id: `device/none/${variant}`, planId: 'device', kind: 'device', compression: 'none', bytesUp: 0, bytesDown: 0, head: dist(HEAD_MS[variant]), tail: dist(0), tailSource: 'device-profile', maxAbsError: 0, variant, quality },
    ];
  });
  return candidatesForSites(base, SITES.map((s) => ({ site: s.name })));
}

const open: FamilyClient<FakeTensor>[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

async function setup(equity?: { maxShare: number }) {
  /** servers[variant][site] */
  const servers = {} as Record<Variant, Record<string, FakeServer>>;
  const members: FamilyMember<FakeTensor, ClientPlan>[] = [];
  for (const variant of FAMILY.variants) {
    const name = variant.name as Variant;
    const model = { ...fakeModel(name.padEnd(64, '0')), name: variant.model };
    servers[name] = Object.fromEntries(SITES.map((s) => [s.name, new FakeServer(model)]));
    const byUrl = Object.fromEntries(SITES.map((s) => [s.url, servers[name][s.name]!]));
    const transport: Transport = { connect: (url, handlers) => byUrl[url]!.connect(url, handlers) };
    const client = await SplitClient.open({ model, runtime: new FakeRuntime(), transport, servers: SITES, timeoutMs: 2_000, reconnect: { initialMs: 5, maxMs: 20, seed: 1 } });
    members.push({ variant, modelName: model.name, client });
  }
  const decider = new CarbonAwareDecision(candidates(), { exploration: false });
  const inner = new CalibratedPolicy({ decider, deviceProfile: profile, radio: 'wifi', fallbackIntensityGPerKwh: 300, serverPowerW: 200 });
  const policy = new FamilyPolicy(inner, { mode: 'mean', sloMs: 10_000 }, undefined);
  const family = new FamilyClient(FAMILY, members, {
    clock: systemClock,
    policy,
    ...(equity ? { equity: { equity: new SiteEquity({ sites: SITES.map((s) => s.name), cap: equity.maxShare }), waterWeight: 0 } } : {}),
  });
  open.push(family);
  return { family, servers, policy };
}
const x = (seed: number): FakeTensor => ({ type: 'float32', dims: [1, 4], data: seededFloats(seed, 4) });
const expectOutputs = (out: FakeTensor, input: FakeTensor) => {
  const want = (input.data as Float32Array).map((v) => (v + 1) * 3);
  (out.data as Float32Array).forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 5));
};

describe('a family with several sites', () => {
  it('decides variant x site x cut: the cleanest site, the variant the quality floor allows; the tail runs at that variant\'s server there', async () => {
    const { family, servers, policy } = await setup();
    const input = x(1);
    const { outputs, telemetry } = await family.infer({ x: input }, { cut: 'auto' });
    expectOutputs(outputs.y!, input);
    expect(telemetry).toMatchObject({ planId: 'server', path: 'remote', cutChosenBy: 'policy', variant: { name: 'small' }, site: { name: 'C', intensityGPerKwh: 20 } });
    expect(telemetry.decision!.candidateId).toBe('server/none/small@C');
    expect(servers.small.C!.requests).toHaveLength(1);
    // A and C differ by the variant's tail energy x (400 - 20) g/kWh.
    const byId = Object.fromEntries(policy.lastDecision()!.assessments.map((a) => [a.candidate.id, a.carbonG * KWH]));
    expect(byId['server/none/small@A']! - byId['server/none/small@C']!).toBeCloseTo(0.4 * 380, 6);
    expect(byId['server/none/large@A']! - byId['server/none/large@C']!).toBeCloseTo(1.6 * 380, 6);

    const floored = await family.infer({ x: x(2) }, { minQuality: 70 });
    expect(floored.telemetry.decision!.candidateId).toBe('server/none/large@C');
    expect(servers.large.C!.requests).toHaveLength(1);
    // A fixed { variant, cut, site } runs there.
    const fixed = await family.infer({ x: x(3) }, { variant: 'large', cut: 'server', site: 'A' });
    expect(fixed.telemetry).toMatchObject({ cutChosenBy: 'caller', variant: { name: 'large' }, site: { name: 'A' } });
    expect(servers.large.A!.requests).toHaveLength(1);
    await expect(family.infer({ x: x(4) }, { variant: 'large', cut: 'server', site: 'Z' })).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT, message: expect.stringMatching(/no site 'Z' \(sites: A, C\)/) });
    await expect(family.infer({ x: x(4) }, { variant: 'large', cut: 'auto', site: 'A' })).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT });
    // Sites summed over the variants' clients.
    const sites = Object.fromEntries(family.sites().map((s) => [s.name, s]));
    expect(sites.C).toMatchObject({ requests: 2, up: true, state: 'open' });
    expect(sites.A).toMatchObject({ requests: 1 });
  });

  it('a site that goes down for one variant is down for the family: the next request goes to the other site; back once it returns', async () => {
    const { family, servers } = await setup();
    servers.large.C!.refuse = 'down';
    servers.large.C!.dropAll();
    await vi.waitFor(() => expect(family.sites().find((s) => s.name === 'C')!.up).toBe(false));
    const { telemetry } = await family.infer({ x: x(5) }, { cut: 'auto' });
    expect(telemetry.site!.name).toBe('A');
    expect(telemetry.decision!.bound).toBe('site');
    expect(family.sites().find((s) => s.name === 'C')).toMatchObject({ up: false, state: 'connecting' });
    servers.large.C!.refuse = undefined;
    await vi.waitFor(() => expect(family.sites().find((s) => s.name === 'C')!.up).toBe(true), { timeout: 2_000 });
    expect((await family.infer({ x: x(6) }, { cut: 'auto' })).telemetry.site!.name).toBe('C');
  });

  it('with equity, one cap over every variant\'s requests: the cleaner site carries about half the footprint', async () => {
    const { family, servers } = await setup({ maxShare: 0.5 });
    for (const variant of VARIANTS) for (const server of Object.values(servers[variant])) server.behaviour = { kind: 'answer', parameters: { energy_j: TAIL_J[variant] } };
    const N = 600;
    const runs = new Map<string, number>();
    for (let i = 0; i < N; i += 1) {
      // Every other request needs the large variant; the others take the small one (cheaper everywhere).
      const { telemetry } = await family.infer({ x: x(i) }, { cut: 'auto', ...(i % 2 ? { minQuality: 70 } : {}) });
      const where = `${telemetry.variant!.name}@${telemetry.site?.name ?? 'device'}`;
      runs.set(where, (runs.get(where) ?? 0) + 1);
    }
    // Both variants moved between the sites: the cap is the family's, not each variant's.
    for (const where of ['small@C', 'large@C', 'small@A', 'large@A']) expect(runs.get(where) ?? 0, [...runs].join(' ')).toBeGreaterThan(0);
    expect((runs.get('small@device') ?? 0) + (runs.get('large@device') ?? 0)).toBe(0);
    const states = family.sites();
    const byName = Object.fromEntries(states.map((s) => [s.name, s]));
    expect(byName.C!.requests + byName.A!.requests).toBe(N);
    const carbonAt = (site: string, g: number) => VARIANTS.reduce((sum, v) => sum + ((runs.get(`${v}@${site}`) ?? 0) * TAIL_J[v] * g) / KWH, 0);
    expect(byName.C!.carbonG).toBeCloseTo(carbonAt('C', 20), 12);
    expect(byName.A!.carbonG).toBeCloseTo(carbonAt('A', 400), 12);
    expect(Math.max(...states.map((s) => s.share)), JSON.stringify(states)).toBeLessThanOrEqual(0.5 + 0.05);
    expect(byName.C!.share).toBeGreaterThan(0.4);
    expect(states.reduce((sum, s) => sum + s.share, 0)).toBeCloseTo(1, 9);
    expect(byName.C!.lambda).toBeGreaterThan(0);
  });
});
