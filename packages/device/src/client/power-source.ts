import { estimatePowerW, powerModelSource, type DeviceProfile } from '@carboncp/carbon';
import { systemClock, type Clock, type ClockTimer } from './clock.js';

/**
 * Power and battery of the device, behind one small interface. Platform-neutral: the sources
 * that read sysfs, ioreg or WMI live in ../node/power/ and the browser gets its own later; this
 * file holds the types, the sampler that keeps their readings off the request path, and the
 * energy accounting over a window.
 */

/** `measured`: a sensor said so. `estimated`: a model computed it (the reading's source names the model). */
export type PowerKind = 'measured' | 'estimated';

/**
 * One reading of a power source. Units are in the names; every field is optional except the
 * labels, because no platform gives all of them (a desktop has no battery, a laptop on mains has
 * no measured system draw).
 */
export interface PowerReading {
  /** Device power draw in watts (the whole device where the source can see it; `source` says what it covers). */
  watts?: number;
  /** Battery charge in percent of its present full capacity, 0..100. */
  batteryPercent?: number;
  /**
   * Energy the battery holds when full, in Wh: its present full capacity (worn), not the design
   * one; where the source reports it (power_supply energy_full or charge_full x voltage, WMI
   * FullChargedCapacity).
   */
  batteryFullWh?: number;
  /** True while a battery charges. */
  charging?: boolean;
  /** True when the device runs from external power (mains, USB), false on battery. */
  externalPower?: boolean;
  /**
   * A monotonic energy counter in joules since the source started counting (RAPL, already
   * unwrapped): only deltas mean anything.
   */
  energyJoules?: number;
  kind: PowerKind;
  /** What produced it, e.g. `rapl:package-0`, `power_supply:BAT0 power_now`, `model:cpu-utilisation(idle 2 W, active 6 W)`. */
  source: string;
  /** Clock.now() (monotonic ms) when the reading was taken; the sampler stamps it with its own clock (the middle of the read). */
  at: number;
  /** Why a better source was not used, what was skipped (EACCES on RAPL, battery on mains). */
  diagnostics?: string[];
}

export interface PowerSource {
  /** A short name of the source (`linux-power-supply`, `rapl`, `jetson-ina3221`, `ioreg`, `wmi`, `model`). */
  readonly name: string;
  /** Reads the sensor now. Slow (file reads, a child process): call it from a timer, never from a request. */
  read(): Promise<PowerReading>;
  /**
   * How often sampling is worth it, where a read is costly or the value updates slowly (WMI:
   * a PowerShell start per read, a rate the firmware refreshes every few seconds). The sampler's
   * default interval.
   */
  readonly suggestedIntervalMs?: number;
}

/** A device power model (the device profile's idle and active watts), driven by CPU utilisation. */
export interface PowerModel {
  idleWatts: number;
  activeWatts: number;
  /** Where the numbers come from (a device profile id, a datasheet). */
  source: string;
}

/** The power model of a device profile (devices/): its idle and active watts, refused where the profile has none. */
export function powerModelOf(profile: DeviceProfile): PowerModel {
  return { idleWatts: estimatePowerW(profile, 0), activeWatts: estimatePowerW(profile, 1), source: powerModelSource(profile) };
}

/** Model power at a utilisation 0..1: linear between idle and active (the usual first-order CPU model). */
export function modelWatts(model: PowerModel, utilisation: number): number {
  const u = Math.min(1, Math.max(0, Number.isFinite(utilisation) ? utilisation : 0));
  return model.idleWatts + (model.activeWatts - model.idleWatts) * u;
}

/**
 * Delta of an energy counter that wraps to 0 after `maxRange` (RAPL's `max_energy_range_uj`).
 * A reading below the previous one means exactly one wrap (sampled often enough: a package at
 * 100 W wraps a 2^32 µJ counter in about 43 s, the usual 262143328850 µJ range in about 44 min).
 */
export function counterDelta(previous: number, next: number, maxRange: number): number {
  if (next >= previous) return next - previous;
  return maxRange - previous + next;
}

/** Energy of a window, and how it was obtained. */
export interface WindowEnergy {
  joules: number;
  kind: PowerKind;
  /**
   * `counter`: an energy counter interpolated at the window's edges; `integrated`: measured power
   * integrated over the window (trapezoid between samples); `model`: estimated power integrated
   * the same way.
   */
  method: 'counter' | 'integrated' | 'model';
  source: string;
  /** Milliseconds of the window past the newest sample (or before the oldest), held at the nearest rate: 0 when fully bracketed. */
  extrapolatedMs: number;
}

