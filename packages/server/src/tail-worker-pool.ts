/**
 * The 'worker' executor: tails run on worker threads, so a running tail blocks a worker, not the
 * event loop that reads frames, answers pings and health checks and fires timeouts.
 *
 * - Each worker owns its onnxruntime sessions. The main thread extracts a plan's tail model once
 *   and keeps the bytes while any worker holds a session of that plan; a worker gets them (a
 *   copy, once) when it first runs the plan.
 * - Session memory: one LRU cache on the main thread accounts every (worker, plan) session with
 *   the tail's byte estimate, so `sessionCacheBytes` bounds the sum over all workers, as it bounds
 *   the one main-thread cache (a plan run on two workers counts twice: it is resident twice).
 *   Evicting an entry tells that worker to release that session.
 * - A batch goes to the least busy worker, preferring one that already holds the plan's session.
 *   Its feeds are transferred when each tensor owns its whole ArrayBuffer (a concatenated batch,
 *   a decompressed tensor), otherwise copied once (a tensor that is a view into a received frame);
 *   outputs come back transferred.
 * - A worker that exits (process.exit, an uncaught error, a native abort of the thread) fails the
 *   requests it held with CARBONCP_INTERNAL, is logged, its sessions are forgotten and a new
 *   worker takes its place; the server keeps serving.
 */
import { Worker } from 'node:worker_threads';
import type { ExecutionProvider } from '@carboncp/core/node';
import { CarboncpError, type WireTensor } from '@carboncp/protocol';
import { sessionOpenedLine, type SessionBackendOptions } from './main-thread-backend.js';
import { SessionCache } from './session-cache.js';
import { TailStageError, type TailBackend, type TailRequest } from './tail-executor.js';
import { fromRunError, type RunError, type TailRunResult } from './tail-run.js';
import { buffersOf, type FromWorker, type OpenedSession, type ToWorker, type WorkerCall } from './tail-worker-protocol.js';

export interface WorkerBackendOptions extends SessionBackendOptions {
  workers: number;
  /**
   * The worker's entry module; default tail-worker.js next to this file. From sources (a .ts
   * entry, as under vitest) it is started through source-worker/boot.mjs. Tests pass an entry
   * that wraps the real one.
   */
  entry?: URL;
  /** Passed to every worker as workerData.data (for a test entry). */
  data?: unknown;
}

/** Where a worker thread starts: the built tail-worker.js, or a .ts source through the loader. */
function workerStart(entry: URL, data: unknown): { file: URL; workerData: { entry?: string; data: unknown } } {
  if (!entry.pathname.endsWith('.ts')) return { file: entry, workerData: { data } };
  return { file: new URL('./source-worker/boot.mjs', import.meta.url), workerData: { entry: entry.href, data } };
}

function defaultEntry(): URL {
  // This module is tail-worker-pool.ts when the server runs from sources, .js when built.
  return new URL(import.meta.url.endsWith('.ts') ? './tail-worker.ts' : './tail-worker.js', import.meta.url);
}

/** A run or open that was waiting on a worker which then exited. */
class WorkerExited extends Error {}

interface Pending {
  resolve: (value: OpenedSession | TailRunResult | null) => void;
  reject: (error: Error) => void;
  settled: Promise<void>;
}

/** One worker thread and the calls waiting on it. */
class TailWorker {
  readonly thread: Worker;
  readonly ready: Promise<void>;
  readonly exited: Promise<void>;
  busy = 0;
  alive = true;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private uncaught: Error | undefined;

  constructor(
    readonly slot: number,
    entry: URL,
    data: unknown,
    onExit: (worker: TailWorker, why: string, lost: number, started: boolean) => void,
  ) {
    const start = workerStart(entry, data);
    this.thread = new Worker(start.file, { workerData: start.workerData, name: `carboncp-tail-${slot}` });
    this.exited = new Promise((resolve) => this.thread.once('exit', () => resolve()));
    let started = false;
    this.ready = new Promise((resolve, reject) => {
      this.thread.on('message', (message: FromWorker) => {
        if (message.type === 'ready') {
          started = true;
          resolve();
          return;
        }
        const call = this.pending.get(message.id);
        if (!call) return;
        this.pending.delete(message.id);
        if (message.ok) call.resolve(message.value);
        else call.reject(fromRunError(message.error as RunError));
      });
      this.thread.on('error', (error) => {
        this.uncaught = error;
      });
      this.thread.on('exit', (code) => {
        this.alive = false;
        const why = this.uncaught ? `an uncaught error (${this.uncaught.message})` : `exit code ${code}`;
        if (!started) reject(new CarboncpError('CARBONCP_INTERNAL', `tail worker ${slot} could not start: ${why}`));
        const calls = [...this.pending.values()];
        this.pending.clear();
        for (const call of calls) call.reject(new WorkerExited(`tail worker ${slot} stopped (${why}) before answering`));
        onExit(this, why, calls.length, started);
      });
    });
    // A worker that fails to start is reported by start() or, for a replacement, by onExit.
    this.ready.catch(() => undefined);
  }

