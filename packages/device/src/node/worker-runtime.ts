import { Worker } from 'node:worker_threads';
import { CarboncpError, ErrorCode, type DataType } from '@carboncp/protocol';
import * as ort from 'onnxruntime-node';
import { DEVICE_DEFAULTS, checkCallTimeoutMs, checkQueueLimit } from '../client/client-options.js';
import { systemClock, type Clock, type ClockTimer } from '../client/clock.js';
import type { Runtime, RuntimeSession, TensorData } from '../client/types.js';
import { OrtRuntime, type OrtRuntimeOptions } from './ort-runtime.js';
import type { FromHeadWorker, ToHeadWorker, WireTensor } from './worker-protocol.js';

export interface WorkerRuntimeOptions extends OrtRuntimeOptions {
  /**
   * Bound of one call on the worker thread (a load or a run), from when it starts: calls wait
   * their turn on the calling thread and go to the thread one at a time. On expiry the call fails
   * with CARBONCP_TIMEOUT, the thread is retired (see WorkerRuntime) and the next call starts a
   * new one (reloading the sessions it needs). 0: no bound. Default 60000.
   */
  callTimeoutMs?: number;
  /**
   * Loads and runs that may wait for the thread behind the call on it. A call that finds this
   * many waiting fails at once with CARBONCP_BUSY instead of waiting without bound (a thread
   * stalled until callTimeoutMs would otherwise pile up every request and its inputs). Releases
   * are never refused. Default 128.
   */
  maxWaitingCalls?: number;
  /** Timers of the call bound; default the system clock (createClient passes the client's). */
  clock?: Clock;
  /** The thread's entry module; default head-worker.js next to this file (tests wrap it). */
  entry?: URL;
}

export const DEFAULT_WORKER_CALL_TIMEOUT_MS: number = DEVICE_DEFAULTS.headTimeoutMs;
export const DEFAULT_WORKER_MAX_WAITING_CALLS: number = DEVICE_DEFAULTS.headQueueLimit;

type Reply<K extends 'load' | 'run' | 'release'> = K extends 'load'
  ? Extract<FromHeadWorker, { session: number }>
  : K extends 'run'
    ? Extract<FromHeadWorker, { outputs: unknown }>
    : Extract<FromHeadWorker, { ok: true }>;

interface Pending {
  resolve: (reply: FromHeadWorker) => void;
  reject: (error: Error) => void;
  timer: ClockTimer | undefined;
}

/** Distributes Omit over a union, so each message keeps its own fields. */
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

/** One worker thread and the calls waiting on it. */
class HeadThread {
  readonly worker: Worker;
  /** Takes calls: false once retired or exited. */
  alive = true;
  private exited = false;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private uncaught: Error | undefined;

  constructor(
    entry: URL,
    options: OrtRuntimeOptions,
    private readonly callTimeoutMs: number,
    private readonly clock: Clock,
  ) {
    this.worker = new Worker(entry, { workerData: { options } });
    this.worker.unref(); // an idle thread never keeps the app alive; ref'd while calls wait
    this.worker.on('message', (reply: FromHeadWorker) => this.settle(reply));
    this.worker.on('error', (error) => {
      this.uncaught = error;
    });
    this.worker.on('exit', (code) => {
      this.exited = true;
      const why = this.uncaught ? `threw ${this.uncaught.message}` : `exited with code ${code}`;
      this.fail(new CarboncpError(ErrorCode.WORKER_EXITED, `the head worker thread ${why} while a call was on it`));
    });
  }

  call<K extends 'load' | 'run' | 'release'>(message: WithoutId<Extract<ToHeadWorker, { op: K }>>, transfer: ArrayBuffer[] = []): Promise<Reply<K>> {
    if (!this.alive) return Promise.reject(new CarboncpError(ErrorCode.WORKER_EXITED, 'the head worker thread has exited'));
    const id = this.nextId++;
    return new Promise<FromHeadWorker>((resolve, reject) => {
      const timer =
        this.callTimeoutMs > 0
          ? this.clock.setTimeout(() => {
              reject(new CarboncpError(ErrorCode.TIMEOUT, `a ${message.op} on the head worker thread took more than ${this.callTimeoutMs} ms; the thread is replaced`));
              this.pending.delete(id);
              this.retire(`replaced after a ${message.op} exceeded ${this.callTimeoutMs} ms`);
            }, this.callTimeoutMs)
          : undefined;
      this.pending.set(id, { resolve, reject, timer });
      if (this.pending.size === 1) this.worker.ref();
      this.worker.postMessage({ ...message, id }, transfer);
    }) as Promise<Reply<K>>;
  }

