import type { Decision } from './decision-types.js';
import { CarbonBudget, type CarbonBudgetOptions, type ForecastSlot } from './carbon-budget.js';

/**
 * How a decision is held to a CarbonBudget, request after request (the simulator's
 * `carboncp-paced` policy and the device client's `budget` share it): cap() asks the budget for
 * the request's cap with the forecast of the slots to come, reserving as its floor the least
 * carbon the previous decision saw among the candidates only the budget kept out (the cheapest
 * that would otherwise do), so that cheap hours do not spend what dirty ones cannot do without;
 * noted() reads that floor off a decision; record() books what a request emitted.
 */
export class BudgetPacer {
  readonly budget: CarbonBudget;
  /**
   * The floor as an energy (g per g/kWh of the device's grid when it was seen), so that it is
   * priced at each slot's intensity: 0 until a decision was noted.
   */
  private floorEnergy = 0;

  constructor(budget: CarbonBudget | CarbonBudgetOptions) {
    this.budget = budget instanceof CarbonBudget ? budget : new CarbonBudget(budget);
  }

  /** The per-request cap (g) at `atMs`: `forecast` as CarbonBudget.cap takes it (the slot in progress first). */
  cap(atMs: number, forecast: readonly ForecastSlot[]): number {
    const now = forecast[0];
    return this.budget.cap(atMs, forecast, now ? this.floorEnergy * now.point : 0);
  }

  /** Reads the floor off a decision taken with the cap, at the device grid's intensity it was taken at (g/kWh). */
  noted(decision: Pick<Decision, 'assessments'>, deviceIntensityGPerKwh: number): void {
    if (!(deviceIntensityGPerKwh > 0)) return;
    let least = Number.POSITIVE_INFINITY;
    for (const a of decision.assessments) if (a.carbonG < least && a.excludedBy.every((r) => r === 'budget')) least = a.carbonG;
    if (Number.isFinite(least)) this.floorEnergy = least / deviceIntensityGPerKwh;
  }

  /** Books what a request at `atMs` emitted (g). */
  record(grams: number, atMs: number): void {
    this.budget.record(grams, atMs);
  }
}
