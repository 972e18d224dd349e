/**
 * The 'main' executor: tails run on the event loop thread. onnxruntime-node's
 * InferenceSession.run blocks the thread it is called on, so while a tail runs the server reads
 * no frames and answers no pings or health checks; in exchange nothing crosses a thread. Sessions
 * live in one LRU cache bounded by the estimated bytes of their tails.
 */
import { createSession, type ExecutionProvider } from '@carboncp/core/node';
import { ErrorCode } from '@carboncp/protocol';
import type * as ort from 'onnxruntime-node';
import { SessionCache } from './session-cache.js';
import { TailStageError, type TailBackend, type TailRequest } from './tail-executor.js';
import { runTail } from './tail-run.js';

export interface TailSession {
  session: ort.InferenceSession;
  provider: ExecutionProvider;
}

export interface SessionBackendOptions {
  sessionCacheBytes: number;
  executionProviders: ExecutionProvider[];
  log: (line: string) => void;
  /** Called with the provider each new session got, so the server reports what really runs. */
  onSessionProvider: (provider: ExecutionProvider) => void;
  /** The bound of one tail run or session open (tail-timeout-ms). */
  callTimeoutMs: number;
}

/** The log line of a newly opened tail session (the tests and operators read its prefix). */
export function sessionOpenedLine(planKey: string, bytes: number, provider: string, ms: number, where = ''): string {
  return `tail session ${planKey}: ${(bytes / 1e6).toFixed(2)} MB on ${provider}, opened in ${ms.toFixed(0)} ms${where}`;
}

export class MainThreadBackend implements TailBackend {
  readonly sessions: SessionCache<TailSession>;

  constructor(private readonly options: SessionBackendOptions) {
    this.sessions = new SessionCache<TailSession>({
      maxBytes: options.sessionCacheBytes,
      dispose: (tail) => tail.session.release(),
      onEvict: (key, bytes) =>
        options.log(`session cache: evicted ${key} (${(bytes / 1e6).toFixed(2)} MB) to stay under ${(options.sessionCacheBytes / 1e6).toFixed(2)} MB`),
    });
  }

  /**
   * A run on this thread blocks it, so no timer can interrupt a run that is slow; the bound still
   * ends a run or session open whose promise never settles (the queue must never stall).
   */
  run(request: TailRequest): ReturnType<TailBackend['run']> {
    const timeoutMs = this.options.callTimeoutMs;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const bound = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new TailStageError(`the tail of ${request.planKey} did not finish within ${timeoutMs} ms (tail-timeout-ms)`, new Error('no answer'), ErrorCode.TIMEOUT)),
        timeoutMs,
      );
    });
    return Promise.race([this.runUnbounded(request), bound]).finally(() => clearTimeout(timer));
  }

  canRun(): boolean {
    return true;
  }

  private async runUnbounded(request: TailRequest): ReturnType<TailBackend['run']> {
    let lease;
    try {
      lease = await this.sessions.acquire(request.planKey, request.sizeBytes, () => this.open(request));
    } catch (error) {
      throw new TailStageError(`could not open the tail session of ${request.planKey}`, error);
    }
    try {
      const result = await runTail(lease.value.session, request.spec, request.feeds, request.samples);
      return { result, provider: lease.value.provider };
    } finally {
      lease.release();
    }
  }

  close(): Promise<void> {
    return this.sessions.clear();
  }

  private async open(request: TailRequest): Promise<TailSession> {
    const tail = request.tailBytes();
    const started = performance.now();
    const opened = await createSession(tail, { executionProviders: this.options.executionProviders, log: () => undefined });
    this.options.log(sessionOpenedLine(request.planKey, tail.byteLength, opened.provider, performance.now() - started));
    this.options.onSessionProvider(opened.provider);
    return opened;
  }
}
