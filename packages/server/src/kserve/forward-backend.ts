/**
 * A tail backend that runs no tail here: each batch goes to a KServe v2 server (NVIDIA Triton
 * with the repository of `carboncp export triton`, or another carboncp server) as one
 * POST /v2/models/{tail name}/infer with binary tensors, over node's fetch (connections kept
 * alive by its pool). The WebSocket side, admission, queue, batching, metrics and telemetry stay
 * this server's; only the run moves. Every call is bounded by tail-timeout-ms. Failures map to
 * carboncp codes with the cause kept: unreachable or a malformed answer CARBONCP_INTERNAL, past
 * the bound CARBONCP_TIMEOUT, an error answer the code it carries where it means the same here
 * (PASSED_ON) or its HTTP status's (400 CARBONCP_BAD_TENSOR, 503 CARBONCP_BUSY, 504
 * CARBONCP_TIMEOUT, else CARBONCP_INTERNAL).
 *
 * Readiness follows the backend: `start()` asks its /v2/health/ready once, then every
 * checkIntervalMs; an unreachable call marks it not ready at once and an answered one ready, so
 * this server's /v2/health/ready (and a load balancer's probe of it) says whether a tail could run.
 */
import { CarboncpError, ErrorCode, isErrorCode, type WireTensor } from '@carboncp/protocol';
import { TailStageError, type TailBackend, type TailRequest } from '../tail-executor.js';
import { rowsOf, type JobOutcome, type TailRunResult } from '../tail-run.js';
import { BINARY_CONTENT_TYPE, HEADER_LENGTH_HEADER } from './kserve-body.js';
import { decodeInferResponse, encodeInferRequest } from './kserve-messages.js';

export interface ForwardBackendOptions {
  /** Base URL of the KServe v2 server, e.g. http://triton:8000. */
  url: string;
  /** Sent as `authorization: Bearer TOKEN` (a carboncp server with a token). */
  token?: string;
  /** The bound of one call (tail-timeout-ms). */
  timeoutMs: number;
  /** How often start()'s timer asks the backend's /v2/health/ready (tailBackend.checkIntervalMs). */
  checkIntervalMs: number;
  /** Told each change of the backend's readiness, with why. */
  log?: (line: string) => void;
}

/** A readiness question is short: a backend slower than this to say it is ready is not. */
const READY_CHECK_TIMEOUT_MS = 2000;

/** What responses report as execution_provider when the backend does not say (Triton does not). */
export const FORWARDED_PROVIDER = 'kserve';

/** fetch's codes for a connection that closed under a request (undici, node's net). */
const STALE_CONNECTION: ReadonlySet<string> = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

function causeCode(error: unknown): string | undefined {
  const code = (error as { cause?: { code?: unknown } })?.cause?.code;
  return typeof code === 'string' ? code : undefined;
}

const CODE_OF_STATUS: Readonly<Record<number, string>> = { 400: ErrorCode.BAD_TENSOR, 503: ErrorCode.BUSY, 504: ErrorCode.TIMEOUT };

/**
 * The codes of a carboncp backend's answer that mean the same to this server's client. Others
 * would mislead it: the backend lacking the model or plan, or shutting down, says nothing of
 * this server (which is up and holds them): a deployment fault, CARBONCP_INTERNAL (a backend
 * shutting down: CARBONCP_BUSY, try again).
 */
const PASSED_ON: ReadonlyMap<string, string> = new Map([
  [ErrorCode.BAD_TENSOR, ErrorCode.BAD_TENSOR],
  [ErrorCode.BUSY, ErrorCode.BUSY],
  [ErrorCode.TIMEOUT, ErrorCode.TIMEOUT],
  [ErrorCode.SHUTTING_DOWN, ErrorCode.BUSY],
]);

function errorAnswer(status: number, text: string): { code: string; message: string } {
  let body: { error?: unknown; code?: unknown } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    // Not JSON: the status decides, the text is the message.
  }
  const message = typeof body.error === 'string' ? body.error : text.slice(0, 300);
  const passed = isErrorCode(body.code) ? PASSED_ON.get(body.code) : undefined;
  const code = passed ?? CODE_OF_STATUS[status] ?? ErrorCode.INTERNAL;
  return { code, message: `HTTP ${status}: ${message}` };
}