  /**
   * Takes the thread out of service: its calls fail with CARBONCP_WORKER_EXITED at once, and it
   * is asked to release its sessions and exit once the call it is in returns. Terminating a
   * worker inside an onnxruntime call aborts the whole process ('terminate called after throwing
   * an instance of Napi::Error'), so it is terminated only if it is still there callTimeoutMs
   * later (a run that never returns; never with no bound).
   */
  retire(reason: string): void {
    if (!this.alive) return;
    this.fail(new CarboncpError(ErrorCode.WORKER_EXITED, `the head worker thread was ${reason}`));
    this.worker.unref();
    const end: ToHeadWorker = { op: 'end', id: 0 };
    this.worker.postMessage(end);
    if (this.callTimeoutMs > 0 && !this.exited) {
      const timer = this.clock.setTimeout(
        () => {
          if (!this.exited) void this.worker.terminate();
        },
        this.callTimeoutMs,
        { unref: true },
      );
      this.worker.once('exit', () => this.clock.clearTimeout(timer));
    }
  }

  private settle(reply: FromHeadWorker): void {
    const pending = this.pending.get(reply.id);
    if (!pending) return; // timed out already
    this.pending.delete(reply.id);
    this.clock.clearTimeout(pending.timer);
    if (this.pending.size === 0) this.worker.unref();
    if (reply.ok) pending.resolve(reply);
    else pending.reject(new Error(reply.error.message));
  }

  private fail(error: CarboncpError): void {
    this.alive = false;
    for (const pending of this.pending.values()) {
      this.clock.clearTimeout(pending.timer);
      pending.reject(error);
    }
    this.pending.clear();
  }
}

/** Copies a view that does not own its whole buffer: posting a view clones its entire buffer. */
function ownView(data: TensorData): TensorData {
  return data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data : (data.slice() as TensorData);
}

/**
 * Runs sessions on a worker thread, so that a head (or a local tail) never blocks the caller's
 * event loop: an Electron main process keeps its UI responsive, a server keeps answering. Inputs
 * are copied to the thread (the caller keeps its tensors); outputs come back without a copy.
 * One thread, one call on it at a time, in order (the others wait on the calling thread, at most
 * maxWaitingCalls of them: past that a load or run fails at once with CARBONCP_BUSY). A
 * thread that dies fails the call on it with CARBONCP_WORKER_EXITED and is replaced on the next
 * call, which reloads the sessions it needs. A thread is never terminated inside an onnxruntime
 * call (that aborts the process): a thread past its bound is retired (see HeadThread.retire).
 * The thread is ended when every session is released.
 */
export class WorkerRuntime implements Runtime<ort.Tensor> {
  private thread: HeadThread | undefined;
  private readonly local: OrtRuntime;
  private readonly entry: URL;
  private readonly callTimeoutMs: number;
  private readonly maxWaitingCalls: number;
  private readonly clock: Clock;
  private liveSessions = 0;
  /** Loads and runs queued that have not yet gone to the thread. */
  private waiting = 0;
  /** End of the chain of calls: one call on the thread at a time, in order. */
  private queue: Promise<unknown> = Promise.resolve();
  /** Threads started so far (1 + replacements, counting restarts after every session was released). */
  threadsStarted = 0;
  private readonly running = new Set<HeadThread>();

  constructor(private readonly options: WorkerRuntimeOptions = {}) {
    const { entry = new URL('./head-worker.js', import.meta.url) } = options;
    this.callTimeoutMs = checkCallTimeoutMs('callTimeoutMs', options.callTimeoutMs ?? DEFAULT_WORKER_CALL_TIMEOUT_MS);
    this.maxWaitingCalls = checkQueueLimit('maxWaitingCalls', options.maxWaitingCalls ?? DEFAULT_WORKER_MAX_WAITING_CALLS);
    this.clock = options.clock ?? systemClock;
    this.local = new OrtRuntime(options);
    this.entry = entry;
  }

