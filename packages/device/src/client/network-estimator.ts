import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import type { Clock } from './clock.js';
import { DecayingStats, type DecayOptions, type StatsSnapshot } from './decaying-stats.js';

/** A smoothed estimate: exponentially weighted mean and standard deviation, and the samples in it. */
export interface NetworkDistribution {
  mean: number;
  sd: number;
  n: number;
}

/**
 * What the device knows of its link to the server right now (see the README, "Network
 * estimate"). Every figure is an estimate from timings on the device's monotonic clock.
 */
export interface NetworkEstimate {
  /** Round trip of a frame with no payload to speak of (ms): pings, and requests of at most `smallBytes`. */
  rttMs: NetworkDistribution;
  /**
   * Uplink throughput (bits/s) seen by requests whose bytes up dominate (and by probes): the
   * harmonic mean, which is what predicts the time of a transfer. Absent until measured.
   */
  uplinkBps?: NetworkDistribution;
  /** Downlink throughput (bits/s), from responses whose bytes down dominate; absent until measured. */
  downlinkBps?: NetworkDistribution;
  /** When the estimate last changed, ms since the epoch (the clock's epochMs()). */
  updatedAt: number;
  /** What gave the latest sample: the traffic itself, or an active probe. */
  source: 'passive' | 'probe';
}

/** One request's trip, in the terms of its telemetry (RequestTelemetry). */
export interface TransferSample {
  /** Round trip on the device clock minus the server's time. */
  transferMs: number;
  serverMs: number;
  bytesUp: number;
  bytesDown: number;
  /** Another request's trip overlapped this one: they shared the link, so the sample says little about it. */
  shared: boolean;
}

/** One ping's round trip. */
export interface PingSample {
  rttMs: number;
  /** The ping frame's size: a probe pads it. */
  bytesUp: number;
  /** A request was on the link during the ping (its bytes may have gone first). */
  shared: boolean;
  probe?: boolean;
}

export interface NetworkEstimatorOptions {
  /** Half-life of the RTT estimate, in time and in samples (whichever comes first, see DecayOptions); default 30000 ms, 8 samples. */
  rttHalfLifeMs?: number;
  rttHalfLifeSamples?: number;
  /** Half-life of the throughput estimates; default 10000 ms, 4 samples. */
  throughputHalfLifeMs?: number;
  throughputHalfLifeSamples?: number;
  /** Outlier threshold in standard deviations (DecayOptions.outlierSd); default 3. */
  outlierSd?: number;
  /** Frames up to this size (both ways together) count as RTT samples; default 1500 (one Ethernet MTU). */
  smallBytes?: number;
  /** A throughput sample needs at least this many bytes in its direction; default 4096. */
  minPayloadBytes?: number;
  /** ...and this many times the bytes of the other direction; default 4. */
  dominance?: number;
  /** A request whose server time is more than this share of its round trip is not a sample; default 0.9. */
  maxServerShare?: number;
  /** Throughput samples are clamped to this range (bits/s); default 1e3 .. 1e11. */
  minBps?: number;
  maxBps?: number;
}

export const NETWORK_DEFAULTS = {
  // RTT: TCP's SRTT gain of 1/8 is a half-life of 5.2 samples; a little longer here, since
  // pings are rare and RTT moves slowly. Throughput: chosen on the five Mahimahi uplink traces
  // (README, "Network estimate"): 4 samples tracked their 10 s mean capacity best (16 lagged).
  rttHalfLifeMs: 30_000,
  rttHalfLifeSamples: 8,
  throughputHalfLifeMs: 10_000,
  throughputHalfLifeSamples: 4,
  smallBytes: 1500,
  minPayloadBytes: 4096,
  dominance: 4,
  maxServerShare: 0.9,
  minBps: 1e3,
  maxBps: 1e11,
  outlierSd: 3,
  shiftAfter: 4,
  /** Samples waiting for a first RTT (uplink needs one to subtract). */
  pendingLimit: 32,
} as const;

