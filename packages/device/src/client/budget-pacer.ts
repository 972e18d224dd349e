import { BudgetPacer, CarbonBudget, ConformalForecast, type Decision, type ForecastSlot } from '@carboncp/calibrator';
import { FORECAST_METHODS, type ForecastMethod, type IntensityPoint } from '@carboncp/carbon';
import { badOption } from './client-options.js';
import type { RequestTelemetry } from './types.js';

const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;

/**
 * createClient's `budget` (with a calibrator): grams of CO2e to spend per period, paced by the
 * forecast of the device's grid (README, "A carbon budget"). Every duration is in milliseconds.
 */
export interface ClientBudgetOptions {
  /** Grams CO2e allowed per period (> 0). */
  grams: number;
  /**
   * The period (issue #11's name): milliseconds, or a duration 'N' + unit ('30m', '1h', '24h',
   * '7d'); the budget renews at each period's start, no carry-over. Give it or `periodMs`.
   */
  period?: number | string;
  /** The period's length in milliseconds (e.g. 86_400_000 for a day): `period` as a number. */
  periodMs?: number;
  /** Epoch ms of the first period's start; default the client's clock when it is built. */
  start?: number;
  /** Requests per hour expected until one slot of the period has passed (then the observed rate); default 60. */
  requestsPerHour?: number;
  /** One forecast slot (ms, a whole number of minutes dividing a day, at most periodMs); default one hour or periodMs if shorter. */
  slotMs?: number;
  /** How strongly clean slots are favoured (CarbonBudgetOptions.tilt); default 1. */
  tilt?: number;
  /**
   * The forecast of the device's grid, cached (no I/O on a request): the slot in progress first,
   * then one per slot, each with its point and the upper end of its interval (g/kWh). Default:
   * a ConformalForecast (`forecastMethod`, `alpha`) fed, per slot, the mean of the device
   * intensities the client read in it; before its first slot ends, the intensity read now.
   */
  forecast?: () => readonly ForecastSlot[] | undefined;
  /** The default forecast's method (@carboncp/carbon FORECAST_METHODS); default 'seasonal-ewma'. */
  forecastMethod?: ForecastMethod;
  /** Miscoverage of the default forecast's conformal upper bounds; default 0.1. */
  alpha?: number;
}

/** The cap a decision was made under: grams, the forecast slot it was planned with, and whether it changed the choice. */
export interface BudgetCap {
  capG: number;
  now: ForecastSlot;
  bound: boolean;
}

/** The budget's state as a request's telemetry (and client.budgetState()) reports it. */
export interface BudgetTelemetry {
  grams: number;
  periodMs: number;
  /** Index of the period in force (0 the first) and its bounds (epoch ms). */
  period: number;
  periodStart: number;
  periodEnd: number;
  /** Grams booked in the period, and left (negative when overspent). */
  spentG: number;
  remainingG: number;
  /** Requests booked in the period. */
  requests: number;
  /** Grams booked beyond each period's budget, over every period so far. */
  overspendG: number;
  /** The cap given to this request (g): absent when it was not capped (a caller's fixed choice). */
  capG?: number;
  /** The forecast slot in progress the cap was planned with (g/kWh). */
  forecastNow?: ForecastSlot;
  /** Whether the cap changed the choice (the decision's binding rule was 'budget', or it was relaxed because nothing fitted). */
  bound?: boolean;
  /** What this request booked (g), and whether from its measured footprint or the decision's predicted carbon. */
  bookedG?: number;
  bookedFrom?: 'footprint' | 'prediction';
}

/** ClientBudgetOptions with the period resolved to milliseconds. */
export type ResolvedBudgetOptions = Omit<ClientBudgetOptions, 'period' | 'periodMs'> & { periodMs: number };

const DURATION_UNITS_MS: Record<string, number> = { s: 1000, m: MINUTE_MS, h: HOUR_MS, d: 24 * HOUR_MS };

