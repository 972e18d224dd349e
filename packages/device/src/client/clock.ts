/**
 * Every time the device client reads or waits for goes through a Clock: request timeouts, the
 * handshake and ready() timers, reconnect backoff, keepalive, ping timeouts and every telemetry
 * duration. The default reads the platform; tests (and a simulator) pass a ManualClock and move
 * time themselves, so nothing in them sleeps.
 */
export interface Clock {
  /** Monotonic milliseconds (performance.now() on the system clock): every duration the client reports. */
  now(): number;
  /** Milliseconds since the epoch (Date.now()): timestamps meant to be read by people and compared across machines. */
  epochMs(): number;
  /**
   * Calls `callback` once after `ms`. `unref`: the timer alone must not keep a Node process
   * alive (keepalive, reconnect, ping timeouts).
   */
  setTimeout(callback: () => void, ms: number, options?: { unref?: boolean }): ClockTimer;
  clearTimeout(timer: ClockTimer | undefined): void;
}

/** Opaque handle of a timer set through a Clock. */
export type ClockTimer = { readonly __clockTimer?: never } | object;

/**
 * The platform's clock. The globals are read at call time, not bound here, so a test framework
 * that patches them (vi.useFakeTimers) still reaches the client through it.
 */
export const systemClock: Clock = {
  now: () => performance.now(),
  epochMs: () => Date.now(),
  setTimeout(callback, ms, options) {
    const timer = setTimeout(callback, ms);
    if (options?.unref) (timer as { unref?: () => void }).unref?.();
    return timer as unknown as ClockTimer;
  },
  clearTimeout(timer) {
    if (timer !== undefined) clearTimeout(timer as unknown as ReturnType<typeof setTimeout>);
  },
};

interface ManualTimer {
  at: number;
  seq: number;
  callback: () => void;
  unref: boolean;
}

/**
 * A clock that moves only when told to. `advance(ms)` fires the timers that fall due, in order of
 * due time (then of creation), each with now() at its due time, letting promise callbacks run
 * between timers, so that what a timer starts (a reconnect, a ping) happens before the next
 * timer fires, as it would in real time.
 */
export class ManualClock implements Clock {
  private time: number;
  private seq = 0;
  private readonly timers = new Set<ManualTimer>();

  constructor(start = 0, private readonly epochOffset = 1_767_225_600_000) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  epochMs(): number {
    return this.epochOffset + this.time;
  }

  setTimeout(callback: () => void, ms: number, options?: { unref?: boolean }): ClockTimer {
    const timer: ManualTimer = { at: this.time + Math.max(0, Number.isFinite(ms) ? ms : 0), seq: this.seq++, callback, unref: options?.unref === true };
    this.timers.add(timer);
    return timer;
  }

  clearTimeout(timer: ClockTimer | undefined): void {
    this.timers.delete(timer as ManualTimer);
  }

  /** Timers pending; `refOnly`: only those that would keep a Node process alive. */
  pending(refOnly = false): number {
    let count = 0;
    for (const timer of this.timers) if (!refOnly || !timer.unref) count += 1;
    return count;
  }

  /**
   * Moves time forward by `ms` without firing anything, as a synchronous computation of that
   * length would: timers that fall due fire at the next advance().
   */
  busy(ms: number): void {
    this.time += ms;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  async advance(ms: number): Promise<void> {
    const until = this.time + ms;
    for (;;) {
      await settle();
      const next = this.nextDue(until);
      if (!next) break;
      this.timers.delete(next);
      this.time = Math.max(this.time, next.at);
      next.callback();
    }
    this.time = until;
    await settle();
  }

  private nextDue(until: number): ManualTimer | undefined {
    let best: ManualTimer | undefined;
    for (const timer of this.timers) {
      if (timer.at > until) continue;
      if (!best || timer.at < best.at || (timer.at === best.at && timer.seq < best.seq)) best = timer;
    }
    return best;
  }
}

/**
 * Lets pending promise callbacks, and the zero-delay platform callbacks they schedule (an
 * in-memory transport delivering a frame), run: a few event-loop turns, no wall-clock wait.
 */
async function settle(): Promise<void> {
  for (let i = 0; i < 4; i++) await new Promise<void>((resolve) => globalThis.setTimeout(resolve, 0));
}
