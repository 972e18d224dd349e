import { CarboncpError, ErrorCode } from '@carboncp/protocol';

const HOUR_MS = 3_600_000;

/** One forecast slot of grid intensity (g/kWh): its point and the upper end of its interval (e.g. a conformal upper bound). */
export interface ForecastSlot {
  point: number;
  upper: number;
}

export interface CarbonBudgetOptions {
  /** Grams CO2e allowed per period. */
  grams: number;
  /** The period's length (ms); the budget renews at each period's start (no carry-over). */
  periodMs: number;
  /** Epoch ms of the first period's start. */
  start: number;
  /** Length of one forecast slot (ms); default one hour. */
  slotMs?: number;
  /** Expected requests per hour, used until a slot of the current period has passed (then the observed rate). */
  requestsPerHour: number;
  /**
   * How strongly the plan favours clean slots: grams per request in slot h proportional to
   * upper_h^-tilt (0: even grams per request, the optimum of a logarithmic quality; 1 (default):
   * of a square-root quality). See the README, "A carbon budget, paced".
   */
  tilt?: number;
}

export interface CarbonBudgetState {
  options: Required<CarbonBudgetOptions>;
  /** Index of the period in force (0 the first). */
  period: number;
  /** Grams and requests recorded in that period. */
  spentG: number;
  requests: number;
  /** Over every period so far: grams recorded, and grams recorded beyond each period's budget. */
  totalSpentG: number;
  overspendG: number;
  /** The last cap given (g per request), and when (null before any). */
  lastCapG: number | null;
  lastCapAt: number | null;
}

/**
 * A carbon budget spent over a period, paced by the grid's forecast with its uncertainty (issue
 * #11, section 2). cap() gives the per-request carbon cap (DecideOptions.maxCarbonG) for now:
 * the remaining grams R planned over the remaining slots h of the period, with n_h expected
 * requests each, at the upper end u_h of each slot's forecast interval,
 *
 *   energy allowance per request  e_h = k x u_h^-(1 + tilt),   k = R / sum_h n_h u_h^-tilt,
 *
 * so that sum_h n_h e_h u_h = R: the plan keeps the budget even if every slot comes in at its
 * upper bound. With a floor (the least carbon any candidate emits now), its energy is reserved
 * for every request to come first and only the surplus R - sum_h n_h e_min u_h is paced so. The cap for the request in progress is that allowance at the intensity expected
 * now, e_0 x point_0 (<= e_0 x u_0): a wide interval now spends less now and leaves the rest to
 * be re-planned. record() books what a request actually emitted; every cap re-plans from what is
 * left, so errors are corrected as they come (online budgeted allocation, re-solved per request).
 */
export class CarbonBudget {
  readonly options: Required<CarbonBudgetOptions>;
  private period = 0;
  private spentG = 0;
  private requests = 0;
  private totalSpentG = 0;
  private overspendG = 0;
  private lastCapG: number | null = null;
  private lastCapAt: number | null = null;

  constructor(options: CarbonBudgetOptions, state?: CarbonBudgetState) {
    const o: Required<CarbonBudgetOptions> = { slotMs: HOUR_MS, tilt: 1, ...options };
    if (!(o.grams >= 0 && Number.isFinite(o.grams))) throw invalid(`grams must be a finite number >= 0, got ${o.grams}`);
    if (!(o.periodMs > 0 && Number.isFinite(o.periodMs))) throw invalid(`periodMs must be a finite number > 0, got ${o.periodMs}`);
    if (!Number.isFinite(o.start)) throw invalid(`start must be an epoch ms, got ${o.start}`);
    if (!(o.slotMs > 0 && o.slotMs <= o.periodMs)) throw invalid(`slotMs must be in (0, periodMs], got ${o.slotMs}`);
    if (!(o.requestsPerHour > 0 && Number.isFinite(o.requestsPerHour))) throw invalid(`requestsPerHour must be a finite number > 0, got ${o.requestsPerHour}`);
    if (!(o.tilt >= 0 && Number.isFinite(o.tilt))) throw invalid(`tilt must be a finite number >= 0, got ${o.tilt}`);
    this.options = o;
    if (state) {
      this.period = state.period;
      this.spentG = state.spentG;
      this.requests = state.requests;
      this.totalSpentG = state.totalSpentG;
      this.overspendG = state.overspendG;
      this.lastCapG = state.lastCapG;
      this.lastCapAt = state.lastCapAt;
    }
  }

  /** When the period in force at `atMs` ends (epoch ms). */
  periodEnd(atMs: number): number {
    return this.options.start + (this.periodOf(atMs) + 1) * this.options.periodMs;
  }

  /** The number of forecast slots from the one in progress at `atMs` to the period's end: how many cap() reads. */
  slotsLeft(atMs: number): number {
    const { start, slotMs } = this.options;
    const slot0 = Math.floor((atMs - start) / slotMs);
    return Math.ceil((this.periodEnd(atMs) - start) / slotMs) - slot0;
  }

  /** Grams left in the period in force at `atMs` (negative when overspent). */
  remaining(atMs: number): number {
    this.roll(atMs);
    return this.options.grams - this.spentG;
  }

