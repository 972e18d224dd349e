import type { BatteryRule, DecisionCandidate, DeciderOptions, MeanSd } from '@carboncp/calibrator';
import type { CapacityTrace, DeviceProfile, ForecastMethod, RadioKind, TraceSeries } from '@carboncp/carbon';
import type { PolicyName } from './policy-names.js';
import type { SimSite, SiteOptions } from './site-world.js';
import type { SimPowerCap } from './power-cap-world.js';

/**
 * What the policies see of the grid's intensity for the hour in progress: 'forecast' (default)
 * the carbon package's forecaster, fed every hour that has ended, one step ahead, with its error;
 * 'last-known' the last hour that has ended (persistence); 'true' the hour's own value (what no
 * device knows while it runs; for hand-checked tests and upper bounds).
 */
export type CarbonView = 'forecast' | 'last-known' | 'true';

/** A load trace: utilisation per step (0..0.99), replayed in a loop from the simulation's start. */
export interface UtilisationTrace {
  values: ArrayLike<number>;
  stepMinutes: number;
}

export interface SimulationOptions {
  /**
   * The candidates (candidatesFromProfile of the model's profile, or candidatesFromFamily of a
   * family's): their head latencies are the profiled ones, on the machine that measured them, and
   * so are their tails on the server.
   */
  candidates: readonly DecisionCandidate[];
  /** The device: its active power runs every head, its battery drains, its radio sends. */
  device: DeviceProfile;
  /** The radio the device sends over; default 'lte', else 'wifi', else the profile's first. */
  radio?: RadioKind;
  /**
   * True head latency = the profile's x headScale: how much slower the device is than the
   * profiling machine (headScaleOf(device, reference) from the device profiles). Default 1.
   */
  headScale?: number;
  /**
   * Whether the policies' candidates carry the scaled heads (the device profiled itself, or knows
   * its speed; default true) or the profile as measured, which their corrections must learn.
   */
  headScaleKnown?: boolean;
  /** Grid intensity where the device is: one zone of a parsed trace (replayed in a loop). */
  deviceCarbon: TraceSeries;
  /** Grid intensity where the server is; default the device's. */
  serverCarbon?: TraceSeries;
  /** Default 'forecast'. */
  carbonView?: CarbonView;
  /** Default the carbon package's DEFAULT_FORECAST_METHOD. */
  forecastMethod?: ForecastMethod;
  /** Days of trace (looped) fed to the forecaster before the start; default 14. */
  forecastWarmupDays?: number;
  /** Uplink capacity (parseNetworkTrace), looped. */
  uplink: CapacityTrace;
  /** Downlink capacity; default the uplink's trace. */
  downlink?: CapacityTrace;
  /** Where in the network traces the simulation starts (ms); default 0. */
  networkOffsetMs?: number;
  network?: {
    /** Mean round trip (ms); default 50. */
    rttMs?: number;
    /** Round-trip coefficient of variation (lognormal, mean kept); default 0.2. */
    rttCv?: number;
    /** The device's link probe before each request: the mean capacity over this window (ms) up to now; default 1000. */
    probeMs?: number;
    /** Weight of the newest probe in the device's estimate (EWMA of mean and variance); default 0.3. */
    estimateWeight?: number;
    /** The estimate before any probe; default { mean: 1e7, sd: 5e6 } bit/s. */
    prior?: MeanSd;
  };
  server: {
    /** Watts a tail draws on the server (the decision's serverPowerW); with pue the energy is W x PUE x tail s. */
    powerW: number;
    /** Default 1. */
    pue?: number;
    /**
     * Utilisation of the server by other clients (an M/M/1 queue): a constant or a load trace;
     * default 0.3. The policies see its mean queue (rho / (1 - rho)), a request meets a draw.
     */
    utilisation?: number | UtilisationTrace;
    /** Mean service time (ms) of a request ahead in the queue; default the 'server' plan's tail median, else the largest tail median. */
    serviceMs?: number;
    /** True server tail = the profile's x this; default 1. */
    tailScale?: number;
  };
  battery?: {
    /** Charge at the start, 0..100; default 100. */
    startPercent?: number;
    /** Plugged in (power 'ac', charging) from hour `from` to hour `to` UTC each day (to < from wraps midnight); null: never. Default [22, 6]. */
    pluggedHoursUtc?: readonly [number, number] | null;
    /** Charging power into the battery (W); default 10. */
    chargeW?: number;
    /** Everything else the device draws from the battery (W), between and during requests; default 0. */
    backgroundW?: number;
  };
  /** Epoch ms of the first instant; default the device trace's start. */
  start?: number;
  hours: number;
  /** Requests per minute (default 1), at fixed spacing or as a Poisson process (default 'poisson'). */
  rate?: { perMinute?: number; arrivals?: 'poisson' | 'fixed' };
  /** Default 1. */
  seed?: number;
  sloMs: number;
  /** Default 0.1. */
  alpha?: number;
  /** Candidates whose output error is unknown or above this are out, for every policy and the oracle. */
  maxOutputError?: number;
  /**
   * Candidates whose declared quality (their model variant's, candidatesFromFamily) is below this,
   * or unknown, are out, for every policy and the oracle (the calibrator's minQuality).
   */
  minQuality?: number;
  /**
   * A carbon budget: `grams` per period of `periodHours` from the start (renewed each period, no
   * carry-over), spent by the BUDGET_POLICIES and accounted for every policy (the result's
   * `budget`). Without one the budget policies are left out.
   */
  budget?: { grams: number; periodHours: number };
  /** Default every policy (POLICY_NAMES; without model variants, all but VARIANT_POLICIES; without a budget, all but BUDGET_POLICIES). */
  policies?: readonly PolicyName[];
  /** The carboncp policies' deciders (methods, ridge, exploration, setWindow); alphas and families are the simulation's. */
  decider?: Omit<DeciderOptions, 'alphas' | 'families'>;
  /** The carboncp policies' battery rule; default the calibrator's. */
  batteryReserve?: BatteryRule | false;
  /** Most per-step samples in the result's series; default 2000. */
  maxSteps?: number;
  /** Called every `progressEvery` requests (default 1000) and at the end with (done, expected). */
  onProgress?: (done: number, expected: number) => void;
  progressEvery?: number;
  /**
   * Several server sites (issue #11 §3): every remote candidate is run at each (candidatesForSites),
   * its server carbon at the site's grid and its RTT plus the site's; `serverCarbon` then only
   * stands for nothing remote. The result gains `sites`.
   */
  sites?: readonly SimSite[];
  siteOptions?: SiteOptions;
  /**
   * A GPU power cap on the server (issue #11 §4), modelled from a published curve: adds
   * 'server-uncapped' and 'carboncp-power-cap' (see power-cap-world.ts); one server, no sites.
   */
  powerCap?: SimPowerCap;
  /** Called after every request with its full record (arrays valid only during the call): for tests and exports. */
  onRequest?: (record: RequestRecord) => void;
}

/** One request as the simulator saw it; the arrays are reused for the next request. */
export interface RequestRecord {
  index: number;
  time: number;
  /** Candidate ids, in the order of the outcome arrays. */
  candidates: readonly string[];
  outcomes: {
    latencyMs: Float64Array;
    carbonG: Float64Array;
    deviceJ: Float64Array;
  };
  /** The chosen candidate's index per policy, in the result's policy order. */
  choices: Int32Array;
  /** The oracle's index (also when 'oracle' is not among the policies). */
  oracle: number;
  sloMs: number;
}
