/**
 * Answers batches of infer jobs: drops jobs whose connection closed or whose timeout passed in
 * the queue, hands the batch's feeds to a tail backend (the main thread, or a pool of worker
 * threads) and answers each job from its outcome. When onnxruntime refuses a request's tensors
 * (a shape or type the tail cannot take, which a server without input shapes leaves it to find)
 * that request gets CARBONCP_BAD_TENSOR; any other failure (session build, onnxruntime, a worker
 * that died) is CARBONCP_INTERNAL. Nothing escapes to the process.
 */
import { extractPlan } from '@carboncp/core';
import type { ExecutionProvider } from '@carboncp/core/node';
import { CarboncpError, ErrorCode, isCarboncpError, type WireTensor } from '@carboncp/protocol';
import type { InferJob } from './infer-job.js';
import type { LatencyWindow } from './latency-window.js';
import type { ServerMetrics } from './metrics.js';
import type { ServerCarbon } from './server-carbon.js';
import { isInputRejection } from './onnxruntime-errors.js';
import { fromRunError, type TailRunResult, type TailRunSpec } from './tail-run.js';
import { concatBatch } from './tail-tensors.js';
import { tailModelName } from './kserve/model-names.js';

/** One batch as a backend sees it: which tail, and its feeds concatenated along the batch. */
export interface TailRequest {
  /** `model/plan`: the session key. */
  planKey: string;
  spec: TailRunSpec;
  /** Estimated resident size of the tail session (see tailSizeBytes). */
  sizeBytes: number;
  /** Extracts the tail model (called only when a session has to be built). */
  tailBytes: () => Uint8Array;
  /** One tensor per crossing tensor, every request's rows concatenated. */
  feeds: WireTensor[];
  /** Samples each request contributed, in order. */
  samples: number[];
  /** The plan's tail as a KServe v2 model name (kserve/model-names.ts), for a KServe tail backend. */
  kserveName: string;
}

export interface TailBackend {
  /**
   * Runs the batch; throws a TailStageError (or anything else, read as an onnxruntime failure).
   * Settles within the backend's bound (tail-timeout-ms), whatever happens to the run. `provider`
   * is what responses report as execution_provider.
   */
  run(request: TailRequest): Promise<{ result: TailRunResult; provider: ExecutionProvider | string }>;
  /** Whether a batch could run now (what /v2/health/ready reports). */
  canRun(): boolean;
  /** Waits for nothing: call after the queue drained. Releases every session (and worker). */
  close(): Promise<void>;
}

/**
 * A failure of the whole batch, with what was being done when it happened and the code its
 * requests get (CARBONCP_INTERNAL unless said otherwise: the request itself was valid).
 */
export class TailStageError extends Error {
  constructor(
    readonly context: string,
    readonly error: unknown,
    readonly code: string = ErrorCode.INTERNAL,
  ) {
    super(`${context}: ${(error as Error)?.message ?? String(error)}`);
  }
}

export interface TailExecutorContext {
  backend: TailBackend;
  metrics: ServerMetrics;
  latency: LatencyWindow;
  log: (line: string) => void;
  /** Energy and carbon per response (server-carbon.ts); none: responses carry neither. */
  carbon?: ServerCarbon;
}

/** Estimated resident size of a tail session: its weights, or the whole model when unknown. */
export function tailSizeBytes(job: InferJob): number {
  const weights = job.plan.tailParamBytes;
  return Number.isFinite(weights) && weights > 0 ? weights : job.model.loaded.bytes.byteLength;
}

/** The tail model of a job's plan, extracted from the source model by core. */
export function extractTailBytes(job: InferJob): Uint8Array {
  // Only the tail: building the head too would cost as much again, for nothing.
  const { tail } = extractPlan(job.model.partition, job.plan, ['tail']);
  if (!tail) throw new CarboncpError(ErrorCode.INTERNAL, `plan ${job.plan.id} of model ${job.model.name} has no tail to run`);
  return tail;
}

export function tailRequestOf(jobs: InferJob[]): TailRequest {
  const first = jobs[0];
  const plan = first.plan;
  return {
    planKey: first.planKey,
    spec: { planKey: first.planKey, crossing: plan.crossing.map((c) => c.name), tailOutputs: [...plan.tailOutputs] },
    sizeBytes: tailSizeBytes(first),
    tailBytes: () => extractTailBytes(first),
    feeds: plan.crossing.map((_, i) => concatBatch(jobs.map((job) => job.inputs[i]))),
    samples: jobs.map((job) => job.samples),
    kserveName: tailModelName(first.model.name, plan),
  };
}

export class TailExecutor {
  constructor(private readonly ctx: TailExecutorContext) {}