  /**
   * The per-request carbon cap (g) at `atMs`. `forecast[0]` is the slot in progress, then one per
   * slot to the period's end (slotsLeft); a shorter forecast repeats its last slot. `floorG`
   * (default 0): the least carbon any candidate would emit now, at forecast[0].point; with it
   * the plan first reserves that energy for every request to come (at the upper bounds) and
   * paces only the surplus above it, so that the cheap hours do not spend what the dirty ones
   * cannot do without.
   */
  cap(atMs: number, forecast: readonly ForecastSlot[], floorG = 0): number {
    if (forecast.length === 0) throw invalid('cap() needs a forecast of at least the slot in progress');
    if (!(floorG >= 0 && Number.isFinite(floorG))) throw invalid(`floorG must be a finite number >= 0, got ${floorG}`);
    this.roll(atMs);
    const { start, slotMs, tilt } = this.options;
    const left = this.options.grams - this.spentG;
    const now = checkSlot(forecast[0]!);
    // The floor as an energy (kWh-like: grams per g/kWh), to price it in every slot.
    const floorEnergy = now.point > 0 ? floorG / now.point : 0;
    let cap = 0;
    if (left > 0) {
      const end = this.periodEnd(atMs);
      const perMs = this.rate(atMs) / HOUR_MS;
      let slotStart = start + Math.floor((atMs - start) / slotMs) * slotMs;
      let weights = 0;
      let reserve = 0;
      for (let h = 0; slotStart < end; h += 1, slotStart += slotMs) {
        const from = h === 0 ? atMs : slotStart;
        const to = Math.min(end, slotStart + slotMs);
        const upper = checkSlot(forecast[Math.min(h, forecast.length - 1)]!).upper;
        const requests = perMs * Math.max(0, to - from);
        weights += requests * upper ** -tilt;
        reserve += requests * floorEnergy * upper;
      }
      const surplus = left - reserve;
      const paced = surplus > 0 ? (surplus / weights) * now.upper ** -(1 + tilt) * now.point : 0;
      // Near the period's end (under one request expected) the plan would allow more than is left: never more.
      cap = Math.min(left, floorG + paced);
    }
    this.lastCapG = cap;
    this.lastCapAt = atMs;
    return cap;
  }

  /** Books what a request at `atMs` emitted (g). */
  record(grams: number, atMs: number): void {
    if (!(grams >= 0 && Number.isFinite(grams))) throw invalid(`grams recorded must be a finite number >= 0, got ${grams}`);
    this.roll(atMs);
    const before = Math.max(0, this.spentG - this.options.grams);
    this.spentG += grams;
    this.requests += 1;
    this.totalSpentG += grams;
    this.overspendG += Math.max(0, this.spentG - this.options.grams) - before;
  }

  /** The budget's state for telemetry: the period, what was spent and what is left, the last cap. */
  state(): CarbonBudgetState & { remainingG: number; periodStart: number; periodEnd: number } {
    const periodStart = this.options.start + this.period * this.options.periodMs;
    return { ...this.toJSON(), remainingG: this.options.grams - this.spentG, periodStart, periodEnd: periodStart + this.options.periodMs };
  }

  toJSON(): CarbonBudgetState {
    return {
      options: { ...this.options },
      period: this.period,
      spentG: this.spentG,
      requests: this.requests,
      totalSpentG: this.totalSpentG,
      overspendG: this.overspendG,
      lastCapG: this.lastCapG,
      lastCapAt: this.lastCapAt,
    };
  }

  static fromJSON(state: CarbonBudgetState): CarbonBudget {
    return new CarbonBudget(state.options, state);
  }

  private periodOf(atMs: number): number {
    if (!Number.isFinite(atMs)) throw invalid(`a time must be an epoch ms, got ${atMs}`);
    return Math.max(0, Math.floor((atMs - this.options.start) / this.options.periodMs));
  }

  /** Moves to the period in force at `atMs` (never back), renewing the grams. */
  private roll(atMs: number): void {
    const period = this.periodOf(atMs);
    if (period > this.period) {
      this.period = period;
      this.spentG = 0;
      this.requests = 0;
    }
  }

  /** Requests per hour: the prior until one slot of the period has passed, then the period's observed rate. */
  private rate(atMs: number): number {
    const elapsed = atMs - (this.options.start + this.period * this.options.periodMs);
    return elapsed >= this.options.slotMs && this.requests > 0 ? (this.requests * HOUR_MS) / elapsed : this.options.requestsPerHour;
  }
}

function checkSlot(slot: ForecastSlot): ForecastSlot {
  if (!(slot.point >= 0 && slot.upper > 0 && slot.upper >= slot.point && Number.isFinite(slot.upper))) {
    throw invalid(`a forecast slot needs 0 <= point <= upper, upper finite and > 0; got ${JSON.stringify(slot)}`);
  }
  return slot;
}

function invalid(message: string): CarboncpError {
  return new CarboncpError(ErrorCode.INVALID_ARGUMENT, message);
}
