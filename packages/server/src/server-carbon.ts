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
  pue: number;
  log: (line: string) => void;
}

const JOULES_PER_KWH = 3.6e6;

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

  constructor(private readonly options: ServerCarbonOptions) {
    this.last = options.carbonIntensity;
  }

  /** Samples the provider now and then every carbonRefreshMs (unref'd). No-op without a provider. */
  start(): void {
    if (!this.options.carbonProvider || this.timer) return;
    void this.sample();
    this.timer = setInterval(() => void this.sample(), this.options.carbonRefreshMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
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
    if (serverPowerW === undefined || !Number.isFinite(tailMs) || tailMs < 0) return {};
    const energyJ = ((tailMs / Math.max(1, batchSize)) / 1000) * serverPowerW * pue;
    const out: ResponseFootprint = {
      energy_j: energyJ,
      energy_kind: 'estimated',
      energy_source: `serverPowerW ${serverPowerW} W x tail time${batchSize > 1 ? ` / batch ${batchSize}` : ''}${pue !== 1 ? ` x PUE ${pue}` : ''}`,
    };
    const intensity = this.last;
    if (intensity) {
      out.carbon_g = (energyJ / JOULES_PER_KWH) * intensity.value_g_per_kwh;
      out.carbon_intensity = { value_g_per_kwh: intensity.value_g_per_kwh, source: intensity.source };
    }
    return out;
  }
}