/**
 * Energy spent over [t0, t1] (Clock.now() ms) from a history of readings, best method first:
 * a counter delta where the readings carry one, else measured power integrated, else estimated
 * power integrated (whichever the newest reading has: older readings of another kind are left
 * out); undefined when the history holds nothing usable (never a made-up constant).
 * Readings must be in time order (the sampler keeps them so).
 */
export function energyOverWindow(history: readonly PowerReading[], t0: number, t1: number): WindowEnergy | undefined {
  if (!(t1 >= t0)) return undefined;
  // The newest reading decides what is live: a counter from a source that stopped answering, or
  // measured power from before the device went onto mains, must not stand in for the present.
  const newest = history[history.length - 1];
  if (newest?.energyJoules !== undefined && newest.kind === 'measured') {
    const counter = readingsFrom(history, t0, (r) => r.energyJoules !== undefined && r.kind === 'measured');
    if (counter.length >= 2) return counterEnergy(counter, t0, t1);
  }
  let newestWithWatts: PowerReading | undefined;
  for (let i = history.length - 1; i >= 0 && !newestWithWatts; i--) if (history[i]!.watts !== undefined) newestWithWatts = history[i];
  if (newestWithWatts) {
    const kind = newestWithWatts.kind;
    return powerEnergy(readingsFrom(history, t0, (r) => r.watts !== undefined && r.kind === kind), t0, t1);
  }
  return undefined;
}

/**
 * The readings that pass `keep`, oldest first, back from the newest to the first one before t0
 * (and at least two; all of them when none is before t0). A request's window is the last tens of
 * milliseconds of a history of minutes: this is everything the window's arithmetic reads (the
 * pair around each edge, the samples inside, the first and last for extrapolation), so a lookup
 * costs what the window holds, not what the history holds; counterEnergy and powerEnergy give
 * the same answer on these as on all the readings that pass `keep` (tested).
 */
export function readingsFrom(history: readonly PowerReading[], t0: number, keep: (reading: PowerReading) => boolean): PowerReading[] {
  const picked: PowerReading[] = [];
  for (let i = history.length - 1; i >= 0; i--) {
    const reading = history[i]!;
    if (!keep(reading)) continue;
    picked.push(reading);
    if (reading.at < t0 && picked.length >= 2) break;
  }
  return picked.reverse();
}

/** Energy over [t0, t1] from at least two counter readings in time order: the counter interpolated at both edges. */
export function counterEnergy(counter: readonly PowerReading[], t0: number, t1: number): WindowEnergy {
  const points = counter.map((r) => ({ t: r.at, v: r.energyJoules as number }));
  const a = interpolateCounter(points, t0);
  const b = interpolateCounter(points, t1);
  return {
    joules: Math.max(0, b.value - a.value),
    kind: 'measured',
    method: 'counter',
    source: counter[counter.length - 1]!.source,
    extrapolatedMs: Math.min(t1 - t0, a.extrapolatedMs + b.extrapolatedMs),
  };
}

/** Energy over [t0, t1] from at least one power reading (all of one kind) in time order: the power integrated. */
export function powerEnergy(samples: readonly PowerReading[], t0: number, t1: number): WindowEnergy {
  const kind = samples[samples.length - 1]!.kind;
  const points = samples.map((r) => ({ t: r.at, v: r.watts as number }));
  const first = points[0]!.t;
  const last = points[points.length - 1]!.t;
  const extrapolatedMs = Math.max(0, Math.min(t1, first) - t0) + Math.max(0, t1 - Math.max(t0, last));
  return {
    joules: integratePiecewiseLinear(points, t0, t1) / 1000,
    kind,
    method: kind === 'measured' ? 'integrated' : 'model',
    source: samples[samples.length - 1]!.source,
    extrapolatedMs: Math.min(t1 - t0, extrapolatedMs),
  };
}

interface Point {
  t: number;
  v: number;
}

/**
 * A counter's value at time t: linear between the samples around t; outside them, extended at
 * the rate of the nearest two samples (and that stretch counted as extrapolated).
 */
function interpolateCounter(points: readonly Point[], t: number): { value: number; extrapolatedMs: number } {
  const n = points.length;
  let i = 1;
  if (t >= points[n - 1]!.t) i = n - 1;
  else if (t > points[0]!.t) while (i < n - 1 && points[i]!.t < t) i++;
  const p = points[i - 1]!;
  const q = points[i]!;
  const rate = q.t > p.t ? (q.v - p.v) / (q.t - p.t) : 0;
  const value = p.v + rate * (t - p.t);
  const extrapolatedMs = t > points[n - 1]!.t ? t - points[n - 1]!.t : t < points[0]!.t ? points[0]!.t - t : 0;
  return { value, extrapolatedMs };
}

