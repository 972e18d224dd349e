import { CarboncpError, ErrorCode } from '@carboncp/protocol';

/**
 * Bounded FIFO in front of the tail executor, with optional adaptive dynamic batching.
 *
 * onnxruntime-node runs a session synchronously on the thread that calls it, so one thread runs
 * one batch at a time: the 'main' executor runs one batch at once (`concurrency` 1), the 'worker'
 * executor one per worker thread. Requests wait here instead, and the queue refuses new ones with
 * CARBONCP_BUSY once `maxQueue` are waiting, so a burst is answered quickly instead of growing
 * memory without limit.
 *
 * Batching: a job with a `batchKey` may be run together with other waiting jobs carrying the same
 * key (same plan, same dtypes, same non-batch dims) until their samples reach `maxBatch`. The
 * policy is the one serving systems use, because a fixed window costs a lone client the whole
 * window on every request (p50 2.5 -> 7.9 ms in test/bench/results/server.md) while a busy
 * executor batches for free:
 * - An idle executor runs what is waiting at once. "At once" is the next check phase of the
 *   event loop (setImmediate, no timer), so requests read from sockets in the same loop turn are
 *   taken together.
 * - Requests that arrive while a batch runs wait anyway; the next run takes all of them (of the
 *   head job's key, up to `maxBatch`).
 * - Waiting for company happens only when more requests are known to be coming: as many samples
 *   as the key's previous batch ran are expected back (clients answered together come back
 *   together), provided that batch finished at most `windowMs` before the head job arrived. The
 *   idle executor then waits until that many samples are waiting or `windowMs` has passed since
 *   it became idle (or since the head job arrived, if later), and runs on the next check phase,
 *   so that requests read in the same loop turn join. Without this wait, closed-loop clients
 *   split into a batch of one (the first to come back, run at once) and a batch of the rest, and
 *   stay split. A wait that ends short lowers the expectation to what actually came; a lone
 *   client (previous batch: 1) never waits.
 * With `concurrency` above 1, "idle" means a free slot: a batch starts whenever one is free, so
 * batches are as full as what waits when a slot frees up.
 */
export interface QueuedJob {
  /** Jobs with equal keys can be concatenated along the batch dimension; null = never batched. */
  batchKey: string | null;
  /** Samples along the batch dimension (1 for a single image). */
  samples: number;
  /** performance.now() when the job was submitted. */
  enqueuedAt: number;
}

export interface BatchingOptions {
  maxBatch: number;
  /** The longest an idle executor waits for expected company (see RequestQueue); 0 = never wait. */
  windowMs: number;
}

export interface RequestQueueOptions<J extends QueuedJob> {
  maxQueue: number;
  batching: BatchingOptions | false;
  /** Runs one batch (one job when batching is off). Must settle; a rejection is reported to onError. */
  execute: (jobs: J[]) => Promise<void>;
  onError?: (error: unknown, jobs: J[]) => void;
  /** Batches executed at the same time (one per worker thread). Default 1. */
  concurrency?: number;
  now?: () => number;
}

/** The last batch run for one key: its samples, and when it ended. */
interface LastBatch {
  samples: number;
  finishedAt: number;
}

// Keys include non-batch dims, so a shape-free model can produce many; old ones are forgotten.
const MAX_REMEMBERED_KEYS = 256;

const nextCheckPhase = () => new Promise<void>((resolve) => setImmediate(resolve));

export class RequestQueue<J extends QueuedJob> {
  private readonly waiting: J[] = [];
  private readonly options: RequestQueueOptions<J>;
  private readonly now: () => number;
  private readonly lastBatches = new Map<string, LastBatch>();
  private running = false;
  private closed = false;
  /** Jobs in the batches being executed. */
  private executing = 0;
  /** Batches being executed. */
  private active = 0;
  private readonly concurrency: number;
  /** Wakes the pump when a batch ends while every slot is taken. */
  private slotFreed: (() => void) | null = null;
  /** Set while the idle executor waits for company: the samples that end the wait, and how to end it. */
  private company: { key: string; samples: number; wake: () => void } | null = null;
  private idleWaiters: (() => void)[] = [];

  /** Takes options resolved by the server's options.ts (resolveOptions), which checked them. */
  constructor(options: RequestQueueOptions<J>) {
    const concurrency = options.concurrency ?? 1;
    this.concurrency = concurrency;
    this.options = options;
    this.now = options.now ?? (() => performance.now());
  }

  /** Jobs waiting, not counting the batch being executed. */
  get depth(): number {
    return this.waiting.length;
  }

  /** Jobs in the batches being executed. */
  get inFlight(): number {
    return this.executing;
  }

  get maxQueue(): number {
    return this.options.maxQueue;
  }

  /** Queues a job; throws CARBONCP_BUSY when full and CARBONCP_SHUTTING_DOWN after close(). */
  submit(job: J): void {
    if (this.closed) {
      throw new CarboncpError(ErrorCode.SHUTTING_DOWN, 'the server is shutting down and accepts no new requests');
    }
    if (this.waiting.length >= this.options.maxQueue) {
      throw new CarboncpError(
        ErrorCode.BUSY,
        `the server is busy: ${this.waiting.length} requests are queued (max-queue ${this.options.maxQueue}); retry later`,
        { details: { queueDepth: this.waiting.length, maxQueue: this.options.maxQueue } },
      );
    }
    this.waiting.push(job);
    const company = this.company;
    if (company && job.batchKey === company.key && this.samplesWaiting(company.key) >= company.samples) company.wake();
    if (!this.running) void this.pump();
  }

