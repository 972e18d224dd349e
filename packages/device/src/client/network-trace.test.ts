import { readFileSync } from 'node:fs';
import { drainMs, meanCapacity, parseNetworkTrace } from '@carboncp/carbon';
import { mulberry32 } from '@carboncp/core';
import { describe, expect, it } from 'vitest';
import { ManualClock } from './clock.js';
import { NetworkEstimator } from './network-estimator.js';

// A real uplink: Verizon LTE capacity in 100 ms bins (attribution in the fixture's header).
const uplink = parseNetworkTrace(readFileSync(new URL('./testing/mahimahi-verizon-lte-up.csv', import.meta.url), 'utf8'), { name: 'Verizon-LTE-short up' });
const capacityMbps = uplink.bps.map((b) => b / 1e6);

/** Seconds the link takes to carry `bytes` from `startS` (the 100 ms bins it spans, some of zero capacity). */
const uploadS = (bytes: number, startS: number) => drainMs(uplink, startS * 1000, bytes * 8) / 1000;

/** Mean capacity (bits/s) over [fromS, toS). */
const meanCapacityS = (fromS: number, toS: number) => meanCapacity(uplink, Math.max(0, fromS) * 1000, toS * 1000);

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

interface Replay {
  /** |predicted - actual| / actual of each request's transfer time, predicted from the estimate before it. */
  predictionApe: number[];
  /** (predicted - actual) / actual: the estimate predicts the mean transfer time, which is above the median of a skewed distribution. */
  signedError: number[];
  /** The same error for a constant: the trace's overall mean capacity (which no device knows in advance). */
  constantApe: number[];
  /** The same error for the last sample alone (no smoothing). */
  lastSampleApe: number[];
  /** |estimate - mean capacity over the last 10 s| / that mean, after each request. */
  trackingApe: number[];
  requests: number;
}

/**
 * Replays the trace through a simulated link: sequential requests of 20-120 kB with 0.2-0.8 s
 * between them, a 40 ms base rtt with jitter, and a ping every 5 s, as the client would see
 * them (transferMs = rtt + upload time; the small response's time is in the rtt).
 */
function replay(seed: number, durationS: number, options: ConstructorParameters<typeof NetworkEstimator>[1] = {}): Replay {
  const clock = new ManualClock();
  const estimator = new NetworkEstimator(clock, options);
  const random = mulberry32(seed);
  const rttMs = () => 40 + 6 * random();
  const overall = capacityMbps.reduce((a, b) => a + b, 0) / capacityMbps.length;
  const out: Replay = { signedError: [], predictionApe: [], constantApe: [], lastSampleApe: [], trackingApe: [], requests: 0 };
  let t = 0;
  let nextPing = 0;
  let lastSampleBps: number | undefined;
  while (t < durationS) {
    if (t >= nextPing) {
      const rtt = rttMs();
      t += rtt / 1000;
      clock.busy(rtt);
      estimator.observePing({ rttMs: rtt, bytesUp: 40, shared: false });
      nextPing += 5;
    }
    const bytesUp = Math.round(20_000 + 100_000 * random());
    const rtt = rttMs();
    const transferMs = rtt + uploadS(bytesUp, t) * 1000;
    const estimate = estimator.estimate();
    if (estimate?.uplinkBps && t > 10) {
      const ape = (predicted: number) => Math.abs(predicted - transferMs) / transferMs;
      out.signedError.push((estimate.rttMs.mean + (bytesUp * 8000) / estimate.uplinkBps.mean - transferMs) / transferMs);
      out.predictionApe.push(ape(estimate.rttMs.mean + (bytesUp * 8000) / estimate.uplinkBps.mean));
      out.constantApe.push(ape(estimate.rttMs.mean + (bytesUp * 8000) / (overall * 1e6)));
      if (lastSampleBps) out.lastSampleApe.push(ape(estimate.rttMs.mean + (bytesUp * 8000) / lastSampleBps));
    }
    t += transferMs / 1000;
    clock.busy(transferMs);
    estimator.observeTransfer({ transferMs, serverMs: 4, bytesUp, bytesDown: 600, shared: false });
    lastSampleBps = (bytesUp * 8000) / Math.max(1, transferMs - (estimate?.rttMs.mean ?? 40));
    out.requests += 1;
    const after = estimator.estimate()?.uplinkBps?.mean;
    if (after && t > 10) {
      const truth = meanCapacityS(t - 10, t);
      out.trackingApe.push(Math.abs(after - truth) / truth);
    }
    const think = 0.2 + 0.6 * random();
    t += think;
    clock.busy(think * 1000);
  }
  return out;
}

describe('NetworkEstimator replaying a real LTE uplink trace (Mahimahi Verizon-LTE-short, up)', () => {
  it('reads the fixture: 1200 bins of 100 ms', () => {
    expect(capacityMbps).toHaveLength(1200);
    expect(capacityMbps.every((c) => Number.isFinite(c) && c >= 0)).toBe(true);
  });

  for (const seed of [11, 12, 13]) {
    it(`tracks the trace within 15% of its 10 s mean capacity and predicts transfer times better than a constant (seed ${seed})`, () => {
      const run = replay(seed, 120);
      const summary = {
        requests: run.requests,
        predictionMedianApe: median(run.predictionApe),
        constantMedianApe: median(run.constantApe),
        lastSampleMedianApe: median(run.lastSampleApe),
        trackingMedianApe: median(run.trackingApe),
        medianSignedError: median(run.signedError),
      };
      // Measured (README, "Network estimate"): tracking 0.10-0.11, prediction 0.21-0.25 against
      // 0.27-0.29 for the constant and 0.16-0.19 for the last sample, which wins on a trace this
      // autocorrelated at the 1 s scale (and loses badly on independent noise).
      expect(run.requests).toBeGreaterThan(100);
      expect(summary.trackingMedianApe).toBeLessThan(0.15);
      expect(summary.predictionMedianApe).toBeLessThan(summary.constantMedianApe);
      expect(summary.predictionMedianApe).toBeLessThan(0.3);
      expect(Math.abs(summary.medianSignedError)).toBeLessThan(0.15);
    });
  }
});
