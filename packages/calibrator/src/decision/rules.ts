import type { DecisionCandidate } from '../candidates/candidate.js';
import type { DecisionContext } from './context.js';
import { siteDown } from './site-conditions.js';
import { CONSTRAINTS, DEFAULT_BATTERY_RULE, type CandidateAssessment, type Constraint, type ResolvedRequest } from './decision-types.js';

/** Whether the battery rule applies now: on battery, not charging, charge known and at or below its threshold. */
export function batteryLow(ctx: DecisionContext, req: ResolvedRequest): boolean {
  const rule = req.battery;
  return rule !== false && ctx.powerSource === 'battery' && ctx.charging !== true && ctx.batteryPercent !== undefined && ctx.batteryPercent <= rule.belowPercent;
}

/**
 * The output-error rule: with a limit, a candidate stays in only if its maxAbsError is known and
 * within it (an unknown error never meets a limit); without one, every candidate does.
 */
export function withinErrorLimit(c: Pick<DecisionCandidate, 'maxAbsError'>, limit: number | undefined): boolean {
  return limit === undefined || (c.maxAbsError !== undefined && c.maxAbsError <= limit);
}

/**
 * The quality rule: with a floor, a candidate stays in only if its declared quality is known and
 * at least the floor (an unknown quality never meets a floor); without one, every candidate does.
 */
export function withinQualityFloor(c: Pick<DecisionCandidate, 'quality'>, floor: number | undefined): boolean {
  return floor === undefined || (c.quality !== undefined && c.quality >= floor);
}

/** Both hard rules of a candidate's own (output error and quality): what the oracle and 'set' mode's labels allow. */
export function allowedByLimits(c: Pick<DecisionCandidate, 'maxAbsError' | 'quality'>, limits: { maxOutputError?: number | undefined; minQuality?: number | undefined }): boolean {
  return withinErrorLimit(c, limits.maxOutputError) && withinQualityFloor(c, limits.minQuality);
}

/** Whether the request's output-error limit rules a candidate out. */
function outByError(a: CandidateAssessment, limit: number | undefined): boolean {
  return !withinErrorLimit(a.candidate, limit);
}

/** Fills every assessment's excludedBy and feasible (the set rule, if any, is already in excludedBy). Plain loops: it runs per request over every candidate. */
export function applyRules(assessments: CandidateAssessment[], ctx: DecisionContext, req: ResolvedRequest): void {
  const limit = req.maxOutputError;
  const floor = req.minQuality;
  let energyCap = Number.POSITIVE_INFINITY;
  if (batteryLow(ctx, req) && req.battery !== false) {
    if (req.battery.maxDeviceEnergyJ !== undefined) energyCap = req.battery.maxDeviceEnergyJ;
    else {
      let least = Number.POSITIVE_INFINITY;
      for (const a of assessments) if (!outByError(a, limit) && withinQualityFloor(a.candidate, floor) && a.energyBound < least) least = a.energyBound;
      energyCap = least * (1 + (req.battery.slack ?? DEFAULT_BATTERY_RULE.slack));
    }
  }
  const sloMs = req.sloMs;
  const carbonCap = req.maxCarbonG ?? Number.POSITIVE_INFINITY;
  for (const a of assessments) {
    const out = a.excludedBy;
    const setOut = out.length > 0 && out.includes('set');
    // Setting an array's length is a runtime call: only when there is something to clear.
    if (out.length > 0) out.length = 0;
    if (outByError(a, limit)) out.push('error');
    if (!withinQualityFloor(a.candidate, floor)) out.push('quality');
    if (a.energyBound > energyCap) out.push('battery');
    if (!(a.latencyBound <= sloMs)) out.push('slo');
    if (a.carbonG > carbonCap) out.push('budget');
    if (setOut) out.push('set');
    if (siteDown(a.candidate, ctx)) out.push('site');
    a.feasible = out.length === 0;
  }
}

/** Better on the objective: lower value, then lower latency point, then earlier in the list. */
function better(a: CandidateAssessment, b: CandidateAssessment): boolean {
  if (a.objectiveValue !== b.objectiveValue) return a.objectiveValue < b.objectiveValue;
  return a.latency.point < b.latency.point;
}

/** A declared quality, unknown counting lowest. */
const qualityOf = (a: CandidateAssessment): number => a.candidate.quality ?? Number.NEGATIVE_INFINITY;

/** Better with preferQuality: higher declared quality, then better on the objective. */
function betterQuality(a: CandidateAssessment, b: CandidateAssessment): boolean {
  const qa = qualityOf(a);
  const qb = qualityOf(b);
  return qa !== qb ? qa > qb : better(a, b);
}

/** The request's order of preference among candidates: the objective, or quality first (preferQuality). */
export function preferenceOf(req: { preferQuality?: boolean | undefined }): (a: CandidateAssessment, b: CandidateAssessment) => boolean {
  return req.preferQuality ? betterQuality : better;
}

/** Less carbon by the point prediction, then faster: the budget's choice when nothing fits its cap. */
function cheaper(a: CandidateAssessment, b: CandidateAssessment): boolean {
  return a.carbonG !== b.carbonG ? a.carbonG < b.carbonG : a.latency.point < b.latency.point;
}