/**
 * Integral over [t0, t1] of the function through `points` (linear between them, constant
 * before the first and after the last), in value x ms.
 */
export function integratePiecewiseLinear(points: readonly Point[], t0: number, t1: number): number {
  if (points.length === 0 || t1 <= t0) return 0;
  const valueAt = (t: number): number => {
    if (t <= points[0]!.t) return points[0]!.v;
    const last = points[points.length - 1]!;
    if (t >= last.t) return last.v;
    let i = 1;
    while (points[i]!.t < t) i++;
    const p = points[i - 1]!;
    const q = points[i]!;
    return q.t > p.t ? p.v + ((q.v - p.v) * (t - p.t)) / (q.t - p.t) : q.v;
  };
  const knots = [t0, ...points.map((p) => p.t).filter((t) => t > t0 && t < t1), t1];
  let area = 0;
  for (let k = 1; k < knots.length; k++) {
    const a = knots[k - 1]!;
    const b = knots[k]!;
    area += ((valueAt(a) + valueAt(b)) / 2) * (b - a);
  }
  return area;
}

export interface PowerSamplerOptions {
  clock?: Clock;
  /**
   * Milliseconds between samples (default: the source's suggestedIntervalMs, else 1000). The next
   * sample is set when the previous read settles: reads never overlap.
   */
  intervalMs?: number;
  /** Readings kept for window energy (default 120: two minutes at the default interval). */
  historySize?: number;
  /** Called with each failed read (the sampler keeps its last good reading and goes on). */
  onError?: (error: unknown) => void;
}

/**
 * Samples a PowerSource on a timer and keeps the latest reading and a short history, so a
 * request only reads cached values (latest(), energy()) and never waits for a sensor.
 */
export class PowerSampler {
  private readonly clock: Clock;
  private readonly intervalMs: number;
  private readonly historySize: number;
  private readonly readings: PowerReading[] = [];
  private timer: ClockTimer | undefined;
  private running = false;
  private inFlight: Promise<PowerReading | undefined> | undefined;
  private failures = 0;
  private lastFailure: unknown;

  constructor(
    readonly source: PowerSource,
    private readonly options: PowerSamplerOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.intervalMs = options.intervalMs ?? source.suggestedIntervalMs ?? 1000;
    this.historySize = options.historySize ?? 120;
    if (!(this.intervalMs > 0) || !Number.isInteger(this.historySize) || this.historySize < 2) {
      throw new RangeError('PowerSampler: intervalMs must be > 0 and historySize an integer >= 2');
    }
  }

  /** Takes a first sample now and then one every intervalMs; resolves after the first sample. The timer does not keep Node alive. */
  async start(): Promise<PowerReading | undefined> {
    if (this.running) return this.latest();
    this.running = true;
    const first = await this.sampleNow();
    this.schedule();
    return first;
  }

  stop(): void {
    this.running = false;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Reads the source once (joining a read already under way); undefined when it failed. */
  sampleNow(): Promise<PowerReading | undefined> {
    if (this.inFlight) return this.inFlight;
    const run = (async () => {
      const started = this.clock.now();
      try {
        const reading = await this.source.read();
        // The middle of the read: a slow one (ioreg, PowerShell) saw the sensor somewhere inside it.
        const stamped: PowerReading = { ...reading, at: (started + this.clock.now()) / 2 };
        this.readings.push(stamped);
        if (this.readings.length > this.historySize) this.readings.splice(0, this.readings.length - this.historySize);
        return stamped;
      } catch (error) {
        this.failures += 1;
        this.lastFailure = error;
        this.options.onError?.(error);
        return undefined;
      } finally {
        this.inFlight = undefined;
      }
    })();
    this.inFlight = run;
    return run;
  }

  /** The newest reading, cached: O(1), no I/O. */
  latest(): PowerReading | undefined {
    return this.readings[this.readings.length - 1];
  }

  /** The readings kept, oldest first. */
  history(): readonly PowerReading[] {
    return this.readings;
  }

  /** Failed reads so far and the last error. */
  failuresSeen(): { count: number; last?: unknown } {
    return this.failures === 0 ? { count: 0 } : { count: this.failures, last: this.lastFailure };
  }

  /** Energy over [t0, t1] (this sampler's clock) from the cached history: see energyOverWindow. */
  energy(t0: number, t1: number): WindowEnergy | undefined {
    return energyOverWindow(this.readings, t0, t1);
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = this.clock.setTimeout(
      () => {
        this.timer = undefined;
        void this.sampleNow().then(() => this.schedule());
      },
      this.intervalMs,
      { unref: true },
    );
  }
}