export class KserveForwardBackend implements TailBackend {
  private readonly base: string;
  /** undefined until the first answer or check. */
  private ready: boolean | undefined;
  private checking: Promise<boolean> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: ForwardBackendOptions) {
    this.base = options.url.replace(/\/+$/, '');
  }

  /** Asks the backend once (a backend down at start does not stop this server), then on a timer. */
  async start(): Promise<void> {
    await this.checkReadiness();
    if (this.closed) return;
    this.timer = setInterval(() => void this.checkReadiness(), this.options.checkIntervalMs);
    this.timer.unref();
  }

  /** GET /v2/health/ready on the backend: ready on 200 only. One question at a time. */
  checkReadiness(): Promise<boolean> {
    this.checking ??= (async () => {
      const target = `${this.base}/v2/health/ready`;
      try {
        const response = await fetch(target, {
          headers: this.options.token === undefined ? {} : { authorization: `Bearer ${this.options.token}` },
          signal: AbortSignal.timeout(Math.min(this.options.timeoutMs, READY_CHECK_TIMEOUT_MS)),
        });
        await response.arrayBuffer();
        this.setReady(response.status === 200, `${target} answered HTTP ${response.status}`);
      } catch (error) {
        const timedOut = (error as Error)?.name === 'TimeoutError';
        this.setReady(false, `${target} ${timedOut ? `did not answer within ${Math.min(this.options.timeoutMs, READY_CHECK_TIMEOUT_MS)} ms` : `is unreachable: ${causeCode(error) ?? (error as Error)?.message}`}`);
      }
      return this.ready === true;
    })().finally(() => (this.checking = undefined));
    return this.checking;
  }

  private setReady(ready: boolean, why: string): void {
    if (this.closed || ready === this.ready) return;
    this.ready = ready;
    this.options.log?.(`tail backend ${ready ? 'ready' : 'not ready'}: ${why}`);
  }

  async run(request: TailRequest): ReturnType<TailBackend['run']> {
    const total = request.samples.reduce((a, b) => a + b, 0);
    const started = performance.now();
    const answer = await this.call(request, request.feeds);
    const runs: TailRunResult['runs'] = [{ ms: performance.now() - started, batchSize: request.samples.length }];
    const provider = typeof answer.provider === 'string' ? answer.provider : FORWARDED_PROVIDER;
    if (request.samples.length === 1) return { result: { outcomes: [{ outputs: answer.outputs, batchSize: 1 }], runs, notes: [] }, provider };
    if (answer.outputs.every((o) => o.shape[0] === total)) {
      const outcomes: JobOutcome[] = request.samples.map((_, j) => ({ outputs: answer.outputs.map((o) => rowsOf(o, request.samples, j)), batchSize: request.samples.length }));
      return { result: { outcomes, runs, notes: [] }, provider };
    }
    // An output that is not per-sample cannot be split back: one call per request.
    runs.pop();
    const outcomes: JobOutcome[] = [];
    for (let j = 0; j < request.samples.length; j++) {
      const began = performance.now();
      const own = await this.call(request, request.feeds.map((feed) => rowsOf(feed, request.samples, j)));
      runs.push({ ms: performance.now() - began, batchSize: 1 });
      outcomes.push({ outputs: own.outputs, batchSize: 1 });
    }
    return { result: { outcomes, runs, notes: [`tail ${request.planKey}: an output is not per-sample; forwarded the batch one request at a time`] }, provider };
  }

  canRun(): boolean {
    return this.ready === true && !this.closed;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    // Nothing else held: fetch's pool closes idle connections itself.
  }

  /** One inference call; the outputs in the plan's tail output order. Throws TailStageError. */
  private async call(request: TailRequest, feeds: readonly WireTensor[]): Promise<{ outputs: WireTensor[]; provider: unknown }> {
    const target = `${this.base}/v2/models/${encodeURIComponent(request.kserveName)}/infer`;
    const context = `the tail backend ${target} (${request.planKey})`;
    const { body, headerLength } = encodeInferRequest({ inputs: feeds, outputs: request.spec.tailOutputs, binary: true });
    const signal = AbortSignal.timeout(this.options.timeoutMs);
    const post = () =>
      fetch(target, {
        method: 'POST',
        headers: {
          'content-type': BINARY_CONTENT_TYPE,
          [HEADER_LENGTH_HEADER]: String(headerLength),
          ...(this.options.token === undefined ? {} : { authorization: `Bearer ${this.options.token}` }),
        },
        body: new Uint8Array(body.buffer, body.byteOffset, body.byteLength) as Uint8Array<ArrayBuffer>,
        signal,
      });
    let status: number;
    let bytes: Uint8Array;
    let header: string | null;
    try {
      let response: Response;
      try {
        response = await post();
      } catch (error) {
        // A kept-alive connection the backend closed (it restarted) fails before any answer:
        // once, on a fresh connection, the call is sent again (a tail run has no side effect).
        if (!STALE_CONNECTION.has(causeCode(error) ?? '')) throw error;
        response = await post();
      }
      status = response.status;
      header = response.headers.get(HEADER_LENGTH_HEADER);
      bytes = new Uint8Array(await response.arrayBuffer());
    } catch (error) {
      const timedOut = (error as Error)?.name === 'TimeoutError';
      const why = timedOut
        ? `no answer within ${this.options.timeoutMs} ms (tail-timeout-ms)`
        : `unreachable: ${causeCode(error) ?? (error as { cause?: Error })?.cause?.message ?? (error as Error)?.message}`;
      const code = timedOut ? ErrorCode.TIMEOUT : ErrorCode.INTERNAL;
      // Slow is not down (the run may be long); unreachable is.
      if (!timedOut) this.setReady(false, `${target} ${why}`);
      throw new TailStageError(context, new CarboncpError(code, why, { cause: error }), code);
    }
    // It ran a tail: it is up (an error answer, 503 while it shuts down say, leaves that to the checks).
    if (status === 200) this.setReady(true, `${target} answered HTTP 200`);
    if (status !== 200) {
      const { code, message } = errorAnswer(status, Buffer.from(bytes).toString('utf8'));
      throw new TailStageError(context, new CarboncpError(code, message), code);
    }
    try {
      const decoded = decodeInferResponse(bytes, header ?? undefined);
      const outputs = request.spec.tailOutputs.map((name) => {
        const found = decoded.outputs.find((o) => o.name === name);
        if (!found) throw new CarboncpError(ErrorCode.INTERNAL, `the answer has no output '${name}'`);
        return found;
      });
      return { outputs, provider: decoded.parameters?.execution_provider };
    } catch (error) {
      throw new TailStageError(`${context} answered something unreadable`, error);
    }
  }
}
