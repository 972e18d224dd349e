import type { MeanSd } from '@carboncp/calibrator';
import { createForecaster, meanCapacity, type CapacityTrace, type ForecastMethod, type TraceSeries } from '@carboncp/carbon';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import type { CarbonView, UtilisationTrace } from './options.js';

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

/**
 * A grid's intensity over the simulated span, step by step (the trace's own grid, looped): the
 * truth, and what a device knows of the step in progress (see CarbonView). Built before the run,
 * since neither depends on any policy.
 */
export class IntensityTrack {
  readonly truth: Float64Array;
  readonly seen: Float64Array;
  private readonly stepMs: number;
  private readonly firstStep: number;

  constructor(
    readonly series: TraceSeries,
    startMs: number,
    endMs: number,
    view: CarbonView,
    method: ForecastMethod,
    warmupDays: number,
  ) {
    const length = series.values.length;
    if (length === 0) throw new CarboncpError(ErrorCode.BAD_TRACE, `the carbon trace of zone '${series.zone}' is empty`);
    const values = filledForward(series);
    this.stepMs = series.stepMinutes * MINUTE_MS;
    this.firstStep = Math.floor((startMs - series.startMs) / this.stepMs);
    const steps = Math.floor((endMs - series.startMs) / this.stepMs) - this.firstStep + 1;
    const valueAt = (step: number): number => values[((step % length) + length) % length]!;
    this.truth = new Float64Array(steps);
    this.seen = new Float64Array(steps);
    const forecaster = view === 'forecast' ? createForecaster(method, series.stepMinutes) : undefined;
    if (forecaster) {
      const warmup = Math.ceil((warmupDays * DAY_MS) / this.stepMs);
      for (let s = this.firstStep - warmup; s < this.firstStep; s += 1) forecaster.update(valueAt(s));
    }
    for (let j = 0; j < steps; j += 1) {
      const step = this.firstStep + j;
      this.truth[j] = valueAt(step);
      if (view === 'true') this.seen[j] = this.truth[j]!;
      else if (view === 'last-known') this.seen[j] = valueAt(step - 1);
      else {
        // A forecaster with no history yet (no warm-up days) knows nothing better than the last value.
        const f = forecaster!.seen > 0 ? forecaster!.predict(1) : valueAt(step - 1);
        this.seen[j] = f;
        forecaster!.update(this.truth[j]!);
      }
    }
  }

  /** Index into truth/seen of the step in force at epoch ms `t`. */
  indexAt(t: number): number {
    return Math.floor((t - this.series.startMs) / this.stepMs) - this.firstStep;
  }
}

/** The series' values with each gap (NaN) taken as the last value before it (leading gaps: the first value). */
export function filledForward(series: TraceSeries): Float64Array {
  const out = Float64Array.from(series.values);
  const first = out.findIndex((v) => !Number.isNaN(v));
  if (first < 0) throw new CarboncpError(ErrorCode.BAD_TRACE, `the carbon trace of zone '${series.zone}' has no values`);
  let last = out[first]!;
  for (let i = 0; i < out.length; i += 1) {
    if (Number.isNaN(out[i]!)) out[i] = last;
    else last = out[i]!;
  }
  return out;
}

/**
 * The device's estimate of a link: before each request it probes the mean capacity over the last
 * `probeMs` (trace time) and folds it into an exponentially weighted mean and variance (weight w
 * on the newest; the incremental form of Finch 2009, 'Incremental calculation of weighted mean
 * and variance'). The estimate thus lags the truth by the EWMA's
 * memory, as the SDK's network estimate does; it depends on no policy, so every policy sees it.
 */
export class LinkEstimator {
  private mean: number;
  private variance: number;

  constructor(
    private readonly trace: CapacityTrace,
    private readonly probeMs: number,
    private readonly weight: number,
    prior: MeanSd,
  ) {
    this.mean = prior.mean;
    this.variance = prior.sd * prior.sd;
  }

  probe(traceTimeMs: number): void {
    const x = meanCapacity(this.trace, traceTimeMs - this.probeMs, traceTimeMs);
    const diff = x - this.mean;
    const step = this.weight * diff;
    this.mean += step;
    this.variance = (1 - this.weight) * (this.variance + diff * step);
  }

  /** The estimate (bit/s); floored at 1 bit/s, as the decision refuses a zero uplink. */
  estimate(): MeanSd {
    return { mean: Math.max(1, this.mean), sd: Math.sqrt(Math.max(0, this.variance)) };
  }
}

/** The server's utilisation by other clients at an instant: a constant, or a load trace looped from the start. */
export function utilisationAt(load: number | UtilisationTrace, startMs: number, t: number): number {
  if (typeof load === 'number') return load;
  const n = load.values.length;
  const step = Math.floor((t - startMs) / (load.stepMinutes * MINUTE_MS));
  return load.values[((step % n) + n) % n]!;
}

/** CARBONCP_INVALID_ARGUMENT unless every utilisation is in [0, 0.99] (an M/M/1 queue at 1 never drains). */
export function checkUtilisation(load: number | UtilisationTrace): void {
  const values = typeof load === 'number' ? [load] : Array.from(load.values);
  if (typeof load !== 'number' && !(Number.isFinite(load.stepMinutes) && load.stepMinutes > 0 && values.length > 0)) {
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, 'a utilisation trace needs values and a step in minutes > 0');
  }
  const bad = values.find((v) => !(v >= 0 && v <= 0.99));
  if (bad !== undefined) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `server utilisation must be in [0, 0.99], got ${bad}`);
}