/** `period` (ms, or 'N' + s/m/h/d) or `periodMs`, in milliseconds; NaN when malformed. */
function periodMsOf(o: ClientBudgetOptions): number {
  const given = o.period ?? o.periodMs;
  if (typeof given === 'number') return given;
  const match = typeof given === 'string' && o.period !== undefined ? /^(\d+(?:\.\d+)?)([smhd])$/.exec(given.trim()) : null;
  return match ? Number(match[1]) * DURATION_UNITS_MS[match[2]!]! : Number.NaN;
}

export function checkBudgetOptions(o: ClientBudgetOptions | undefined): ResolvedBudgetOptions | undefined {
  if (o === undefined) return undefined;
  if (o === null || typeof o !== 'object') throw badOption('budget must be an object { grams, period }');
  if (!(typeof o.grams === 'number' && Number.isFinite(o.grams) && o.grams > 0)) throw badOption(`budget.grams must be a number of grams CO2e > 0, got ${String(o.grams)}`);
  if (o.period !== undefined && o.periodMs !== undefined) throw badOption('budget takes period or periodMs, not both');
  const periodMs = periodMsOf(o);
  if (!(Number.isFinite(periodMs) && periodMs > 0)) {
    throw badOption(
      `budget.period must be milliseconds > 0 or a duration such as '30m', '1h', '24h', '7d' (periodMs: milliseconds), got ${JSON.stringify(o.period ?? o.periodMs)}`,
    );
  }
  const slotMs = o.slotMs ?? Math.min(HOUR_MS, periodMs);
  if (!(Number.isInteger(slotMs / MINUTE_MS) && slotMs > 0 && slotMs <= periodMs && (1440 * MINUTE_MS) % slotMs === 0)) {
    throw badOption(`budget.slotMs must be a whole number of minutes that divides a day and is at most periodMs, got ${String(o.slotMs ?? slotMs)}`);
  }
  if (o.forecast !== undefined && typeof o.forecast !== 'function') throw badOption('budget.forecast must be a function returning cached forecast slots');
  if (o.forecastMethod !== undefined && !FORECAST_METHODS.includes(o.forecastMethod)) {
    throw badOption(`budget.forecastMethod must be one of ${FORECAST_METHODS.join(', ')}, got ${JSON.stringify(o.forecastMethod)}`);
  }
  const { period: _period, periodMs: _periodMs, ...rest } = o;
  return { ...rest, periodMs };
}

/** createClient's `budget` checked (before anything loads): its options, and that a calibrator is there to cap. */
export function checkClientBudget(budget: ClientBudgetOptions | undefined, calibrator: unknown): void {
  checkBudgetOptions(budget);
  if (budget !== undefined && calibrator === undefined) throw badOption('budget needs a calibrator: the budget caps the carbon-aware decision');
}

/**
 * A device client's carbon budget: a CarbonBudget paced by the calibrator's BudgetPacer (the
 * simulator's carboncp-paced does the same) from a forecast of the device's grid with conformal
 * upper bounds, so an uncertain forecast spends cautiously. cap() before a decision, noted() after
 * it, book() once the request has finished.
 */
export class ClientBudget {
  readonly pacer: BudgetPacer;
  private readonly options: ResolvedBudgetOptions;
  private readonly conformal: ConformalForecast | undefined;
  /** The default forecast's slot being observed: its index and the readings so far. */
  private observing: { slot: number; sum: number; n: number } | undefined;

  constructor(
    options: ClientBudgetOptions,
    startMs: number,
    private readonly deviceIntensity: () => IntensityPoint | undefined,
    private readonly fallbackGPerKwh: number,
  ) {
    this.options = checkBudgetOptions(options)!;
    const slotMs = this.options.slotMs ?? Math.min(HOUR_MS, this.options.periodMs);
    this.pacer = new BudgetPacer(
      new CarbonBudget({
        grams: options.grams,
        periodMs: this.options.periodMs,
        start: options.start ?? startMs,
        slotMs,
        requestsPerHour: options.requestsPerHour ?? 60,
        ...(options.tilt !== undefined ? { tilt: options.tilt } : {}),
      }),
    );
    if (!options.forecast) {
      this.conformal = new ConformalForecast({ method: options.forecastMethod ?? 'seasonal-ewma', stepMinutes: slotMs / MINUTE_MS, alpha: options.alpha ?? 0.1 });
    }
  }

