import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { systemClock, type Clock, type ClockTimer } from './clock.js';

export type Settlement<R> = { ok: true; value: R } | { ok: false; error: CarboncpError };

interface Pending<R> {
  timer: ClockTimer;
  settle: (outcome: Settlement<R>) => void;
}

/**
 * Requests in flight, by wire request id. Every entry settles exactly once: by its response,
 * by its timeout, or by a dropped connection, whichever comes first; whatever arrives for an id
 * afterwards is dropped and counted in `late`.
 */
export interface RequestTableOptions {
  /** What an entry is, in timeout messages; default 'request'. */
  label?: string;
  /** Unref the timeout timers (Node), so that entries alone never keep a process alive. */
  unrefTimers?: boolean;
  /** Whose timers time the entries out; default the system clock. */
  clock?: Clock;
}

export class RequestTable<R> {
  private readonly pending = new Map<number, Pending<R>>();
  private readonly retired = new Set<number>();
  private nextId = 1;
  late = 0;

  private readonly clock: Clock;

  constructor(private readonly options: RequestTableOptions = {}) {
    this.clock = options.clock ?? systemClock;
  }

  get size(): number {
    return this.pending.size;
  }

  /** Reserves a wire id and returns a promise that settles once; never rejects (see Settlement). */
  open(timeoutMs: number): { id: number; settled: Promise<Settlement<R>> } {
    const id = this.allocateId();
    const settled = new Promise<Settlement<R>>((resolve) => {
      const timer = this.clock.setTimeout(
        () => {
          this.finish(id, {
            ok: false,
            error: new CarboncpError(ErrorCode.TIMEOUT, `${this.options.label ?? 'request'} ${id} got no response within ${timeoutMs} ms`),
          });
        },
        timeoutMs,
        { unref: this.options.unrefTimers === true },
      );
      this.pending.set(id, { timer, settle: resolve });
    });
    return { id, settled };
  }

  /** Settles a request; returns false (and counts a late arrival) when it had already settled. */
  finish(id: number, outcome: Settlement<R>): boolean {
    const entry = this.pending.get(id);
    if (!entry) {
      if (this.retired.has(id)) this.late += 1;
      return false;
    }
    this.clock.clearTimeout(entry.timer);
    this.pending.delete(id);
    this.retire(id);
    entry.settle(outcome);
    return true;
  }

  /** Settles everything in flight with the same error (the connection went away). */
  failAll(error: CarboncpError): number {
    const ids = [...this.pending.keys()];
    for (const id of ids) this.finish(id, { ok: false, error });
    return ids.length;
  }

  private allocateId(): number {
    // u32 on the wire, 0 is reserved for connection-level messages.
    for (;;) {
      const id = this.nextId;
      this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
      if (!this.pending.has(id)) return id;
    }
  }

  // Remembers recently settled ids so a late response is told apart from a bogus id; bounded.
  private retire(id: number): void {
    this.retired.add(id);
    if (this.retired.size > 4096) {
      const oldest = this.retired.values().next().value;
      if (oldest !== undefined) this.retired.delete(oldest);
    }
  }
}
