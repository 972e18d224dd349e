import { describe, expect, it } from 'vitest';
import { CarbonAwareDecision } from './decider.js';
import { EXPECTED, FROZEN_RIDGE, WORLD, context } from './decision.test-support.js';
import { SetCalibration, optimalIndex, setScores } from './set-mode.js';

const predicted = EXPECTED.latencyMs.map((latencyMs, i) => ({ objective: EXPECTED.carbonG[i]! * 3.6e6, latencyMs }));
const ALL = [true, true, true, true];

describe('set scores and the optimal label', () => {
  it('scores each candidate by its relative gap to the predicted optimum or its SLO excess (by hand)', () => {
    // Carbon x 3.6e6: 160, 113, 107, 128; latency 40, 125, 50, 618; SLO 100: the optimum is int8 (107).
    const scores = setScores(predicted, ALL, 100);
    expect(scores[2]).toBe(0);
    expect(scores[0]).toBeCloseTo(53 / 107, 12); // max(53/107, (40-100)/100)
    expect(scores[1]).toBeCloseTo(0.25, 12); // max(6/107, 25/100)
    expect(scores[3]).toBeCloseTo(5.18, 12); // max(21/107, 518/100)
    // Not allowed: never in a set. No SLO: the objective gap alone.
    expect(setScores(predicted, [true, true, false, true], 100)[2]).toBe(Number.POSITIVE_INFINITY);
    expect(setScores(predicted, ALL, Number.POSITIVE_INFINITY)[3]).toBeCloseTo(21 / 107, 12);
  });

  it('without any candidate within the SLO, scores the gap to the fastest', () => {
    const scores = setScores(predicted, ALL, 10);
    expect(scores[0]).toBe(0);
    expect(scores[2]).toBeCloseTo(10 / 40, 12);
  });

  it('labels the least objective within the SLO, else the fastest, among allowed candidates', () => {
    expect(optimalIndex(predicted, ALL, 100)).toBe(2);
    expect(optimalIndex(predicted, ALL, 45)).toBe(0);
    expect(optimalIndex(predicted, ALL, 10)).toBe(0);
    expect(optimalIndex(predicted, [false, true, false, true], 100)).toBe(1);
    expect(optimalIndex(predicted, [false, false, false, false], 100)).toBe(-1);
  });

  it('holds one window per objective and round-trips it', () => {
    const calibration = new SetCalibration(3);
    for (const s of [0.5, 0.1, 0.2, 0.3]) calibration.add('carbon', s);
    expect(calibration.size('carbon')).toBe(3);
    expect(calibration.size('energy')).toBe(0);
    expect(calibration.threshold('energy', 0.1)).toBe(Number.POSITIVE_INFINITY);
    // n = 3, alpha 0.5: rank ceil(4 x 0.5) = 2: the second smallest of 0.1, 0.2, 0.3.
    expect(calibration.threshold('carbon', 0.5)).toBe(0.2);
    const copy = SetCalibration.fromJSON(JSON.parse(JSON.stringify(calibration.toJSON())));
    expect(copy.threshold('carbon', 0.5)).toBe(0.2);
    expect(copy.toJSON()).toEqual(calibration.toJSON());
    // An infinite score (a label no rule allowed) goes through JSON as null and comes back infinite.
    calibration.add('energy', Number.POSITIVE_INFINITY);
    const text = JSON.parse(JSON.stringify(calibration.toJSON()));
    expect(text.scores.energy).toEqual([null]);
    expect(SetCalibration.fromJSON(text).threshold('energy', 0.9)).toBe(Number.POSITIVE_INFINITY);
    expect(SetCalibration.fromJSON(text).size('energy')).toBe(1);
  });
});

/** Full-information records: `slow` of them with int8 at 120 ms (so the true optimum is device/none), the rest as predicted. */
function calibrated(slow: number, asPredicted: number): CarbonAwareDecision {
  const decider = new CarbonAwareDecision(WORLD, { alphas: [0.2], ridge: FROZEN_RIDGE, exploration: false });
  const record = (int8LatencyMs: number) =>
    Object.fromEntries(
      WORLD.map((c, i) => [c.id, { latencyMs: c.id === 'split-2/int8' ? int8LatencyMs : EXPECTED.latencyMs[i]!, carbonG: EXPECTED.carbonG[i]! }]),
    );
  for (let i = 0; i < slow + asPredicted; i += 1) decider.observeAll(context(), record(i % 5 === 4 && i < 5 * slow ? 120 : 50), { sloMs: 100 });
  return decider;
}

