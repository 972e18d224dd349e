import { mulberry32 } from '@carboncp/core';
import { describe, expect, it } from 'vitest';
import { ManualClock } from './clock.js';
import { DecayingStats } from './decaying-stats.js';
import { NETWORK_DEFAULTS, NetworkEstimator } from './network-estimator.js';

/** Seeded standard normal draws (Box-Muller over mulberry32). */
function normals(seed: number): () => number {
  const next = mulberry32(seed);
  return () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
}

const mbps = (bps: number) => bps / 1e6;

/** A link with a known rtt (ms, Gaussian jitter) and uplink (bits/s); trip i's transfer time, as the client would measure it. */
function syntheticLink(seed: number, rttMs: number, jitterMs: number) {
  const gauss = normals(seed);
  const uniform = mulberry32(seed + 1);
  return {
    rtt: () => Math.max(0.1, rttMs + jitterMs * gauss()),
    upload: (uplinkBps: number) => {
      const bytesUp = Math.round(20_000 + 180_000 * uniform());
      const bytesDown = 300;
      return { bytesUp, bytesDown, transferMs: Math.max(0.1, rttMs + jitterMs * gauss()) + (bytesUp * 8000) / uplinkBps + (bytesDown * 8000) / 50e6 };
    },
  };
}

describe('NetworkEstimator on synthetic seeded samples', () => {
  for (const seed of [1, 2, 3]) {
    it(`recovers a known rtt and uplink (seed ${seed})`, () => {
      const clock = new ManualClock();
      const estimator = new NetworkEstimator(clock);
      const link = syntheticLink(seed, 40, 4);
      const uplinkBps = 8e6;
      for (let i = 0; i < 400; i++) {
        clock.busy(250);
        if (i % 4 === 0) expect(estimator.observePing({ rttMs: link.rtt(), bytesUp: 40, shared: false })).toBe('rtt');
        const trip = link.upload(uplinkBps);
        expect(estimator.observeTransfer({ ...trip, serverMs: 3, shared: false })).toBe('uplink');
      }
      const estimate = estimator.estimate();
      expect(estimate?.rttMs.mean).toBeGreaterThan(40 * 0.93);
      expect(estimate?.rttMs.mean).toBeLessThan(40 * 1.07);
      // The jitter's sd (4 ms), within the noise of ~23 effective samples.
      expect(estimate?.rttMs.sd).toBeGreaterThan(2.5);
      expect(estimate?.rttMs.sd).toBeLessThan(6);
      expect(mbps(estimate?.uplinkBps?.mean ?? 0)).toBeGreaterThan(8 * 0.95);
      expect(mbps(estimate?.uplinkBps?.mean ?? 0)).toBeLessThan(8 * 1.05);
      expect(estimate?.uplinkBps?.sd).toBeGreaterThan(0);
      expect(estimate?.source).toBe('passive');
      expect(estimate?.updatedAt).toBe(clock.epochMs());
      expect(estimate?.downlinkBps).toBeUndefined();
      expect(Object.isFrozen(estimate) && Object.isFrozen(estimate?.rttMs) && Object.isFrozen(estimate?.uplinkBps)).toBe(true);
      expect(estimator.estimate()).toBe(estimate);
    });
  }

  it('recovers the downlink from responses whose bytes down dominate', () => {
    const clock = new ManualClock();
    const estimator = new NetworkEstimator(clock);
    const gauss = normals(9);
    for (let i = 0; i < 200; i++) {
      clock.busy(100);
      estimator.observePing({ rttMs: 30 + gauss(), bytesUp: 40, shared: false });
      const bytesDown = 50_000 + i * 100;
      expect(estimator.observeTransfer({ transferMs: 30 + gauss() + (bytesDown * 8000) / 20e6 + (400 * 8000) / 5e6, serverMs: 2, bytesUp: 400, bytesDown, shared: false })).toBe(
        'downlink',
      );
    }
    expect(mbps(estimator.estimate()?.downlinkBps?.mean ?? 0)).toBeCloseTo(20, 0);
  });

  it('follows a step within one half-life (rttHalfLifeSamples), most of the way within four', () => {
    // A step of 2 sd of the jitter: not an outlier, so only the decay moves the estimate.
    const clock = new ManualClock();
    const estimator = new NetworkEstimator(clock);
    const gauss = normals(4);
    const feed = (rtt: number, count: number) => {
      for (let i = 0; i < count; i++) {
        clock.busy(100);
        estimator.observePing({ rttMs: rtt + 5 * gauss(), bytesUp: 40, shared: false });
      }
      return estimator.estimate()?.rttMs.mean ?? NaN;
    };
    const before = feed(50, 200);
    const moved = (after: number) => (after - before) / 10;
    const one = moved(feed(60, NETWORK_DEFAULTS.rttHalfLifeSamples));
    expect(one).toBeGreaterThan(0.3);
    expect(one).toBeLessThan(0.8);
    expect(moved(feed(60, 3 * NETWORK_DEFAULTS.rttHalfLifeSamples))).toBeGreaterThan(0.8);
  });

  it('follows a step within one time half-life when samples are sparse (keepalive pings every 15 s)', () => {
    const clock = new ManualClock();
    const estimator = new NetworkEstimator(clock);
    for (let i = 0; i < 20; i++) {
      clock.busy(15_000);
      estimator.observePing({ rttMs: 50 + (i % 2 ? 1 : -1), bytesUp: 40, shared: false });
    }
    // Two pings: one rttHalfLifeMs (30 s) later the estimate is at least halfway to 56.
    for (let i = 0; i < 2; i++) {
      clock.busy(15_000);
      estimator.observePing({ rttMs: 56, bytesUp: 40, shared: false });
    }
    expect(estimator.estimate()?.rttMs.mean).toBeGreaterThan(53);
  });

  it('takes a step far outside the old spread as a level shift after shiftAfter samples', () => {
    const clock = new ManualClock();
    const estimator = new NetworkEstimator(clock);
    const gauss = normals(5);
    for (let i = 0; i < 100; i++) estimator.observePing({ rttMs: 20 + gauss(), bytesUp: 40, shared: false });
    for (let i = 0; i < NETWORK_DEFAULTS.shiftAfter - 1; i++) estimator.observePing({ rttMs: 200 + gauss(), bytesUp: 40, shared: false });
    // Clipped so far: moved by a few sd of the old spread, not towards 200.
    expect(estimator.estimate()?.rttMs.mean).toBeLessThan(30);
    estimator.observePing({ rttMs: 200 + gauss(), bytesUp: 40, shared: false });
    expect(estimator.estimate()?.rttMs.mean).toBeCloseTo(200, -1);
    expect(estimator.estimate()?.rttMs.n).toBe(NETWORK_DEFAULTS.shiftAfter);
  });

  it('ignores isolated outliers: 10% of pings 10x slower move the mean by a few percent, a plain mean by 90%', () => {
    const clock = new ManualClock();
    const estimator = new NetworkEstimator(clock);
    const gauss = normals(6);
    const pick = mulberry32(7);
    let plain = 0;
    let sinceSpike = 10;
    for (let i = 0; i < 1000; i++) {
      clock.busy(100);
      // Spikes never come shiftAfter in a row (that would be a level shift, by design).
      const spike = i > 10 && sinceSpike >= 2 && pick() < 0.1;
      sinceSpike = spike ? 0 : sinceSpike + 1;
      const rtt = spike ? 400 : 40 + 2 * gauss();
      plain += rtt;
      estimator.observePing({ rttMs: rtt, bytesUp: 40, shared: false });
    }
    expect(plain / 1000).toBeGreaterThan(65);
    expect(estimator.estimate()?.rttMs.mean).toBeGreaterThan(39);
    expect(estimator.estimate()?.rttMs.mean).toBeLessThan(43);
  });

  it('rejects trips that shared the link, trips the server dominated, mixed payloads; holds uplink samples until an RTT', () => {
    const clock = new ManualClock();
    const estimator = new NetworkEstimator(clock);
    const trip = { transferMs: 60, serverMs: 5, bytesUp: 50_000, bytesDown: 200, shared: false };
    expect(estimator.observeTransfer(trip)).toBe('pending');
    expect(estimator.estimate()).toBeUndefined();
    expect(estimator.observeTransfer({ ...trip, shared: true })).toBe('rejected:shared');
    expect(estimator.observeTransfer({ ...trip, serverMs: 600 })).toBe('rejected:server');
    expect(estimator.observeTransfer({ ...trip, transferMs: 0 })).toBe('rejected:server');
    expect(estimator.observeTransfer({ ...trip, bytesDown: 30_000 })).toBe('rejected:mixed');
    expect(estimator.observeTransfer({ ...trip, transferMs: NaN })).toBe('rejected:invalid');
    expect(estimator.observePing({ rttMs: 20, bytesUp: 40, shared: true })).toBe('rejected:shared');
    // The first RTT sample (a small request) releases the pending uplink sample: (60 - 20) ms for 50 kB = 10 Mbit/s.
    expect(estimator.observeTransfer({ transferMs: 20, serverMs: 5, bytesUp: 300, bytesDown: 200, shared: false })).toBe('rtt');
    const estimate = estimator.estimate();
    expect(estimate?.rttMs).toEqual({ mean: 20, sd: 0, n: 1 });
    expect(estimate?.uplinkBps?.mean).toBeCloseTo(10e6, -3);
    expect(estimate?.uplinkBps?.n).toBe(1);
    expect(estimator.counts).toMatchObject({ pending: 1, 'rejected:shared': 2, 'rejected:server': 2, 'rejected:mixed': 1, uplink: 1, rtt: 1 });
  });

  it('clamps throughput to [minBps, maxBps]: a transfer faster than the rtt is no infinite bandwidth', () => {
    const clock = new ManualClock();
    const estimator = new NetworkEstimator(clock, { maxBps: 1e9 });
    estimator.observePing({ rttMs: 50, bytesUp: 40, shared: false });
    estimator.observeTransfer({ transferMs: 30, serverMs: 0, bytesUp: 10_000, bytesDown: 0, shared: false });
    expect(estimator.estimate()?.uplinkBps?.mean).toBeCloseTo(1e9, -3);
  });

  it('labels an update from a padded (probe) ping as a probe', () => {
    const clock = new ManualClock();
    const estimator = new NetworkEstimator(clock);
    estimator.observePing({ rttMs: 10, bytesUp: 40, shared: false });
    expect(estimator.observePing({ rttMs: 10 + (32_768 * 8000) / 4e6, bytesUp: 32_768, shared: false, probe: true })).toBe('uplink');
    expect(estimator.estimate()).toMatchObject({ source: 'probe' });
    expect(estimator.estimate()?.uplinkBps?.mean).toBeCloseTo(4e6, -3);
    // A probe smaller than minPayloadBytes still counts (its padding is all payload); a request that size does not.
    expect(estimator.observePing({ rttMs: 10 + (2000 * 8000) / 4e6, bytesUp: 2000, shared: false, probe: true })).toBe('uplink');
    expect(estimator.observeTransfer({ transferMs: 14, serverMs: 0, bytesUp: 2000, bytesDown: 0, shared: false })).toBe('rejected:small');
  });

  it('refuses options that are not positive numbers', () => {
    const refused = (options: object) => {
      try {
        new NetworkEstimator(new ManualClock(), options);
      } catch (error) {
        expect((error as { code?: string }).code).toBe('CARBONCP_INVALID_ARGUMENT');
        return (error as Error).message;
      }
      return 'accepted';
    };
    expect(refused({ rttHalfLifeMs: 0 })).toMatch(/network.rttHalfLifeMs must be a positive number, got 0/);
    expect(refused({ minBps: 1e9, maxBps: 1e6 })).toMatch(/network.minBps must be below network.maxBps/);
    expect(refused({ halfLife: 5 })).toMatch(/network.halfLife is not an option/);
    expect(refused({ throughputHalfLifeSamples: 2, rttHalfLifeMs: undefined })).toBe('accepted');
  });
});

describe('DecayingStats', () => {
  it('weighs the first samples equally: the mean and unbiased sd of a few samples', () => {
    const stats = new DecayingStats({ halfLifeMs: 1e12, halfLifeSamples: 1e12, outlierSd: 3, shiftAfter: 4, floor: { abs: 0, rel: 0 } });
    for (const x of [1, 2, 3, 4]) stats.add(x, 0);
    expect(stats.mean).toBeCloseTo(2.5, 9);
    expect(stats.sd).toBeCloseTo(Math.sqrt(5 / 3), 6);
  });
});
