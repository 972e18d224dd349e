import { BudgetPacer, CarbonAwareDecision, CarbonBudget, type DecideOptions, type DecisionCandidate } from '@carboncp/calibrator';
import { seedFromString } from '@carboncp/core';
import type { BudgetForecast } from './budget-forecast.js';
import { indexById, limitsOf, type PolicySettings, type SimPolicy } from './policies.js';
import type { PolicyName } from './policy-names.js';

const HOUR_MS = 3_600_000;

/** The simulation's carbon budget as the budget policies see it. */
export interface BudgetSettings {
  grams: number;
  periodHours: number;
  start: number;
  requestsPerHour: number;
  forecast: BudgetForecast;
}

/** A fresh CarbonBudget of the run's budget (also the simulator's per-policy accounting). */
export function runBudget(b: Omit<BudgetSettings, 'forecast'>, slotMs: number = HOUR_MS): CarbonBudget {
  return new CarbonBudget({ grams: b.grams, periodMs: b.periodHours * HOUR_MS, start: b.start, slotMs: Math.min(slotMs, b.periodHours * HOUR_MS), requestsPerHour: b.requestsPerHour });
}

/**
 * The budget policies (issue #11, section 5): the calibrator's decision in 'mean' mode (point
 * predictions held to the SLO), learning online from the candidate run as carboncp-mean does.
 * Not 'robust': its bounds are infinite until a candidate has ~1/alpha observations, and its
 * cost-bounded exploration never tries a variant costing more than 1.25x the cheapest, so a
 * quality preference under 'robust' stays on the cheapest variant (99.5% of requests over four
 * days in budget.test.ts's world before this was changed). Both prefer, with model variants, the highest declared quality and then the least carbon
 * (preferQuality); without variants, the fastest (objective 'latency'): what a budget buys.
 *
 * - `carboncp-paced`: every request capped by the CarbonBudget's cap (maxCarbonG) from the
 *   grid's forecast with its conformal upper bounds (BudgetForecast), the least carbon of the
 *   last decision's otherwise-feasible candidates reserved as its floor.
 * - `greedy-spender`: no cap until the period's budget is spent, then the least carbon (objective
 *   'carbon', no quality preference) until the period ends.
 */
export function createBudgetPolicy(name: 'carboncp-paced' | 'greedy-spender', candidates: readonly DecisionCandidate[], s: PolicySettings, b: BudgetSettings): SimPolicy {
  const exploration = s.decider.exploration === false ? false : { ...s.decider.exploration, seed: s.decider.exploration?.seed ?? seedFromString(name, s.seed) };
  const decider = new CarbonAwareDecision(candidates, { ...s.decider, alphas: [s.alpha], families: ['robust'], exploration });
  // 'mean' mode: see above.
  const byId = indexById(candidates);
  const pacer = new BudgetPacer(runBudget(b, b.forecast.slotMs));
  const { budget } = pacer;
  const withVariants = candidates.every((c) => c.quality !== undefined);
  const base: DecideOptions = {
    mode: 'mean',
    sloMs: s.sloMs,
    alpha: s.alpha,
    ...limitsOf(s),
    ...(s.batteryReserve !== undefined ? { batteryReserve: s.batteryReserve } : {}),
  };
  const preferred: DecideOptions = withVariants ? { ...base, objective: 'carbon', preferQuality: true } : { ...base, objective: 'latency' };
  const cheapest: DecideOptions = { ...base, objective: 'carbon' };
  return {
    name: name satisfies PolicyName,
    calibrated: false,
    choose(ctx) {
      let request = preferred;
      if (name === 'carboncp-paced') {
        const forecast = b.forecast.slots(ctx.time, budget.slotsLeft(ctx.time));
        request = { ...preferred, maxCarbonG: pacer.cap(ctx.time, forecast) };
      } else if (budget.remaining(ctx.time) <= 0) request = cheapest;
      const d = decider.decide(ctx, request);
      if (name === 'carboncp-paced') pacer.noted(d, ctx.deviceIntensityGPerKwh);
      return { index: byId.get(d.candidate.id)!, interval: null, explored: d.explored, sloUnmet: d.sloUnmet };
    },
    learn(ctx, choice, truth) {
      pacer.record(truth.carbonG[choice.index]!, ctx.time);
      decider.observe(truth.ids[choice.index]!, ctx, truth.observation(choice.index));
    },
  };
}
