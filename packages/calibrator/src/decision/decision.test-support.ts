/**
 * A small synthetic world whose structural predictions can be worked out by hand (see the
 * numbers in the comments), shared by the decision's tests.
 *
 * Context: 8 Mbit/s up (1 byte = 1 µs), RTT 10 ms, empty queue, device 5 W, radio 1e-7 J/B up and
 * 0.05 J per burst, server 100 W at PUE 1, device grid 800 g/kWh, server grid 50 g/kWh.
 *
 *   candidate       head  transfer         server  latency  device energy J               carbon x 3.6e6 g
 *   device/none     40    0                0       40       5 x 0.040 = 0.2               0.2 x 800 = 160
 *   split-2/none    10    10 + 100 = 110   5       125      0.05 + 0.01 + 0.05 = 0.11     88 + 0.5 x 50 = 113
 *   split-2/int8    10    10 + 25 = 35     5       50       0.05 + 0.0025 + 0.05 = 0.1025 82 + 25 = 107
 *   server/none     0     10 + 600 = 610   8       618      0.06 + 0.05 = 0.11            88 + 0.8 x 50 = 128
 */
import type { LatencyDistribution } from '@carboncp/core';
import type { DecisionCandidate } from '../candidates/candidate.js';
import type { DecisionContext } from './context.js';

export function latency(medianMs: number): LatencyDistribution {
  return { medianMs, p10Ms: medianMs, p90Ms: medianMs, meanMs: medianMs, sdMs: 0, n: 10 };
}

export function candidate(
  id: string,
  kind: DecisionCandidate['kind'],
  headMs: number,
  tailMs: number,
  bytesUp: number,
  extra: Partial<DecisionCandidate> = {},
): DecisionCandidate {
  const [planId, compression] = id.split('/') as [string, DecisionCandidate['compression']];
  return {
    id,
    planId,
    kind,
    compression,
    bytesUp,
    bytesDown: 0,
    head: latency(headMs),
    tail: latency(tailMs),
    tailSource: 'server-profile',
    ...(compression === 'none' ? { maxAbsError: 0 } : {}),
    ...extra,
  };
}

export const DEVICE = candidate('device/none', 'device', 40, 0, 0);
export const SPLIT = candidate('split-2/none', 'split', 10, 5, 100_000);
export const SPLIT_INT8 = candidate('split-2/int8', 'split', 10, 5, 25_000, { maxAbsError: 0.01 });
export const SERVER = candidate('server/none', 'server', 0, 8, 600_000);
export const WORLD: readonly DecisionCandidate[] = [DEVICE, SPLIT, SPLIT_INT8, SERVER];

/** Hand-computed structural values of WORLD in context(), in WORLD order. */
export const EXPECTED = {
  latencyMs: [40, 125, 50, 618],
  deviceEnergyJ: [0.2, 0.11, 0.1025, 0.11],
  carbonG: [160 / 3.6e6, 113 / 3.6e6, 107 / 3.6e6, 128 / 3.6e6],
} as const;

export function context(overrides: Partial<DecisionContext> = {}): DecisionContext {
  return {
    time: 1_700_000_000_000,
    cpuLoad: 0,
    powerSource: 'ac',
    rttMs: { mean: 10, sd: 0 },
    uplinkBps: { mean: 8e6, sd: 0 },
    serverQueueDepth: 0,
    deviceIntensityGPerKwh: 800,
    serverIntensityGPerKwh: 50,
    devicePowerW: 5,
    radio: { upJPerByte: 1e-7, downJPerByte: 0, burstJ: 0.05 },
    serverPowerW: 100,
    ...overrides,
  };
}

/** A ridge that practically never moves from "the structural model is right", so intervals are hand-computable. */
export const FROZEN_RIDGE = { lambda: 1e12 };