function bestBy(assessments: readonly CandidateAssessment[], keep: (a: CandidateAssessment) => boolean, isBetter: (a: CandidateAssessment, b: CandidateAssessment) => boolean): CandidateAssessment | undefined {
  let best: CandidateAssessment | undefined;
  for (const a of assessments) if (keep(a) && (!best || isBetter(a, best))) best = a;
  return best;
}

/** Faster by the latency bound, then the latency point. */
function faster(a: CandidateAssessment, b: CandidateAssessment): boolean {
  return a.latencyBound !== b.latencyBound ? a.latencyBound < b.latencyBound : a.latency.point < b.latency.point;
}

export interface Choice {
  chosen: CandidateAssessment;
  sloUnmet: boolean;
  relaxed: Constraint[];
  bound: Constraint | 'none';
}

/**
 * The best feasible candidate on the objective (with preferQuality: on quality, then the
 * objective; 'set' mode: the fastest feasible member of the set). Without one: first the set is
 * dropped (a preference, not a rule) and the best on the objective taken; then the budget's cap
 * (the least-carbon candidate that keeps every other rule); then the stated fallback: the fastest latency bound among candidates that
 * keep the error limit and the battery rule (relaxing, if none does, the battery rule and then
 * the error limit), flagged sloUnmet when even that bound misses the SLO.
 */
export function choose(assessments: readonly CandidateAssessment[], req: ResolvedRequest): Choice {
  // The best of all and the best feasible in one pass (each as bestBy would find it).
  const setMode = req.mode === 'set';
  const isBetter = preferenceOf(req);
  let unconstrained: CandidateAssessment | undefined;
  let feasible: CandidateAssessment | undefined;
  for (const a of assessments) {
    if (!unconstrained || isBetter(a, unconstrained)) unconstrained = a;
    if (a.feasible && (!feasible || (setMode ? faster(a, feasible) : isBetter(a, feasible)))) feasible = a;
  }
  const best = unconstrained!;
  const boundOf = (chosen: CandidateAssessment): Constraint | 'none' =>
    chosen === best ? 'none' : (CONSTRAINTS.find((c) => best.excludedBy.includes(c)) ?? (setMode ? 'set' : 'none'));
  if (feasible) return { chosen: feasible, sloUnmet: false, relaxed: [], bound: boundOf(feasible) };
  const outsideSet = bestBy(assessments, (a) => a.excludedBy.length === 1 && a.excludedBy[0] === 'set', isBetter);
  if (outsideSet) return { chosen: outsideSet, sloUnmet: false, relaxed: ['set'], bound: boundOf(outsideSet) };
  const overBudget = bestBy(assessments, (a) => a.excludedBy.every((r) => r === 'budget' || r === 'set'), cheaper);
  if (overBudget) return { chosen: overBudget, sloUnmet: false, relaxed: [...overBudget.excludedBy], bound: boundOf(overBudget) };
  const passes = (a: CandidateAssessment, rules: readonly Constraint[]): boolean => rules.every((r) => !a.excludedBy.includes(r));
  for (const keep of [['site', 'error', 'quality', 'battery'], ['site', 'error', 'quality'], ['site']] as const) {
    const chosen = bestBy(assessments, (a) => passes(a, keep), faster);
    if (!chosen) continue;
    const sloUnmet = chosen.excludedBy.includes('slo');
    return { chosen, sloUnmet, relaxed: [...chosen.excludedBy], bound: sloUnmet ? 'slo' : boundOf(chosen) };
  }
  // Unreachable: the last pass keeps every candidate, and there is at least one.
  return { chosen: best, sloUnmet: true, relaxed: ['slo'], bound: 'slo' };
}

/** Ahead among the runners-up: feasible first, then better on the objective. */
function ahead(a: CandidateAssessment, b: CandidateAssessment): boolean {
  return a.feasible !== b.feasible ? a.feasible : better(a, b);
}

/** Ahead with preferQuality: feasible first, then quality, then the objective. */
function aheadQuality(a: CandidateAssessment, b: CandidateAssessment): boolean {
  return a.feasible !== b.feasible ? a.feasible : betterQuality(a, b);
}

/** The three best others on the objective (with preferQuality: quality first), feasible ones first. */
export function runnersUp(assessments: readonly CandidateAssessment[], chosen: CandidateAssessment, count = 3, preferQuality = false): CandidateAssessment[] {
  const isAhead = preferQuality ? aheadQuality : ahead;
  const out: CandidateAssessment[] = [];
  // A few linear passes: cheaper than sorting every candidate on each request.
  while (out.length < count) {
    let next: CandidateAssessment | undefined;
    for (const a of assessments) if (a !== chosen && !taken(out, a) && (!next || isAhead(a, next))) next = a;
    if (!next) break;
    out.push(next);
  }
  return out;
}

/** Whether `a` is in the (short) list: a loop, not includes(), which is a call per candidate. */
function taken(list: readonly CandidateAssessment[], a: CandidateAssessment): boolean {
  for (const b of list) if (b === a) return true;
  return false;
}
