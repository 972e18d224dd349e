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
}

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

  constructor(private readonly options: ForwardBackendOptions) {
    this.base = options.url.replace(/\/+$/, '');
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
    return true;
  }

  async close(): Promise<void> {
    // Nothing held: fetch's pool closes idle connections itself.
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
      throw new TailStageError(context, new CarboncpError(code, why, { cause: error }), code);
    }
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