  /** Stops accepting jobs; queued ones still run (see drain). */
  close(): void {
    this.closed = true;
    this.company?.wake();
  }

  /** Resolves true when nothing is queued or running, false if `timeoutMs` passes first. */
  drain(timeoutMs: number): Promise<boolean> {
    if (this.isIdle()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.idleWaiters = this.idleWaiters.filter((w) => w !== onIdle);
        resolve(false);
      }, timeoutMs);
      const onIdle = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.idleWaiters.push(onIdle);
    });
  }

  /** Removes and returns every waiting job (used to refuse them when a drain times out). */
  takeAll(): J[] {
    return this.waiting.splice(0, this.waiting.length);
  }

  private isIdle(): boolean {
    return this.waiting.length === 0 && this.active === 0 && !this.running;
  }

  private notifyIfIdle(): void {
    if (!this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const waiter of waiters) waiter();
  }

  private async pump(): Promise<void> {
    this.running = true;
    try {
      // Requests read from sockets in this loop turn arrive before the check phase: take them together.
      await nextCheckPhase();
      let idleSince = this.now();
      while (this.waiting.length > 0) {
        if (this.active >= this.concurrency) {
          await new Promise<void>((resolve) => {
            this.slotFreed = resolve;
          });
          // A run on the event loop blocks it: let socket reads (and new jobs) in between batches.
          await nextCheckPhase();
          idleSince = this.now();
          continue;
        }
        await this.waitForCompany(idleSince);
        const batch = this.takeBatch();
        if (batch.length === 0) continue;
        this.start(batch);
      }
    } finally {
      this.running = false;
      this.notifyIfIdle();
    }
  }

  /** Executes a batch in a free slot; when it ends, the slot is free again. */
  private start(batch: J[]): void {
    this.active += 1;
    this.executing += batch.length;
    // Every way out of a batch (settled, rejected, onError throwing, execute throwing
    // synchronously) runs done exactly once: a missed done would leave inFlight up and a slot
    // taken for ever.
    let finished = false;
    const done = () => {
      if (finished) return;
      finished = true;
      this.active -= 1;
      this.executing -= batch.length;
      this.remember(batch, this.now());
      const wake = this.slotFreed;
      this.slotFreed = null;
      wake?.();
      this.notifyIfIdle();
    };
    let running: Promise<void>;
    try {
      running = this.options.execute(batch);
    } catch (error) {
      running = Promise.reject(error);
    }
    running.then(done, (error: unknown) => {
      try {
        this.options.onError?.(error, batch);
      } catch {
        // A failing error handler must not become an unhandled rejection, nor keep the slot.
      } finally {
        done();
      }
    });
  }

  /** How many samples the head job's batch should wait for (see the class comment); 0 = none. */
  private expectedSamples(head: J, batching: BatchingOptions): number {
    if (head.batchKey === null) return 0;
    const last = this.lastBatches.get(head.batchKey);
    if (!last || head.enqueuedAt - last.finishedAt > batching.windowMs) return 0;
    return Math.min(last.samples, batching.maxBatch);
  }

  private async waitForCompany(idleSince: number): Promise<void> {
    const batching = this.options.batching;
    const head = this.waiting[0];
    if (!batching || !head || head.batchKey === null || this.closed || batching.windowMs === 0) return;
    const expected = this.expectedSamples(head, batching);
    const key = head.batchKey;
    if (this.samplesWaiting(key) >= expected) return;
    const remaining = Math.max(idleSince, head.enqueuedAt) + batching.windowMs - this.now();
    if (remaining <= 0) return;
    await new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.company = null;
        resolve();
      };
      const timer = setTimeout(wake, remaining);
      this.company = { key, samples: expected, wake };
    });
    // Woken by the request that completed the expected batch: let the rest of this turn's reads join.
    await nextCheckPhase();
  }

  private samplesWaiting(key: string): number {
    let samples = 0;
    for (const job of this.waiting) if (job.batchKey === key) samples += job.samples;
    return samples;
  }

  private remember(batch: J[], finishedAt: number): void {
    const key = batch[0].batchKey;
    if (!this.options.batching || key === null) return;
    const samples = batch.reduce((sum, job) => sum + job.samples, 0);
    this.lastBatches.delete(key);
    this.lastBatches.set(key, { samples, finishedAt });
    if (this.lastBatches.size > MAX_REMEMBERED_KEYS) {
      const oldest = this.lastBatches.keys().next();
      if (!oldest.done) this.lastBatches.delete(oldest.value);
    }
  }

  private takeBatch(): J[] {
    const head = this.waiting.shift();
    if (!head) return [];
    const batching = this.options.batching;
    if (!batching || head.batchKey === null) return [head];
    const batch = [head];
    let samples = head.samples;
    for (let i = 0; i < this.waiting.length && samples < batching.maxBatch; ) {
      const job = this.waiting[i];
      if (job.batchKey === head.batchKey && samples + job.samples <= batching.maxBatch) {
        batch.push(job);
        samples += job.samples;
        this.waiting.splice(i, 1);
      } else {
        i += 1;
      }
    }
    return batch;
  }
}
