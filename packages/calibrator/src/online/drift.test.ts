import { describe, expect, it } from 'vitest';
import { SplitConformal } from '../conformal/split.js';
import { OnlineRidge } from '../predictors/online-ridge.js';
import type { IntervalPredictor, PointPredictor } from '../types.js';
import { AdaptiveConformal } from './aci.js';
import { ConformalPid } from './conformal-pid.js';
import { DynamicallyTunedConformal } from './dtaci.js';
import { driftingSeries, mean, runOnline, summarise, type Drift, type RunSummary } from './drift.test-support.js';

const ALPHA = 0.1;
const LENGTH = 6000;
const WARMUP = 500;
const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8];
/** Steps right after the shift (relative to the scored run, which starts at WARMUP). */
const SHIFT = LENGTH / 2 - WARMUP;

const METHODS: Record<string, (p: PointPredictor) => IntervalPredictor> = {
  split: (p) => new SplitConformal(p, { alpha: ALPHA }),
  aci: (p) => new AdaptiveConformal(p, { alpha: ALPHA }),
  dtaci: (p) => new DynamicallyTunedConformal(p, { alpha: ALPHA }),
  pid: (p) => new ConformalPid(p, { alpha: ALPHA }),
};

/** Each method's summary on each seed, all over the same point predictor design (ridge, forgetting 0.99). */
function measure(drift: Drift): Record<string, RunSummary[]> {
  const out: Record<string, RunSummary[]> = {};
  for (const [name, make] of Object.entries(METHODS)) {
    out[name] = SEEDS.map((seed) => {
      const method = make(new OnlineRidge({ dimensions: 2, forgetting: 0.99 }));
      return summarise(runOnline(method, driftingSeries(seed, LENGTH, drift), WARMUP));
    });
  }
  return out;
}

const avg = (runs: RunSummary[], key: 'coverage' | 'worstWindow' | 'finiteWidth' | 'infinite') => mean(runs.map((r) => r[key]));

describe('online methods across an abrupt shift (mean +5, noise x4 at T/2; seeded, 8 runs of 6000)', () => {
  const runs = measure('abrupt');

  it('ACI, DtACI and PID keep long-run coverage within 1% of 1 - alpha on every run', () => {
    for (const name of ['aci', 'dtaci', 'pid']) {
      for (const run of runs[name]!) expect(Math.abs(run.coverage - (1 - ALPHA))).toBeLessThan(0.01);
      expect(Math.abs(avg(runs[name]!, 'coverage') - (1 - ALPHA))).toBeLessThan(0.005);
    }
  });

  it('split conformal on its sliding window under-covers right after the shift, where the online methods recover', () => {
    const after = (name: string) => mean(runs[name]!.map((r) => r.windowAt(SHIFT, 200)));
    expect(after('split')).toBeLessThan(0.65);
    for (const name of ['aci', 'dtaci', 'pid']) expect(after(name)).toBeGreaterThan(after('split') + 0.2);
    // It also ends up below target over the whole run, by more than the online methods ever do.
    expect(avg(runs.split!, 'coverage')).toBeLessThan(1 - ALPHA - 0.005);
  });

  it('DtACI: better worst-window coverage than ACI at the same width, paid for with more infinite intervals at the shift', () => {
    expect(avg(runs.dtaci!, 'worstWindow')).toBeGreaterThan(avg(runs.aci!, 'worstWindow') + 0.025);
    expect(avg(runs.dtaci!, 'finiteWidth')).toBeLessThan(1.005 * avg(runs.aci!, 'finiteWidth'));
    expect(avg(runs.dtaci!, 'infinite')).toBeGreaterThan(avg(runs.aci!, 'infinite'));
  });

  it('PID: better worst-window coverage than ACI with no infinite interval, at most 1% wider', () => {
    expect(avg(runs.pid!, 'worstWindow')).toBeGreaterThan(avg(runs.aci!, 'worstWindow') + 0.01);
    expect(avg(runs.pid!, 'finiteWidth')).toBeLessThan(1.01 * avg(runs.aci!, 'finiteWidth'));
    expect(avg(runs.pid!, 'infinite')).toBe(0);
  });
});

describe('online methods under slow drift (mean 0 to +5, noise x1 to x4 over the run)', () => {
  const runs = measure('slow');

  it('all three keep long-run coverage within 1%; PID has the best worst window, DtACI is no better than ACI here', () => {
    for (const name of ['aci', 'dtaci', 'pid']) {
      for (const run of runs[name]!) expect(Math.abs(run.coverage - (1 - ALPHA))).toBeLessThan(0.01);
    }
    expect(avg(runs.pid!, 'worstWindow')).toBeGreaterThan(avg(runs.aci!, 'worstWindow') + 0.01);
    expect(Math.abs(avg(runs.dtaci!, 'worstWindow') - avg(runs.aci!, 'worstWindow'))).toBeLessThan(0.02);
    // Split's window lags the growing noise: below target over the run.
    expect(avg(runs.split!, 'coverage')).toBeLessThan(1 - ALPHA - 0.005);
  });
});