describe("CarbonAwareDecision 'set' mode (CarbonCP's formulation)", () => {
  it('with 2 of 10 true optima at device/none (score 53/107), the set at alpha 0.2 is {device, split, int8}, and it takes the fastest member', () => {
    const decider = calibrated(2, 8);
    expect(decider.toJSON().set.scores.carbon!.filter((s) => s !== null && s > 0)).toHaveLength(2);
    const d = decider.decide(context(), { mode: 'set', sloMs: 100 });
    // n = 10, rank ceil(11 x 0.8) = 9: the threshold is the larger score, 53/107.
    expect(d.set!.threshold).toBeCloseTo(53 / 107, 12);
    expect(d.set!.calibrationScores).toBe(10);
    expect(d.set!.members).toEqual(['device/none', 'split-2/none', 'split-2/int8']);
    expect(d.assessments[3]!.excludedBy).toEqual(['slo', 'set']);
    // split-2/none is in the set but predicted at 125 ms > 100; of device (40) and int8 (50), the fastest.
    expect(d.candidate.id).toBe('device/none');
    expect(d.bound).toBe('set');
    expect(d.explanation).toContain('Conformal set (threshold 0.495, 10 scores): device/none, split-2/none, split-2/int8.');
    expect(d.explanation).toContain('the fastest member is taken');
    // Mean mode on the same predictors takes the predicted optimum.
    expect(decider.decide(context(), { mode: 'mean', sloMs: 100 }).candidate.id).toBe('split-2/int8');
  });

  it('with 26 of 28 true optima as predicted, the threshold is 0 and the set is the predicted optimum alone', () => {
    const d = calibrated(2, 26).decide(context(), { mode: 'set', sloMs: 100 });
    expect(d.set!.threshold).toBe(0);
    expect(d.set!.members).toEqual(['split-2/int8']);
    expect(d.candidate.id).toBe('split-2/int8');
    expect(d.bound).toBe('none');
  });

  it('uncalibrated, the set is every candidate (threshold inf); under an error limit the set is of the allowed candidates', () => {
    const decider = new CarbonAwareDecision(WORLD, { exploration: false });
    const open = decider.decide(context(), { mode: 'set', sloMs: 100 });
    expect(open.set!.threshold).toBe(Number.POSITIVE_INFINITY);
    expect(open.set!.members).toHaveLength(4);
    expect(open.candidate.id).toBe('device/none');
    // int8 is not allowed, so device/none is the predicted optimum (score 0) and the set's one member.
    const narrow = calibrated(2, 26).decide(context(), { mode: 'set', sloMs: 100, maxOutputError: 0.001 });
    expect(narrow.set!.members).toEqual(['device/none']);
    expect(narrow.assessments[2]!.setScore).toBe(Number.POSITIVE_INFINITY);
    expect(narrow.assessments[2]!.excludedBy).toEqual(['error', 'set']);
    expect(narrow.candidate.id).toBe('device/none');
    expect(narrow.bound).toBe('error');
  });

  it('in deployment, observe() with the decision pseudo-labels the optimum from this outcome and the others predictions', () => {
    const decider = new CarbonAwareDecision(WORLD, { alphas: [0.2], ridge: FROZEN_RIDGE, exploration: false });
    const d = decider.decide(context(), { mode: 'mean', sloMs: 100 });
    expect(d.candidate.id).toBe('split-2/int8');
    // int8 turned out at 120 ms: over the SLO, so the pseudo-optimum is device/none (predicted 40 ms), score 53/107.
    decider.observe('split-2/int8', context(), { latencyMs: 120, carbonG: EXPECTED.carbonG[2]! }, d);
    decider.observe('split-2/int8', context(), { latencyMs: 50, carbonG: EXPECTED.carbonG[2]! }, d);
    // Without the objective's observed value, or without the decision, nothing is added.
    decider.observe('split-2/int8', context(), { latencyMs: 50 }, d);
    decider.observe('split-2/int8', context(), { latencyMs: 50, carbonG: 1e-5 });
    const scores = decider.toJSON().set.scores.carbon!;
    expect(scores).toHaveLength(2);
    expect(scores[0]).toBeCloseTo(53 / 107, 12);
    expect(scores[1]).toBe(0);
  });
});
