import { CarboncpError, ErrorCode } from '@carboncp/protocol';

/**
 * Grid carbon intensity as every provider reports it. Each point says where it holds (zone), for
 * when (time), where it came from (source) and how it was obtained (kind), so that an
 * accounting built on it can say what it measured and what it guessed.
 */

/** How a value was obtained: read from the grid operator (measured), predicted, or assumed. */
export type IntensityKind = 'measured' | 'forecast' | 'estimated';

/** Average intensity (all generation on the grid) or marginal (the generator that answers extra load), where the provider says which. */
export type IntensitySignal = 'average' | 'marginal';

export interface IntensityPoint {
  /** Start of the interval the value holds for, ISO 8601 UTC. */
  time: string;
  /** Length of that interval in minutes (5, 15, 30, 60), where known. */
  durationMinutes?: number;
  /** Grams of CO2-equivalent per kWh. */
  gPerKwh: number;
  /** Grid zone (e.g. 'GB', 'DE', 'CA-QC', a WattTime region). */
  zone: string;
  /** Who said so: 'static', 'csv:<file>', 'uk-carbon-intensity', 'electricitymaps', 'watttime', 'carbon-aware-sdk'. */
  source: string;
  kind: IntensityKind;
  signal?: IntensitySignal;
  /** True when a provider could not be reached and this is the last value it knew. */
  stale?: boolean;
}

export interface IntensityQuery {
  /** Zone to read; a provider bound to one zone may ignore it. */
  zone?: string;
  /** The instant asked about, ms since the epoch; default now. */
  at?: number;
}

/** One source of carbon intensity: the value at an instant and a forecast from it. */
export interface IntensityProvider {
  /** Name used in `source` fields and logs. */
  readonly name: string;
  /** The value in force at `query.at` (default now). */
  current(query?: IntensityQuery): Promise<IntensityPoint>;
  /** Points from `query.at` (default now) over the next `hours` hours, in time order. */
  forecast(hours: number, query?: IntensityQuery): Promise<IntensityPoint[]>;
}

/** The longest forecast any provider is asked for: a leap year of hours. */
export const MAX_FORECAST_HOURS = 366 * 24;

/** Refuses a forecast horizon outside (0, MAX_FORECAST_HOURS] with CARBONCP_INVALID_ARGUMENT; `source` prefixes the message. */
export function checkHours(hours: number, source?: string): void {
  if (!Number.isFinite(hours) || hours <= 0 || hours > MAX_FORECAST_HOURS) {
    throw new CarboncpError(
      ErrorCode.INVALID_ARGUMENT,
      `${source ? `${source}: ` : ''}a forecast horizon must be more than 0 and at most ${MAX_FORECAST_HOURS} hours, got ${hours}`,
    );
  }
}