  /** Settles once nothing is waiting on this worker (or when it has exited). */
  async idle(): Promise<void> {
    while (this.alive && this.pending.size > 0) {
      await Promise.race([Promise.allSettled([...this.pending.values()].map((call) => call.settled)), this.exited]);
    }
  }

  call(message: WorkerCall, transfer: ArrayBuffer[] = []): Promise<OpenedSession | TailRunResult | null> {
    if (!this.alive) return Promise.reject(new WorkerExited(`tail worker ${this.slot} has stopped`));
    const id = this.nextId++;
    // Not before 'ready': an entry that wraps the real worker may start its port before the real
    // worker listens, and a message delivered then would reach no handler.
    return this.ready.then(
      () =>
        new Promise((resolve, reject) => {
          if (!this.alive) {
            reject(new WorkerExited(`tail worker ${this.slot} has stopped`));
            return;
          }
          let settle!: () => void;
          const settled = new Promise<void>((done) => (settle = done));
          this.pending.set(id, {
            resolve: (value) => {
              settle();
              resolve(value);
            },
            reject: (error) => {
              settle();
              reject(error);
            },
            settled,
          });
          this.thread.postMessage({ ...message, id } as ToWorker, transfer);
        }),
      (error: Error) => Promise.reject(new WorkerExited(error.message)),
    );
  }

  post(message: ToWorker): void {
    if (this.alive) this.thread.postMessage(message);
  }
}

/** A session as the main thread knows it: which worker holds it, under which id. */
interface WorkerSession {
  worker: TailWorker;
  sessionId: number;
  planKey: string;
  provider: ExecutionProvider;
}

/** A tensor whose data owns its whole ArrayBuffer (transferable as it is), else a copy that does. */
function transferable(tensor: WireTensor): WireTensor {
  const data = tensor.data;
  if (data.buffer instanceof ArrayBuffer && data.byteOffset === 0 && data.byteLength === data.buffer.byteLength) return tensor;
  // new Uint8Array(view) copies; Buffer.prototype.slice would return a view of the same memory,
  // and transferring that would detach ws's receive buffer under other messages.
  return { ...tensor, data: new Uint8Array(data) };
}

export class WorkerPoolBackend implements TailBackend {
  readonly sessions: SessionCache<WorkerSession>;
  private readonly workers: TailWorker[] = [];
  private readonly entry: URL;
  /** Extracted tail models, kept while any worker holds (or opens) a session of the plan. */
  private readonly tails = new Map<string, { bytes: Uint8Array; users: number }>();
  private nextSessionId = 1;
  private closing = false;

  constructor(private readonly options: WorkerBackendOptions) {
    if (!Number.isSafeInteger(options.workers) || options.workers < 1) {
      throw new CarboncpError('CARBONCP_BAD_OPTIONS', `workers must be a positive integer, got ${String(options.workers)}`);
    }
    this.entry = options.entry ?? defaultEntry();
    this.sessions = new SessionCache<WorkerSession>({
      maxBytes: options.sessionCacheBytes,
      dispose: (session) => {
        session.worker.post({ type: 'release', sessionId: session.sessionId });
        this.releaseTail(session.planKey);
      },
      onEvict: (key, bytes) =>
        options.log(`session cache: evicted ${key} (${(bytes / 1e6).toFixed(2)} MB) to stay under ${(options.sessionCacheBytes / 1e6).toFixed(2)} MB over all workers`),
    });
    for (let slot = 0; slot < options.workers; slot++) this.workers.push(this.spawn(slot));
  }