const OPTION_KEYS: ReadonlySet<string> = new Set([
  'rttHalfLifeMs',
  'rttHalfLifeSamples',
  'throughputHalfLifeMs',
  'throughputHalfLifeSamples',
  'outlierSd',
  'smallBytes',
  'minPayloadBytes',
  'dominance',
  'maxServerShare',
  'minBps',
  'maxBps',
]);

export type SampleOutcome = 'rtt' | 'uplink' | 'downlink' | 'pending' | `rejected:${string}`;

/**
 * Estimates RTT and throughput from timings the client measures anyway. The model of one trip:
 *
 *   transferMs ~= rtt + bytesUp / uplink + bytesDown / downlink
 *
 * Pings and small requests give rtt. A request whose bytes up dominate gives one uplink sample,
 * (transferMs - rtt - bytesDown / downlink) / bytesUp, in ms per byte; throughput is tracked
 * as that inverse, whose mean is unbiased under noise in the transfer time (a mean of per-sample
 * bits/s is not, and blows up when the residual is near 0) and predicts a transfer's time
 * directly. Rejected: trips that shared the link with another, trips whose time was mostly the
 * server's (its clock, not the link, is then what transferMs measures), and payloads too small
 * or not dominant in their direction.
 */
export class NetworkEstimator {
  private readonly rtt: DecayingStats;
  private readonly up: DecayingStats;
  private readonly down: DecayingStats;
  private readonly settings: typeof NETWORK_DEFAULTS;
  private pending: TransferSample[] = [];
  private updatedAt = 0;
  private source: 'passive' | 'probe' = 'passive';
  private cached: NetworkEstimate | undefined;
  private dirty = true;
  /** Why samples were not used, by reason; and samples used, by kind. */
  readonly counts: Record<string, number> = {};

