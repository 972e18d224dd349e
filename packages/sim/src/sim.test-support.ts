/**
 * Small worlds for the simulator's tests: a hand-checkable one (two candidates, a constant link,
 * one step in the device grid) and a noisy one (five candidates with spreads, a seeded jittery
 * link, a daily carbon cycle) for the properties that must hold on any trace.
 */
import { candidatesFromProfile, type DecisionCandidate } from '@carboncp/calibrator';
import { checkCapacityTrace, parseDeviceProfile, type CapacityTrace, type DeviceProfile, type TraceSeries } from '@carboncp/carbon';
import { mulberry32, type LatencyDistribution, type ModelProfile } from '@carboncp/core';
import type { SimulationOptions } from './options.js';

export const START = Date.parse('2022-03-01T00:00:00Z');
export const HOUR_MS = 3_600_000;

export function fixed(medianMs: number): LatencyDistribution {
  return { medianMs, p10Ms: medianMs, p90Ms: medianMs, meanMs: medianMs, sdMs: 0, n: 10 };
}

function spread(medianMs: number): LatencyDistribution {
  return { medianMs, p10Ms: medianMs * 0.85, p90Ms: medianMs * 1.3, meanMs: medianMs * 1.05, sdMs: medianMs * 0.15, n: 20 };
}

const SOURCE = 'carboncp sim test fixture (made-up numbers)';
const q = <U extends string>(value: number, unit: U) => ({ value, unit, kind: 'measured' as const, source: SOURCE });

/** A device of 2 W active, Wi-Fi at `upJPerByte` (default 1e-6 J/B) up, 1e-7 down and 0.05 J per burst; a battery of `batteryWh` (null: none). */
export function testDevice(batteryWh: number | null = null, upJPerByte = 1e-6): DeviceProfile {
  return parseDeviceProfile({
    schemaVersion: 1,
    id: 'sim-test-device',
    name: 'simulator test device',
    class: 'phone',
    cpu: 'test',
    cores: 4,
    power: { idleW: q(0.5, 'W'), activeW: q(2, 'W') },
    battery: batteryWh === null ? null : { capacityWh: q(batteryWh, 'Wh') },
    radios: { wifi: { energyPerByteUpJ: q(upJPerByte, 'J/B'), energyPerByteDownJ: q(1e-7, 'J/B'), tailEnergyJ: q(0.05, 'J') } },
    speed: null,
  });
}

export function candidate(id: string, kind: DecisionCandidate['kind'], head: LatencyDistribution, tail: LatencyDistribution, bytesUp: number): DecisionCandidate {
  const [planId, compression] = id.split('/') as [string, DecisionCandidate['compression']];
  return { id, planId, kind, compression, bytesUp, bytesDown: 0, head, tail, tailSource: 'server-profile' };
}

/** An hourly series from `startMs`. */
export function hourly(zone: string, values: readonly number[], startMs = START): TraceSeries {
  return { zone, stepMinutes: 60, startMs, values: Float64Array.from(values), estimated: new Uint8Array(values.length) };
}

export function constantLink(bps: number): CapacityTrace {
  return checkCapacityTrace({ startsMs: [0], bps: [bps], periodMs: 1000, source: `constant ${bps} bit/s` });
}

/**
 * The hand-checked world: 'device/none' (100 ms head, 2 W: 0.2 J) and 'server/none' (1000 B up
 * at 8 Mbit/s: 1 ms, RTT 20 ms, 10 ms tail at 10 W: 31 ms; 0.051 J radio, 0.1 J server). Device
 * grid 100 g/kWh for two hours, then 1000; server grid 200. Grams x 3.6e6: device 20 then 200;
 * server 0.051 I + 20 = 25.1 then 71. No noise anywhere; one request a minute for four hours
 * from START (the grid steps up two hours in).
 */
