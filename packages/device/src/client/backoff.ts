import { mulberry32 } from '@carboncp/core';
import type { ReconnectOptions } from './types.js';

/**
 * Exponential backoff with "equal jitter": attempt n waits between half and all of
 * min(maxMs, initialMs * 2^n). The half that is kept stops a fleet of devices that lost the
 * same server from hammering it in lockstep while still backing off; the cap bounds the wait.
 */
export class Backoff {
  private attempt = 0;
  private readonly random: () => number;

  constructor(private readonly options: ReconnectOptions) {
    if (!(options.initialMs > 0) || !(options.maxMs >= options.initialMs)) {
      throw new RangeError(
        `reconnect needs 0 < initialMs <= maxMs, got initialMs=${options.initialMs} maxMs=${options.maxMs}`,
      );
    }
    // Seeded: the same seed repeats the same delays (tests); different seeds decorrelate devices.
    this.random = mulberry32(options.seed ?? 0x5eed);
  }

  /** Delay before the next attempt, in ms; each call counts one attempt. */
  next(): number {
    const ceiling = Math.min(this.options.maxMs, this.options.initialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt += 1;
    return ceiling / 2 + this.random() * (ceiling / 2);
  }

  /** After a successful connection, start again from initialMs. */
  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}
