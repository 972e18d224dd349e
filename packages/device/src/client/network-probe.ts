import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import type { Clock, ClockTimer } from './clock.js';

/**
 * Which request trips are on the link now, and when the last one ended: a trip that overlapped
 * another, or a ping sent while one was in flight, measured a shared link and is no sample of it.
 */
export class LinkActivity {
  private readonly open = new Set<{ shared: boolean }>();
  private lastEnd = -Infinity;

  constructor(private readonly clock: Clock) {}

  /** Trips in flight now. */
  get trips(): number {
    return this.open.size;
  }

  /** A trip starts; `end()` says whether any other trip overlapped it. */
  begin(): { end(): boolean } {
    const trip = { shared: this.open.size > 0 };
    for (const other of this.open) other.shared = true;
    this.open.add(trip);
    return {
      end: () => {
        if (this.open.delete(trip)) this.lastEnd = this.clock.now();
        return trip.shared;
      },
    };
  }

  /** Whether a trip was on the link at any time since `since` (monotonic ms). */
  busySince(since: number): boolean {
    return this.open.size > 0 || this.lastEnd > since;
  }
}

export interface NetworkProbeOptions {
  /** At most one probe per this many ms; default 60000. */
  intervalMs?: number;
  /** Padding a probe ping carries (bytes); default 32768, at most 262144 (the frame header stays far below its 1 MiB limit). */
  bytes?: number;
  /** Probe padding sent in any 60 s, at most (bytes); default 131072. */
  maxBytesPerMinute?: number;
  /** How long each probe ping may wait for its pong; default 5000. */
  timeoutMs?: number;
  /** Probe on a timer every intervalMs (when the link is idle); default false: only probeNetwork() probes. */
  auto?: boolean;
}

export const PROBE_DEFAULTS = { intervalMs: 60_000, bytes: 32_768, maxBytesPerMinute: 131_072, timeoutMs: 5_000, maxBytes: 262_144 } as const;

export type ProbeRefusal = 'not-connected' | 'busy' | 'too-soon' | 'budget' | 'in-progress';
export type ProbeOutcome = { sent: true; bytes: number } | { sent: false; reason: ProbeRefusal };

export interface ProbeLink {
  /** Sends a ping padded with `padBytes` and resolves when its pong came (the client feeds the estimator from every pong); resolves with the frame's size. */
  ping(timeoutMs: number, padBytes: number): Promise<{ bytesUp: number }>;
  connected(): boolean;
  /** No request in flight (none queued on the device for the server, none on the link). */
  idle(): boolean;
}

/**
 * The active probe: a small ping (RTT) then one padded with `bytes` (RTT + bytes / uplink), on
 * the open connection. The Ping message lets extra fields travel untouched (protocol README), so
 * the padding is a `pad` string that every server already accepts and ignores: no protocol
 * change. Rate-limited: at most one probe per intervalMs, never while a request is in flight
 * (checked again between the two pings), at most maxBytesPerMinute in any 60 s, one at a time.
 */
export class NetworkProbe {
  private readonly settings: Required<Omit<NetworkProbeOptions, 'auto'>> & { auto: boolean };
  private lastProbeAt = -Infinity;
  private spent: { at: number; bytes: number }[] = [];
  private running = false;
  private timer: ClockTimer | undefined;
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    private readonly link: ProbeLink,
    options: NetworkProbeOptions = {},
    /** Padding at or below this many bytes would make the probe's ping an RTT sample (the estimator's smallBytes). */
    rttOnlyBytes = 0,
  ) {
    // A typo in an option name must not pass silently (the estimator's options are held to the same rule).
    for (const key of Object.keys(options)) {
      if (!['intervalMs', 'bytes', 'maxBytesPerMinute', 'timeoutMs', 'auto'].includes(key)) {
        throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `networkProbe.${key} is not an option of the network probe`);
      }
    }
    const settings = {
      intervalMs: options.intervalMs ?? PROBE_DEFAULTS.intervalMs,
      bytes: options.bytes ?? PROBE_DEFAULTS.bytes,
      maxBytesPerMinute: options.maxBytesPerMinute ?? PROBE_DEFAULTS.maxBytesPerMinute,
      timeoutMs: options.timeoutMs ?? PROBE_DEFAULTS.timeoutMs,
      auto: options.auto ?? false,
    };
    for (const key of ['intervalMs', 'bytes', 'maxBytesPerMinute', 'timeoutMs'] as const) {
      const value = settings[key];
      if (!(typeof value === 'number' && Number.isFinite(value) && value > 0)) {
        throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `networkProbe.${key} must be a positive number, got ${String(value)}`);
      }
    }
    if (!Number.isInteger(settings.bytes) || settings.bytes > PROBE_DEFAULTS.maxBytes) {
      throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `networkProbe.bytes must be a whole number up to ${PROBE_DEFAULTS.maxBytes}, got ${settings.bytes}`);
    }
    if (settings.bytes <= rttOnlyBytes) {
      throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `networkProbe.bytes must exceed network.smallBytes (${rttOnlyBytes}), or the probe would measure only the rtt, got ${settings.bytes}`);
    }
    if (settings.bytes > settings.maxBytesPerMinute) {
      throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `networkProbe.bytes (${settings.bytes}) exceeds networkProbe.maxBytesPerMinute (${settings.maxBytesPerMinute}): no probe could ever be sent`);
    }
    this.settings = settings;
    if (settings.auto) this.schedule(settings.intervalMs);
  }

  /** Probe padding sent in the last 60 s (bytes). */
  get bytesLastMinute(): number {
    const since = this.clock.now() - 60_000;
    this.spent = this.spent.filter((s) => s.at > since);
    return this.spent.reduce((sum, s) => sum + s.bytes, 0);
  }

  /** Why a probe cannot go now, or undefined when it can. */
  refusal(): ProbeRefusal | undefined {
    if (this.running) return 'in-progress';
    if (!this.link.connected()) return 'not-connected';
    if (!this.link.idle()) return 'busy';
    if (this.clock.now() - this.lastProbeAt < this.settings.intervalMs) return 'too-soon';
    if (this.bytesLastMinute + this.settings.bytes > this.settings.maxBytesPerMinute) return 'budget';
    return undefined;
  }

  /** One probe, if the rate limits allow it; rejects (CarboncpError) when a ping fails. */
  async probe(): Promise<ProbeOutcome> {
    const refused = this.refusal();
    if (refused) return { sent: false, reason: refused };
    this.running = true;
    this.lastProbeAt = this.clock.now();
    try {
      const small = await this.link.ping(this.settings.timeoutMs, 0);
      if (!this.link.idle()) return { sent: false, reason: 'busy' };
      // Counted before it is sent: a probe that times out still used the link.
      this.spend(this.settings.bytes);
      const padded = await this.link.ping(this.settings.timeoutMs, this.settings.bytes);
      return { sent: true, bytes: small.bytesUp + padded.bytesUp };
    } finally {
      this.running = false;
    }
  }

  stop(): void {
    this.stopped = true;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private spend(bytes: number): void {
    this.spent.push({ at: this.clock.now(), bytes });
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(
      () => {
        this.timer = undefined;
        // A refused or failed probe waits for the next tick; keepalive judges the connection.
        this.probe().then(
          () => this.schedule(this.settings.intervalMs),
          () => this.schedule(this.settings.intervalMs),
        );
      },
      delayMs,
      { unref: true },
    );
  }
}
