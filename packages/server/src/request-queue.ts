import { CarboncpError } from '@carboncp/protocol';

/**
 * Bounded FIFO in front of the tail executor, with optional dynamic batching.
 *
 * onnxruntime-node runs a session synchronously on the event loop thread, so tails run one batch
 * at a time; running several at once would only interleave them. Requests wait here instead, and
 * the queue refuses new ones with CARBONCP_BUSY once `maxQueue` are waiting, so a burst is
 * answered quickly instead of growing memory without limit.
 *
 * Batching: a job with a `batchKey` may be run together with later jobs carrying the same key
 * (same plan, same dtypes, same non-batch dims) until their samples reach `maxBatch`. The first
 * job of a batch waits at most `windowMs` after it was enqueued for company, so a backed-up
 * queue adds no extra delay.
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
  windowMs: number;
}

export interface RequestQueueOptions<J extends QueuedJob> {
  maxQueue: number;
  batching: BatchingOptions | false;
  /** Runs one batch (one job when batching is off). Must settle; a rejection is reported to onError. */
  execute: (jobs: J[]) => Promise<void>;
  onError?: (error: unknown, jobs: J[]) => void;
  now?: () => number;
}

export class RequestQueue<J extends QueuedJob> {
  private readonly waiting: J[] = [];
  private readonly options: RequestQueueOptions<J>;
  private readonly now: () => number;
  private running = false;
  private closed = false;
  private executing = 0;
  private wake: (() => void) | null = null;
  private idleWaiters: (() => void)[] = [];

  constructor(options: RequestQueueOptions<J>) {
    if (!Number.isInteger(options.maxQueue) || options.maxQueue < 1) {
      throw new CarboncpError('CARBONCP_BAD_OPTIONS', `maxQueue must be a positive integer, got ${options.maxQueue}`);
    }
    if (options.batching) {
      const { maxBatch, windowMs } = options.batching;
      if (!Number.isInteger(maxBatch) || maxBatch < 1) {
        throw new CarboncpError('CARBONCP_BAD_OPTIONS', `batching.maxBatch must be a positive integer, got ${maxBatch}`);
      }
      if (!(windowMs >= 0) || !Number.isFinite(windowMs)) {
        throw new CarboncpError('CARBONCP_BAD_OPTIONS', `batching.windowMs must be a finite number >= 0, got ${windowMs}`);
      }
    }
    this.options = options;
    this.now = options.now ?? (() => performance.now());
  }

  /** Jobs waiting, not counting the batch being executed. */
  get depth(): number {
    return this.waiting.length;
  }

  /** Jobs in the batch being executed. */
  get inFlight(): number {
    return this.executing;
  }

  get maxQueue(): number {
    return this.options.maxQueue;
  }

  /** Queues a job; throws CARBONCP_BUSY when full and CARBONCP_SHUTTING_DOWN after close(). */
  submit(job: J): void {
    if (this.closed) {
      throw new CarboncpError('CARBONCP_SHUTTING_DOWN', 'the server is shutting down and accepts no new requests');
    }
    if (this.waiting.length >= this.options.maxQueue) {
      throw new CarboncpError(
        'CARBONCP_BUSY',
        `the server is busy: ${this.waiting.length} requests are queued (max-queue ${this.options.maxQueue}); retry later`,
        { details: { queueDepth: this.waiting.length, maxQueue: this.options.maxQueue } },
      );
    }
    this.waiting.push(job);
    if (this.wake && this.batchIsFull()) this.wake();
    if (!this.running) void this.pump();
  }

  /** Stops accepting jobs; queued ones still run (see drain). */
  close(): void {
    this.closed = true;
    this.wake?.();
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
    return this.waiting.length === 0 && this.executing === 0;
  }

  private async pump(): Promise<void> {
    this.running = true;
    try {
      while (this.waiting.length > 0) {
        await this.waitForCompany();
        const batch = this.takeBatch();
        if (batch.length === 0) continue;
        this.executing = batch.length;
        try {
          await this.options.execute(batch);
        } catch (error) {
          this.options.onError?.(error, batch);
        } finally {
          this.executing = 0;
        }
        // Session runs block the event loop: let socket reads (and new jobs) in between batches.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } finally {
      this.running = false;
      if (this.isIdle()) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const waiter of waiters) waiter();
      }
    }
  }

  private async waitForCompany(): Promise<void> {
    const batching = this.options.batching;
    const head = this.waiting[0];
    if (!batching || !head || head.batchKey === null || this.closed) return;
    const remaining = head.enqueuedAt + batching.windowMs - this.now();
    if (remaining <= 0 || this.batchIsFull()) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, remaining);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
    this.wake = null;
  }

  private batchIsFull(): boolean {
    const batching = this.options.batching;
    const head = this.waiting[0];
    if (!batching || !head || head.batchKey === null) return true;
    let samples = 0;
    for (const job of this.waiting) {
      if (job.batchKey !== head.batchKey) continue;
      samples += job.samples;
      if (samples >= batching.maxBatch) return true;
    }
    return false;
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