  constructor(
    private readonly clock: Clock,
    options: NetworkEstimatorOptions = {},
  ) {
    const settings = { ...NETWORK_DEFAULTS };
    for (const [key, value] of Object.entries(options ?? {})) {
      if (value === undefined) continue;
      if (!OPTION_KEYS.has(key)) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `network.${key} is not an option of the network estimate`);
      if (!(typeof value === 'number' && Number.isFinite(value) && value > 0)) {
        throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `network.${key} must be a positive number, got ${String(value)}`);
      }
      (settings as Record<string, number>)[key] = value;
    }
    if (settings.maxServerShare > 1) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `network.maxServerShare is a share of the round trip, at most 1, got ${settings.maxServerShare}`);
    if (settings.minBps >= settings.maxBps) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, 'network.minBps must be below network.maxBps');
    this.settings = settings;
    const decay = (halfLifeMs: number, halfLifeSamples: number, floorAbs: number): DecayOptions => ({
      halfLifeMs,
      halfLifeSamples,
      outlierSd: settings.outlierSd,
      shiftAfter: settings.shiftAfter,
      floor: { abs: floorAbs, rel: 0.05 },
    });
    this.rtt = new DecayingStats(decay(settings.rttHalfLifeMs, settings.rttHalfLifeSamples, 0.5));
    const throughput = decay(settings.throughputHalfLifeMs, settings.throughputHalfLifeSamples, 8000 / settings.maxBps);
    this.up = new DecayingStats(throughput);
    this.down = new DecayingStats(throughput);
  }

  /** Frames up to this size count as RTT samples. */
  get smallBytes(): number {
    return this.settings.smallBytes;
  }

  /** The current estimate (cached between samples), or undefined before the first RTT sample. */
  estimate(): NetworkEstimate | undefined {
    if (!this.dirty) return this.cached;
    this.dirty = false;
    if (this.rtt.n === 0) return (this.cached = undefined);
    const estimate: NetworkEstimate = { rttMs: this.rtt.snapshot(), updatedAt: this.updatedAt, source: this.source };
    const uplink = this.throughput(this.up);
    if (uplink) estimate.uplinkBps = uplink;
    const downlink = this.throughput(this.down);
    if (downlink) estimate.downlinkBps = downlink;
    // Shared by every reader until the next sample (a cut policy gets it on each request): frozen.
    for (const part of [estimate.rttMs, estimate.uplinkBps, estimate.downlinkBps]) if (part) Object.freeze(part);
    return (this.cached = Object.freeze(estimate));
  }

  observePing(sample: PingSample): SampleOutcome {
    if (sample.shared) return this.count('rejected:shared');
    if (!(sample.rttMs >= 0)) return this.count('rejected:invalid');
    const source = sample.probe ? 'probe' : 'passive';
    if (sample.bytesUp <= this.settings.smallBytes) return this.addRtt(sample.rttMs, source);
    return this.observeTransfer({ transferMs: sample.rttMs, serverMs: 0, bytesUp: sample.bytesUp, bytesDown: 0, shared: false }, source);
  }

  observeTransfer(sample: TransferSample, source: 'passive' | 'probe' = 'passive'): SampleOutcome {
    const { transferMs, serverMs, bytesUp, bytesDown } = sample;
    if (sample.shared) return this.count('rejected:shared');
    if (![transferMs, serverMs, bytesUp, bytesDown].every((v) => Number.isFinite(v) && v >= 0)) return this.count('rejected:invalid');
    // A server time at (or capped to) the whole round trip leaves transferMs to clock skew.
    if (transferMs <= 0 || serverMs > this.settings.maxServerShare * (serverMs + transferMs)) return this.count('rejected:server');
    if (bytesUp + bytesDown <= this.settings.smallBytes) return this.addRtt(transferMs, source);
    const { dominance } = this.settings;
    // A probe is a payload by construction (its padding exceeds smallBytes).
    const minPayloadBytes = source === 'probe' ? 0 : this.settings.minPayloadBytes;
    const direction =
      bytesUp >= minPayloadBytes && bytesUp >= dominance * bytesDown
        ? 'uplink'
        : bytesDown >= minPayloadBytes && bytesDown >= dominance * bytesUp
          ? 'downlink'
          : undefined;
    if (!direction) return this.count(Math.max(bytesUp, bytesDown) < minPayloadBytes ? 'rejected:small' : 'rejected:mixed');
    if (this.rtt.n === 0) {
      if (this.pending.length >= NETWORK_DEFAULTS.pendingLimit) this.pending.shift();
      this.pending.push(sample);
      return this.count('pending');
    }
    const [bytes, stats, other, otherBytes] = direction === 'uplink' ? [bytesUp, this.up, this.down, bytesDown] : [bytesDown, this.down, this.up, bytesUp];
    const residual = transferMs - this.rtt.mean - (other.n > 0 ? Math.max(0, other.mean) * otherBytes : 0);
    const msPerByte = Math.min(8000 / this.settings.minBps, Math.max(8000 / this.settings.maxBps, residual / bytes));
    stats.add(msPerByte, this.clock.now());
    this.touched(source);
    return this.count(direction);
  }

  private addRtt(rttMs: number, source: 'passive' | 'probe'): SampleOutcome {
    this.rtt.add(rttMs, this.clock.now());
    this.touched(source);
    this.count('rtt');
    if (this.pending.length > 0) {
      const waiting = this.pending;
      this.pending = [];
      for (const sample of waiting) this.observeTransfer(sample);
    }
    return 'rtt';
  }

  private throughput(stats: DecayingStats): NetworkDistribution | undefined {
    if (stats.n === 0) return undefined;
    const { mean, sd, n }: StatsSnapshot = stats.snapshot();
    const msPerByte = Math.max(mean, 8000 / this.settings.maxBps);
    const bps = Math.min(this.settings.maxBps, 8000 / msPerByte);
    // Delta method: sd of 1/X ~= sd(X) / mean(X)^2.
    return { mean: bps, sd: (8000 * sd) / (msPerByte * msPerByte), n };
  }

  private touched(source: 'passive' | 'probe'): void {
    this.updatedAt = this.clock.epochMs();
    this.source = source;
    this.dirty = true;
  }

  private count(outcome: SampleOutcome): SampleOutcome {
    this.counts[outcome] = (this.counts[outcome] ?? 0) + 1;
    return outcome;
  }
}
