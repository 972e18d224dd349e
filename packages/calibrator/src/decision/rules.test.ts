import { describe, expect, it } from 'vitest';
import type { IntervalPrediction } from '../types.js';
import type { CandidatePredictions } from './candidate-model.js';
import { candidate, context } from './decision.test-support.js';
import { resolveRequest, type CandidateAssessment, type Constraint } from './decision-types.js';
import { applyRules, batteryLow, choose } from './rules.js';

function assessment(id: string, objective: number, latency: number, excludedBy: Constraint[] = [], energy = 1): CandidateAssessment {
  const p = (point: number): IntervalPrediction => ({ point, lower: point, upper: point, alpha: 0.1, method: 'test', n: 0 });
  const predictions = { latencyMs: p(latency), carbonG: p(objective), deviceEnergyJ: p(energy) } as CandidatePredictions;
  return { candidate: candidate(`${id}/none`, 'split', 1, 1, 1), latency: p(latency), predictions, objectiveValue: objective, carbonG: objective, latencyBound: latency, energyBound: energy, excludedBy, feasible: excludedBy.length === 0 };
}

describe('choose', () => {
  const req = resolveRequest({ sloMs: 100 }, [0.1]);

  it('drops the set before anything else: the best on the objective of those only the set kept out', () => {
    const c = choose([assessment('a', 1, 50, ['set']), assessment('b', 2, 40, ['set']), assessment('c', 0.5, 30, ['slo', 'set'])], req);
    expect(c.chosen.candidate.id).toBe('a/none');
    expect(c.relaxed).toEqual(['set']);
    expect(c.sloUnmet).toBe(false);
    expect(c.bound).toBe('slo');
  });

  it('relaxes the battery rule, then the error limit, taking the fastest bound, and says so', () => {
    const battery = choose([assessment('a', 1, 150, ['battery', 'slo']), assessment('b', 2, 120, ['battery', 'slo']), assessment('c', 0, 90, ['error', 'battery'])], req);
    expect(battery.chosen.candidate.id).toBe('b/none');
    expect(battery.relaxed).toEqual(['battery', 'slo']);
    expect(battery.sloUnmet).toBe(true);
    expect(battery.bound).toBe('slo');
    const error = choose([assessment('a', 1, 150, ['error', 'slo']), assessment('b', 2, 120, ['error', 'battery'])], req);
    expect(error.chosen.candidate.id).toBe('b/none');
    expect(error.relaxed).toEqual(['error', 'battery']);
    expect(error.sloUnmet).toBe(false);
  });

  it('breaks objective ties by the latency point', () => {
    expect(choose([assessment('a', 1, 50), assessment('b', 1, 40)], req).chosen.candidate.id).toBe('b/none');
  });
});

describe('applyRules', () => {
  it('applies the battery rule only on battery, not charging, at or below the threshold', () => {
    const req = resolveRequest({}, [0.1]);
    expect(batteryLow(context({ powerSource: 'battery', batteryPercent: 20 }), req)).toBe(true);
    expect(batteryLow(context({ powerSource: 'battery', batteryPercent: 21 }), req)).toBe(false);
    expect(batteryLow(context({ powerSource: 'battery' }), req)).toBe(false);
    expect(batteryLow(context({ powerSource: 'unknown', batteryPercent: 5 }), req)).toBe(false);
    expect(batteryLow(context({ powerSource: 'battery', batteryPercent: 5 }), resolveRequest({ batteryReserve: { belowPercent: 4 } }, [0.1]))).toBe(false);
    const list = [assessment('a', 1, 10, [], 1), assessment('b', 1, 10, [], 1.2)];
    applyRules(list, context({ powerSource: 'battery', batteryPercent: 5 }), req);
    expect(list.map((a) => a.excludedBy)).toEqual([[], ['battery']]);
  });
});
