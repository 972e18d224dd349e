import type { IntervalPrediction } from '../types.js';
import { OBJECTIVE_METRIC, type CandidateAssessment, type Constraint, type Decision } from './decision-types.js';
import { preferenceOf } from './rules.js';
import type { Metric } from './structural.js';

const UNIT: Readonly<Record<Metric, string>> = { headMs: 'ms', transferMs: 'ms', serverMs: 'ms', latencyMs: 'ms', deviceEnergyJ: 'J', carbonG: 'g' };
const NAME: Readonly<Record<Metric, string>> = {
  headMs: 'head',
  transferMs: 'transfer',
  serverMs: 'server',
  latencyMs: 'latency',
  deviceEnergyJ: 'device energy',
  carbonG: 'carbon',
};

/** Three significant digits (grams of carbon in exponent form), and infinity written out (a bound with too little calibration). */
export function formatNumber(value: number): string {
  if (value === Number.POSITIVE_INFINITY) return 'inf';
  if (value === 0 || !Number.isFinite(value)) return String(value);
  const magnitude = Math.abs(value);
  if (magnitude < 1e-3 || magnitude >= 1e6) return value.toExponential(2);
  return Number(value.toPrecision(3)).toString();
}

function interval(metric: Metric, p: IntervalPrediction): string {
  return `${NAME[metric]} ${formatNumber(p.point)} ${UNIT[metric]} [${formatNumber(p.lower)}, ${formatNumber(p.upper)}]`;
}

const pointMode = (mode: Decision['mode']): boolean => mode === 'mean' || mode === 'set';

function why(a: CandidateAssessment, d: Pick<Decision, 'sloMs' | 'mode' | 'minQuality' | 'maxCarbonG'>, rule: Constraint): string {
  const latency = pointMode(d.mode) ? 'predicted latency' : 'latency bound';
  switch (rule) {
    case 'slo':
      return `its ${latency} ${formatNumber(a.latencyBound)} ms exceeds the SLO ${formatNumber(d.sloMs)} ms`;
    case 'battery':
      return `the battery is low and it would spend ${formatNumber(a.energyBound)} J on the device`;
    case 'error':
      return a.candidate.maxAbsError === undefined ? 'its output error is unknown' : `its output error ${formatNumber(a.candidate.maxAbsError)} exceeds the limit`;
    case 'quality':
      return a.candidate.quality === undefined
        ? 'its quality is unknown'
        : `its declared quality ${formatNumber(a.candidate.quality)} is below the floor ${formatNumber(d.minQuality ?? Number.NaN)}`;
    case 'budget':
      return `its predicted carbon ${formatNumber(a.carbonG)} g exceeds the budget's cap ${formatNumber(d.maxCarbonG ?? Number.NaN)} g`;
    case 'site':
      return `its site ${a.candidate.site ?? ''} is down`;
    case 'set':
      return `it is not in the conformal set of plausible optima (score ${formatNumber(a.setScore ?? Number.NaN)})`;
  }
}

/**
 * The decision in words: the choice with its intervals, why it (the binding rule, with the
 * candidate it ruled out), and the runners-up with what kept each out.
 */
export function explain(d: Omit<Decision, 'explanation'>): string {
  const metric = OBJECTIVE_METRIC[d.objective];
  const c = d.chosen;
  const p = d.predictions;
  const parts = [
    `${d.mode} mode, objective ${d.objective}${d.preferQuality ? ' (quality first)' : ''}, alpha ${d.alpha}, SLO ${formatNumber(d.sloMs)} ms` +
      `${d.maxCarbonG !== undefined ? `, carbon cap ${formatNumber(d.maxCarbonG)} g` : ''}.`,
    `Chose ${c.candidate.id}${d.explored ? ` (exploring: ${d.exploration?.kind}, instead of ${d.exploration?.instead})` : ''}: ` +
      `${interval('latencyMs', p.latencyMs)}, ${interval('carbonG', p.carbonG)}, ${interval('deviceEnergyJ', p.deviceEnergyJ)}.`,
  ];
  if (d.sloUnmet) {
    parts.push(`No candidate meets the SLO by its ${pointMode(d.mode) ? 'predicted latency' : 'latency bound'}: took the fastest bound (${formatNumber(c.latencyBound)} ms); relaxed: ${d.relaxed.join(', ')}.`);
  } else if (d.relaxed.length > 0) {
    parts.push(`Relaxed: ${d.relaxed.join(', ')} (no candidate kept every rule).`);
  }
  if (d.bound === 'none') parts.push(`Binding constraint: none (the best ${NAME[metric]} of all candidates).`);
  else if (!d.sloUnmet) {
    // The candidate best on the objective alone (quality first, if preferred), which the binding rule kept out.
    const isBetter = preferenceOf(d);
    let best: CandidateAssessment | undefined;
    for (const a of d.assessments) if (a !== c && (!best || isBetter(a, best))) best = a;
    if (best && !(best.excludedBy.includes(d.bound as Constraint) && !isBetter(c, best))) best = undefined;
    if (best) {
      const edge = d.preferQuality && best.candidate.quality !== c.candidate.quality ? `higher quality (${formatNumber(best.candidate.quality ?? Number.NaN)})` : `less ${NAME[metric]} (${formatNumber(best.objectiveValue)} ${UNIT[metric]})`;
      parts.push(`Binding constraint: ${d.bound}: ${best.candidate.id} has ${edge} but ${why(best, d, d.bound as Constraint)}.`);
    } else if (d.bound === 'set') {
      parts.push('Binding constraint: set: within the conformal set of plausible optima, the fastest member is taken, not the one with the best predicted objective.');
    } else parts.push(`Binding constraint: ${d.bound}.`);
  } else parts.push('Binding constraint: slo.');
  if (d.set) parts.push(`Conformal set (threshold ${formatNumber(d.set.threshold)}, ${d.set.calibrationScores} scores): ${d.set.members.join(', ') || 'empty'}.`);
  if (d.runnersUp.length > 0) {
    const lines = d.runnersUp.map(
      (r) => `${r.candidate.id} ${formatNumber(r.objectiveValue)} ${UNIT[metric]}${r.feasible ? '' : ` (out: ${r.excludedBy.map((rule) => why(r, d, rule)).join('; ')})`}`,
    );
    parts.push(`Runners-up: ${lines.join('; ')}.`);
  }
  return parts.join(' ');
}
