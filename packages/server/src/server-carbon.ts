/**
 * The server's side of energy and carbon per request: the grid intensity where it runs (a fixed
 * number, or a provider sampled on a timer, never on a request) and the energy of each answered
 * request's tail (tail time / batch size x serverPowerW x PUE, labelled estimated).
 *
 * The provider is any object with `current()` answering an intensity point (an
 * `IntensityProvider` of @carboncp/carbon fits); the server does not import that package.
 */
import type { CarbonIntensity } from './options.js';

/** The part of an intensity point the server uses. */
export interface ServerIntensityPoint {
  gPerKwh: number;
  source: string;
  zone?: string;
  kind?: string;
  stale?: boolean;
}

/** A source of the server's grid intensity, sampled on the server's timer (I/O allowed). */
export interface ServerIntensitySource {
  current(): Promise<ServerIntensityPoint>;
}

/** One reading of the server's power draw. */
export interface ServerPowerReading {
  watts: number;
  kind: 'measured' | 'estimated';
  source: string;
}

/** A source of the server's power draw (nvidia-smi: nvidia-smi.ts), read on the server's power timer. */
export interface ServerPowerSource {
  read(): Promise<ServerPowerReading>;
}

/** What one infer response carries of it, in its parameters. */
export interface ResponseFootprint {
  energy_j?: number;
  energy_kind?: 'measured' | 'estimated';
  energy_source?: string;
  carbon_g?: number;
  carbon_intensity?: CarbonIntensity;
}

export interface ServerCarbonOptions {
  carbonIntensity: CarbonIntensity | undefined;
  carbonProvider: ServerIntensitySource | undefined;
  carbonRefreshMs: number;
  serverPowerW: number | undefined;
  /** Read every powerRefreshMs; its last reading is used instead of serverPowerW (the fallback before the first and after failures). */
  powerSource?: ServerPowerSource;
  powerRefreshMs?: number;
  pue: number;
  log: (line: string) => void;
}

const JOULES_PER_KWH = 3.6e6;

const round = (w: number): number => Math.round(w * 100) / 100;

/** The source label of a pong's or response's intensity: the provider's source, its zone, and 'stale' when it is the last value known. */
function label(point: ServerIntensityPoint): string {
  return `${point.source}${point.zone ? ` ${point.zone}` : ''}${point.stale ? ' (stale)' : ''}`;
}

export class ServerCarbon {
  private last: CarbonIntensity | undefined;
  private timer: NodeJS.Timeout | undefined;
  private sampling: Promise<void> | undefined;
  /** Failures logged once per run of failures, not on every tick. */
  private failing = false;
  private power: ServerPowerReading | undefined;
  private powerTimer: NodeJS.Timeout | undefined;
  private powerFailing = false;

  constructor(private readonly options: ServerCarbonOptions) {
    this.last = options.carbonIntensity;
  }

  /** Samples the provider now and then every carbonRefreshMs (unref'd). No-op without a provider. */
  start(): void {
    if (this.options.powerSource && !this.powerTimer) {
      void this.samplePower();
      this.powerTimer = setInterval(() => void this.samplePower(), this.options.powerRefreshMs ?? 1000);
      this.powerTimer.unref();
    }
    if (!this.options.carbonProvider || this.timer) return;
    void this.sample();
    this.timer = setInterval(() => void this.sample(), this.options.carbonRefreshMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    clearInterval(this.powerTimer);
    this.powerTimer = undefined;
  }

  /**
   * One power reading. A failure drops the last reading (a stale draw is no measurement: the
   * energy falls back to serverPowerW, or none) and is logged once per run of failures.
   */
  async samplePower(): Promise<void> {
    const source = this.options.powerSource;
    if (!source) return;
    try {
      const reading = await source.read();
      if (!Number.isFinite(reading?.watts) || reading.watts < 0) throw new Error(`the power source answered ${String(reading?.watts)} W`);
      this.power = reading;
      if (this.powerFailing) this.options.log('server power: source answering again');
      this.powerFailing = false;
    } catch (error) {
      if (!this.powerFailing) {
        const fallback = this.options.serverPowerW === undefined ? 'responses carry no energy until it answers' : `using serverPowerW ${this.options.serverPowerW} W`;
        this.options.log(`server power: source failed (${(error as Error)?.message ?? String(error)}); ${fallback}`);
      }
      this.powerFailing = true;
      this.power = undefined;
    }
  }

  /** The sample in progress, if any (tests await it rather than sleep). */
  whenSampled(): Promise<void> {
    return this.sampling ?? Promise.resolve();
  }

  /** One sample: on failure the last value stays, marked stale, and the failure is logged. */
  sample(): Promise<void> {
    const provider = this.options.carbonProvider;
    if (!provider) return Promise.resolve();
    if (this.sampling) return this.sampling;
    const run = (async () => {
      try {
        const point = await provider.current();
        if (!Number.isFinite(point?.gPerKwh) || point.gPerKwh < 0) throw new Error(`the provider answered gPerKwh ${String(point?.gPerKwh)}`);
        this.last = { value_g_per_kwh: point.gPerKwh, source: label(point) };
        if (this.failing) this.options.log('carbon intensity: provider answering again');
        this.failing = false;
      } catch (error) {
        if (!this.failing) this.options.log(`carbon intensity: provider failed, keeping the last value: ${(error as Error)?.message ?? String(error)}`);
        this.failing = true;
        if (this.last && !this.last.source.endsWith(' (stale)')) this.last = { ...this.last, source: `${this.last.source} (stale)` };
      }
    })();
    // Cleared after the assignment even when current() threw synchronously (the run then settled at once).
    this.sampling = run.finally(() => {
      this.sampling = undefined;
    });
    return this.sampling;
  }

  /** The intensity pongs report: the fixed value, or the provider's last sample (none before the first). */
  intensity(): CarbonIntensity | undefined {
    return this.last;
  }

  /**
   * The footprint fields of one response whose tail ran `tailMs` in a batch of `batchSize`:
   * energy when serverPowerW is set (tailMs / batchSize / 1000 x W x PUE, estimated), carbon
   * when an intensity is known too. Empty without serverPowerW.
   */
  account(tailMs: number, batchSize: number): ResponseFootprint {
    const { serverPowerW, pue } = this.options;
    const power = this.power;
    const watts = power?.watts ?? serverPowerW;
    if (watts === undefined || !Number.isFinite(tailMs) || tailMs < 0) return {};
    const energyJ = ((tailMs / Math.max(1, batchSize)) / 1000) * watts * pue;
    const what = power ? `${power.source} ${round(watts)} W` : `serverPowerW ${watts} W`;
    const out: ResponseFootprint = {
      energy_j: energyJ,
      energy_kind: power ? power.kind : 'estimated',
      energy_source: `${what} x tail time${batchSize > 1 ? ` / batch ${batchSize}` : ''}${pue !== 1 ? ` x PUE ${pue}` : ''}`,
    };
    const intensity = this.last;
    if (intensity) {
      out.carbon_g = (energyJ / JOULES_PER_KWH) * intensity.value_g_per_kwh;
      out.carbon_intensity = { value_g_per_kwh: intensity.value_g_per_kwh, source: intensity.source };
    }
    return out;
  }
}