  /** The cap (g) for a request decided now, and the forecast slot in progress it was planned with. */
  cap(epochMs: number): { capG: number; now: ForecastSlot } {
    const forecast = this.forecast(epochMs);
    return { capG: this.pacer.cap(epochMs, forecast), now: forecast[0]! };
  }

  noted(decision: Pick<Decision, 'assessments'>, deviceIntensityGPerKwh: number): void {
    this.pacer.noted(decision, deviceIntensityGPerKwh);
  }

  /**
   * Books a finished request: its measured footprint's total carbon when the client has one
   * (footprint option), else the carbon its decision predicted (point), else, for a caller's fixed
   * choice, `predict()`'s (the calibrator's point prediction for the plan that ran); a request with
   * none books nothing and says so (bookedG absent).
   */
  book(telemetry: RequestTelemetry, epochMs: number, predict?: () => number | undefined): Pick<BudgetTelemetry, 'bookedG' | 'bookedFrom'> {
    const measured = telemetry.footprint?.totalCarbonG;
    // A caller's fixed choice has no decision: the calibrator's point prediction for what ran.
    const predicted = telemetry.decision?.intervals.carbonG?.point ?? (measured === undefined ? predict?.() : undefined);
    const grams = measured ?? predicted;
    if (grams === undefined || !(grams >= 0)) return {};
    this.pacer.record(grams, epochMs);
    return { bookedG: grams, bookedFrom: measured !== undefined ? 'footprint' : 'prediction' };
  }

  /**
   * Books a finished request and returns its `telemetry.budget`: the budget's state after it, the
   * cap it was decided under (absent for a caller's fixed choice) and what it booked.
   */
  bookTelemetry(telemetry: RequestTelemetry, epochMs: number, cap: BudgetCap | undefined, predict?: () => number | undefined): BudgetTelemetry {
    const booked = this.book(telemetry, epochMs, predict);
    return { ...this.state(epochMs), ...(cap ? { capG: cap.capG, forecastNow: cap.now, bound: cap.bound } : {}), ...booked };
  }

  /** The budget now: the period in force at `epochMs` (a new period starts with its grams renewed). */
  state(epochMs: number): BudgetTelemetry {
    const remainingG = this.pacer.budget.remaining(epochMs);
    const s = this.pacer.budget.state();
    return {
      grams: s.options.grams,
      periodMs: s.options.periodMs,
      period: s.period,
      periodStart: s.periodStart,
      periodEnd: s.periodEnd,
      spentG: s.spentG,
      remainingG,
      requests: s.requests,
      overspendG: s.overspendG,
    };
  }

  /** The forecast from now to the period's end: the caller's, or the default conformal one fed with the intensities read. */
  private forecast(epochMs: number): ForecastSlot[] {
    const count = this.pacer.budget.slotsLeft(epochMs);
    if (this.options.forecast) {
      const given = this.options.forecast();
      if (!given || given.length === 0) throw badOption('budget.forecast returned no slot: it must give at least the slot in progress');
      return [...given];
    }
    const reading = this.deviceIntensity()?.gPerKwh;
    this.observe(epochMs, reading);
    return this.conformal!.slots(count, reading ?? this.fallbackGPerKwh);
  }

  /** Feeds the default forecaster each ended slot's mean reading (a slot without one: a gap). */
  private observe(epochMs: number, reading: number | undefined): void {
    const { start, slotMs } = this.pacer.budget.options;
    const slot = Math.floor((epochMs - start) / slotMs);
    if (this.observing && slot > this.observing.slot) {
      const { sum, n } = this.observing;
      this.conformal!.update(n > 0 ? sum / n : Number.NaN);
      // Slots with no request in them are gaps (at most a day of them: the forecaster repeats its last value).
      for (let gap = Math.min(slot - this.observing.slot - 1, 1440); gap > 0; gap -= 1) this.conformal!.update(Number.NaN);
      this.observing = undefined;
    }
    if (!this.observing || slot > this.observing.slot) this.observing = { slot, sum: 0, n: 0 };
    if (reading !== undefined && Number.isFinite(reading)) {
      this.observing.sum += reading;
      this.observing.n += 1;
    }
  }
}