  /** Threads that have not exited: the one in service, and retired ones still finishing a call. */
  get threadsAlive(): number {
    return this.running.size;
  }

  private current(): HeadThread {
    if (!this.thread?.alive) {
      const { intraOpNumThreads, allowSpinning } = this.options;
      const thread = new HeadThread(this.entry, { intraOpNumThreads, allowSpinning }, this.callTimeoutMs, this.clock);
      this.running.add(thread);
      thread.worker.once('exit', () => this.running.delete(thread));
      this.thread = thread;
      this.threadsStarted++;
    }
    return this.thread;
  }

  /**
   * Runs `call` after every call queued before it has settled. A load or run (`what`) that
   * finds maxWaitingCalls waiting is refused at once; a release (no `what`) always queues.
   */
  private exclusive<R>(call: () => Promise<R>, what?: 'load' | 'run'): Promise<R> {
    let start = call;
    if (what) {
      if (this.waiting >= this.maxWaitingCalls) {
        return Promise.reject(
          new CarboncpError(
            ErrorCode.BUSY,
            `the head worker thread has ${this.waiting} calls waiting (maxWaitingCalls ${this.maxWaitingCalls}; createClient's headQueueLimit); this ${what} is refused`,
            { details: { waiting: this.waiting, limit: this.maxWaitingCalls } },
          ),
        );
      }
      this.waiting++;
      start = () => {
        this.waiting--;
        return call();
      };
    }
    const result = this.queue.then(start, start);
    this.queue = result.catch(() => undefined);
    return result;
  }

  async load(bytes: Uint8Array, label: string): Promise<RuntimeSession<ort.Tensor>> {
    const open = async () => {
      const thread = this.current();
      try {
        const reply = await thread.call<'load'>({ op: 'load', bytes: ownView(bytes) as Uint8Array });
        return { thread, session: reply.session, inputNames: reply.inputNames, outputNames: reply.outputNames };
      } catch (error) {
        if (error instanceof CarboncpError) throw error;
        throw new CarboncpError(ErrorCode.BAD_MODEL, `onnxruntime cannot load ${label}: ${(error as Error).message}`, { cause: error });
      }
    };
    let handle = await this.exclusive(open, 'load');
    this.liveSessions++;
    let released = false;
    const ensure = async () => {
      // The thread this session lived in is gone: load it again in the current one.
      if (!handle.thread.alive) handle = await open();
      return handle;
    };
    return {
      inputNames: handle.inputNames,
      outputNames: handle.outputNames,
      executionProvider: 'cpu',
      run: async (feeds) => {
        if (released) throw new CarboncpError(ErrorCode.INTERNAL, `session ${label} was released`);
        const wire: Record<string, WireTensor> = {};
        for (const [name, tensor] of Object.entries(feeds)) {
          wire[name] = { type: tensor.type, dims: tensor.dims, data: ownView(tensor.data as TensorData) };
        }
        const reply = await this.exclusive(async () => {
          const { thread, session } = await ensure();
          return thread.call<'run'>({ op: 'run', session, feeds: wire });
        }, 'run');
        const outputs: Record<string, ort.Tensor> = {};
        for (const [name, t] of Object.entries(reply.outputs)) {
          outputs[name] = new ort.Tensor(t.type as ort.Tensor.Type, t.data as ort.Tensor.DataTypeMap[ort.Tensor.Type], t.dims);
        }
        return outputs;
      },
      release: async () => {
        if (released) return;
        released = true;
        this.liveSessions--;
        await this.exclusive(async () => {
          if (handle.thread.alive) await handle.thread.call<'release'>({ op: 'release', session: handle.session }).catch(() => undefined);
          if (this.liveSessions === 0) this.close();
        });
      },
    };
  }

  tensor(datatype: DataType, data: TensorData, dims: number[]): ort.Tensor {
    return this.local.tensor(datatype, data, dims);
  }

  describe(tensor: ort.Tensor): { datatype: DataType; data: TensorData } {
    return this.local.describe(tensor);
  }

  /**
   * Retires the thread now: calls on it fail with CARBONCP_WORKER_EXITED, it exits once the call
   * it is in returns. A later load starts a new one.
   */
  close(): void {
    this.thread?.retire('closed');
    this.thread = undefined;
  }
}