  /** Resolves once every worker has loaded its modules; throws if one could not start. */
  async start(): Promise<void> {
    try {
      await Promise.all(this.workers.map((worker) => worker.ready));
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  async run(request: TailRequest): Promise<{ result: TailRunResult; provider: ExecutionProvider }> {
    const worker = this.pick(request.planKey);
    worker.busy += 1;
    try {
      const key = sessionKey(request.planKey, worker.slot);
      let lease;
      try {
        lease = await this.sessions.acquire(key, request.sizeBytes, () => this.open(worker, request));
      } catch (error) {
        throw new TailStageError(`could not open the tail session of ${request.planKey}`, error);
      }
      try {
        const feeds = request.feeds.map(transferable);
        const result = (await worker.call(
          { type: 'run', sessionId: lease.value.sessionId, spec: request.spec, feeds, samples: request.samples },
          buffersOf(feeds),
        )) as TailRunResult;
        return { result, provider: lease.value.provider };
      } catch (error) {
        if (error instanceof WorkerExited) throw new TailStageError(`the tail of ${request.planKey} was lost`, error);
        throw error;
      } finally {
        lease.release();
      }
    } finally {
      worker.busy -= 1;
    }
  }

  /**
   * Stops the workers; call after the queue has drained. A run cannot be interrupted, and
   * terminating a thread while onnxruntime is inside a call (a run that fails then throws into a
   * dying thread) aborts the whole process, so each worker first finishes what it holds, then
   * releases its sessions and ends by itself. Only a worker still busy after `stopTimeoutMs` (a
   * hung run) is terminated, and that is logged.
   */
  async close(stopTimeoutMs = 30_000): Promise<void> {
    this.closing = true;
    await Promise.all(this.workers.map((worker) => this.stop(worker, stopTimeoutMs)));
    await this.sessions.clear();
  }

  private async stop(worker: TailWorker, timeoutMs: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const graceful = (async () => {
      await worker.idle();
      await worker.call({ type: 'close' }).catch(() => undefined);
      await worker.exited;
    })();
    try {
      if ((await Promise.race([graceful, timedOut])) === 'timeout') {
        this.options.log(`tail worker ${worker.slot} did not stop within ${timeoutMs} ms; terminating it`);
        await worker.thread.terminate();
      }
    } finally {
      clearTimeout(timer);
    }
  }

  private spawn(slot: number): TailWorker {
    return new TailWorker(slot, this.entry, this.options.data, (worker, why, lost, started) => this.onExit(worker, why, lost, started));
  }

  private onExit(worker: TailWorker, why: string, lost: number, started: boolean): void {
    if (this.closing || this.workers[worker.slot] !== worker) return;
    // One that never started is reported by start() or, for a replacement, by its ready promise;
    // starting another would only fail the same way.
    if (!started) return;
    this.sessions.removeWhere((key) => key.endsWith(sessionKey('', worker.slot)));
    this.options.log(
      `error CARBONCP_INTERNAL: tail worker ${worker.slot} stopped (${why}); its ${lost} call(s) failed with CARBONCP_INTERNAL; starting a new worker`,
    );
    const replacement = this.spawn(worker.slot);
    this.workers[worker.slot] = replacement;
    replacement.ready.catch((error: Error) => this.options.log(`error CARBONCP_INTERNAL: ${error.message}; tail worker slot ${worker.slot} stays empty`));
  }

  /** The least busy live worker, preferring one that holds the plan's session. */
  private pick(planKey: string): TailWorker {
    let best: TailWorker | undefined;
    let bestHolds = false;
    for (const worker of this.workers) {
      if (!worker.alive) continue;
      const holds = this.sessions.has(sessionKey(planKey, worker.slot));
      if (!best || worker.busy < best.busy || (worker.busy === best.busy && holds && !bestHolds)) {
        best = worker;
        bestHolds = holds;
      }
    }
    if (!best) throw new TailStageError(`the tail of ${planKey} could not run`, new Error('no tail worker is running'));
    return best;
  }

  private async open(worker: TailWorker, request: TailRequest): Promise<WorkerSession> {
    const tail = this.useTail(request);
    const sessionId = this.nextSessionId++;
    try {
      const opened = (await worker.call({
        type: 'open',
        sessionId,
        planKey: request.planKey,
        tail,
        executionProviders: this.options.executionProviders,
      })) as OpenedSession;
      this.options.log(sessionOpenedLine(request.planKey, tail.byteLength, opened.provider, opened.ms, ` (worker ${worker.slot})`));
      this.options.onSessionProvider(opened.provider);
      return { worker, sessionId, planKey: request.planKey, provider: opened.provider };
    } catch (error) {
      this.releaseTail(request.planKey);
      throw error;
    }
  }

  private useTail(request: TailRequest): Uint8Array {
    let held = this.tails.get(request.planKey);
    if (!held) {
      held = { bytes: request.tailBytes(), users: 0 };
      this.tails.set(request.planKey, held);
    }
    held.users += 1;
    return held.bytes;
  }

  private releaseTail(planKey: string): void {
    const held = this.tails.get(planKey);
    if (held && --held.users <= 0) this.tails.delete(planKey);
  }
}

function sessionKey(planKey: string, slot: number): string {
  return `${planKey} on worker ${slot}`;
}