export function handWorld(overrides: Partial<SimulationOptions> = {}): SimulationOptions {
  return {
    candidates: [candidate('device/none', 'device', fixed(100), fixed(0), 0), candidate('server/none', 'server', fixed(0), fixed(10), 1000)],
    device: testDevice(),
    // The traces start an hour before the run, so that 'last-known' has a past hour to know.
    deviceCarbon: hourly('DEV', [100, 100, 100, 1000, 1000, 1000], START - HOUR_MS),
    serverCarbon: hourly('SRV', [200, 200, 200, 200, 200, 200], START - HOUR_MS),
    start: START,
    carbonView: 'true',
    uplink: constantLink(8e6),
    network: { rttMs: 20, rttCv: 0 },
    server: { powerW: 10, utilisation: 0 },
    hours: 4,
    rate: { perMinute: 1, arrivals: 'fixed' },
    sloMs: 200,
    ...overrides,
  };
}

/** A link that changes every 100 ms between 0.5 and 20 Mbit/s, seeded. */
export function jitteryLink(seed: number, steps = 3000): CapacityTrace {
  const random = mulberry32(seed);
  const startsMs = Array.from({ length: steps }, (_, i) => i * 100);
  const bps = startsMs.map(() => 5e5 + random() * 1.95e7);
  return checkCapacityTrace({ startsMs, bps, periodMs: steps * 100, source: `jittery ${seed}` });
}

/** Five candidates of a made-up profile with spreads: server, three splits (smaller activations deeper), device. */
export function noisyCandidates(): DecisionCandidate[] {
  const plans = [
    { id: 'server', bytesPerSample: 150_000, k: 0, head: fixed(0), tail: spread(20) },
    { id: 'split-1', bytesPerSample: 200_000, k: 1, head: spread(15), tail: spread(16) },
    { id: 'split-2', bytesPerSample: 40_000, k: 2, head: spread(45), tail: spread(9) },
    { id: 'split-3', bytesPerSample: 8_000, k: 3, head: spread(80), tail: spread(3) },
    { id: 'device', bytesPerSample: 0, k: 4, head: spread(95), tail: fixed(0) },
  ].map((p) => ({ ...p, digest: 'a'.repeat(64) }));
  const profile: ModelProfile = {
    schemaVersion: 1,
    modelDigest: 'b'.repeat(64),
    modelName: 'sim-test',
    measuredAt: '2026-01-01T00:00:00Z',
    device: { cpu: 'test', cores: 4, os: 'linux', onnxruntime: '1.0', executionProvider: 'cpu', threads: 1, graphOptimizationLevel: 'all' },
    inputShapes: { x: [1, 3, 224, 224] },
    method: { kind: 'node-profiling', runs: 20, warmup: 2, fullModel: spread(95), attributedMs: 90, unattributedMs: 1, overheadMs: 4, fixedOverheadMs: 1, fusedPositions: 0 },
    plans,
  };
  return candidatesFromProfile(profile, { outputBytesPerSample: 4000 });
}

/** A noisy half day: daily-cycle grids, a jittery link, a busy server, Poisson arrivals at 2 a minute, battery device. */
export function noisyWorld(overrides: Partial<SimulationOptions> = {}): SimulationOptions {
  const day = (base: number, swing: number, phase: number) => Array.from({ length: 48 }, (_, h) => base + swing * Math.sin((2 * Math.PI * (h + phase)) / 24));
  return {
    candidates: noisyCandidates(),
    device: testDevice(0.5, 1e-7),
    deviceCarbon: hourly('DEV', day(500, 300, 0)),
    serverCarbon: hourly('SRV', day(60, 40, 8)),
    uplink: jitteryLink(7),
    server: { powerW: 30, utilisation: 0.4 },
    battery: { startPercent: 60, pluggedHoursUtc: [10, 11], chargeW: 5, backgroundW: 0.01 },
    hours: 12,
    rate: { perMinute: 2, arrivals: 'poisson' },
    sloMs: 150,
    seed: 11,
    ...overrides,
  };
}