  /**
   * Runs a batch and answers every job in it exactly once, whatever fails on the way: a job this
   * method leaves unanswered (a bug) still gets CARBONCP_INTERNAL before it returns, so the
   * queue's count of jobs in flight and the client's wait both end. Never rejects.
   */
  async execute(batch: InferJob[]): Promise<void> {
    const answered = new Set<InferJob>();
    const once = (job: InferJob, answer: () => void) => {
      if (answered.has(job)) return;
      answered.add(job);
      try {
        answer();
      } catch (error) {
        this.ctx.log(`error ${ErrorCode.INTERNAL}: answering request ${job.requestId} failed: ${(error as Error)?.message ?? String(error)}`);
      }
    };
    try {
      await this.run(batch, once);
    } catch (error) {
      this.ctx.log(`error ${ErrorCode.INTERNAL}: unexpected failure running the tail: ${(error as Error)?.message ?? String(error)}`);
    }
    for (const job of batch) {
      once(job, () => job.replier.sendError(job.requestId, ErrorCode.INTERNAL, `the tail of ${job.planKey} ended without an answer for this request`));
    }
  }

  private async run(batch: InferJob[], once: (job: InferJob, answer: () => void) => void): Promise<void> {
    const started = performance.now();
    const live: InferJob[] = [];
    for (const job of batch) {
      if (!job.replier.open) once(job, () => undefined);
      else if (!this.timedOut(job, started, once)) live.push(job);
    }
    if (live.length === 0) return;
    const first = live[0];
    const labels = { model: first.model.name, plan: first.plan.id };
    let ran: Awaited<ReturnType<TailBackend['run']>>;
    try {
      ran = await this.ctx.backend.run(tailRequestOf(live));
    } catch (error) {
      if (error instanceof TailStageError) this.fail(live, error.error, error.context, once, error.code);
      else this.fail(live, error, `the tail of ${first.planKey} failed in onnxruntime`, once);
      return;
    }
    const { result, provider } = ran;
    for (const note of result.notes) this.ctx.log(note);
    for (const run of result.runs) {
      this.ctx.metrics.tailDuration.observe(labels, run.ms / 1000);
      this.ctx.metrics.batchSize.observe(labels, run.batchSize);
      this.ctx.latency.record(first.planKey, run.ms);
    }
    const finished = performance.now();
    live.forEach((job, index) => {
      this.ctx.metrics.queueWait.observe(labels, (started - job.receivedAt) / 1000);
      const outcome = result.outcomes[index];
      if (outcome === undefined) return; // answered with CARBONCP_INTERNAL by execute
      if ('error' in outcome) {
        this.failRun(job, fromRunError(outcome.error), once);
        return;
      }
      const footprint = this.ctx.carbon?.account(finished - started, outcome.batchSize) ?? {};
      once(job, () =>
        job.replier.sendResponse(job.requestId, outcome.outputs, job, {
          server_ms: finished - job.receivedAt,
          queue_ms: started - job.receivedAt,
          tail_ms: finished - started,
          batch_size: outcome.batchSize,
          execution_provider: provider,
          ...footprint,
        }),
      );
      if (footprint.energy_j !== undefined) this.ctx.metrics.energyJoules.inc({ side: 'server' }, footprint.energy_j);
      if (footprint.carbon_g !== undefined) this.ctx.metrics.carbonGrams.inc({ side: 'server' }, footprint.carbon_g);
      this.ctx.metrics.requests.inc(labels);
      this.ctx.metrics.requestDuration.observe(labels, (performance.now() - job.receivedAt) / 1000);
    });
  }

  private timedOut(job: InferJob, now: number, once: (job: InferJob, answer: () => void) => void): boolean {
    if (job.timeoutMs === undefined || now - job.receivedAt <= job.timeoutMs) return false;
    const waited = Math.round(now - job.receivedAt);
    once(job, () =>
      job.replier.sendError(job.requestId, ErrorCode.TIMEOUT, `request waited ${waited} ms in the server queue, longer than its timeout_ms ${job.timeoutMs}; it was not run`),
    );
    return true;
  }

  /** Answers a job whose own run failed: CARBONCP_BAD_TENSOR when onnxruntime refused its tensors. */
  private failRun(job: InferJob, error: Error, once: (job: InferJob, answer: () => void) => void): void {
    if (!isInputRejection(error)) {
      this.fail([job], error, `the tail of ${job.planKey} failed in onnxruntime`, once);
      return;
    }
    const shapes = job.inputs.map((t) => `${t.name} ${t.datatype} [${t.shape.join(', ')}]`).join(', ');
    const message = `model '${job.model.name}' plan '${job.plan.id}': onnxruntime rejected the input tensors (${shapes}): ${error.message.trim()}`;
    this.ctx.log(`error ${ErrorCode.BAD_TENSOR}: ${message}`);
    once(job, () => job.replier.sendError(job.requestId, ErrorCode.BAD_TENSOR, message));
  }

  private fail(
    jobs: InferJob[],
    error: unknown,
    context: string,
    once: (job: InferJob, answer: () => void) => void,
    code: string = ErrorCode.INTERNAL,
  ): void {
    // Whatever broke inside (session build, onnxruntime, output conversion, a dead worker), the
    // request itself was valid: the client sees CARBONCP_INTERNAL with the underlying message
    // (CARBONCP_TIMEOUT when the tail did not finish within tail-timeout-ms).
    const detail = isCarboncpError(error) ? `${error.code}: ${error.message}` : ((error as Error)?.message ?? String(error));
    const message = `${context}: ${detail}`;
    this.ctx.log(`error ${code}: ${message}`);
    for (const job of jobs) once(job, () => job.replier.sendError(job.requestId, code, message));
  }
}
