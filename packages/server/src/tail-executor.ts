/**
 * Runs batches of infer jobs on their plan's tail session and answers each job. Sessions come
 * from the LRU cache and are built on first use from the plan's tail, extracted from the source
 * model by core. When onnxruntime refuses a request's tensors (a shape or type the tail cannot
 * take, which a server without input shapes leaves it to find) that request gets
 * CARBONCP_BAD_TENSOR; any other failure inside onnxruntime is CARBONCP_INTERNAL. A batched run
 * that fails is retried one request at a time, so each request gets its own answer. Nothing
 * escapes to the process.
 */
import { extractPlan } from '@carboncp/core';
import { createSession, type ExecutionProvider } from '@carboncp/core/node';
import { CarboncpError, ErrorCode, isCarboncpError, type WireTensor } from '@carboncp/protocol';
import type * as ort from 'onnxruntime-node';
import type { InferJob } from './infer-job.js';
import type { LatencyWindow } from './latency-window.js';
import type { ServerMetrics } from './metrics.js';
import type { SessionCache } from './session-cache.js';
import { isInputRejection } from './onnxruntime-errors.js';
import { concatBatch, fromOrtTensor, splitBatch, toOrtTensor } from './tail-tensors.js';

/** The outputs of one job and how many requests shared its run, or why its run failed. */
type JobOutcome = { outputs: WireTensor[]; batchSize: number } | { error: unknown };

export interface TailSession {
  session: ort.InferenceSession;
  provider: ExecutionProvider;
}

export interface TailExecutorContext {
  sessions: SessionCache<TailSession>;
  executionProviders: ExecutionProvider[];
  metrics: ServerMetrics;
  latency: LatencyWindow;
  log: (line: string) => void;
  /** Called with the provider each new session got, so the server reports what really runs. */
  onSessionProvider: (provider: ExecutionProvider) => void;
}

/** Estimated resident size of a tail session: its weights, or the whole model when unknown. */
export function tailSizeBytes(job: InferJob): number {
  const weights = job.plan.tailParamBytes;
  return Number.isFinite(weights) && weights > 0 ? weights : job.model.loaded.bytes.byteLength;
}

export class TailExecutor {
  constructor(private readonly ctx: TailExecutorContext) {}

  async execute(batch: InferJob[]): Promise<void> {
    const started = performance.now();
    const live = batch.filter((job) => job.replier.open && !this.timedOut(job, started));
    if (live.length === 0) return;
    const first = live[0];
    const labels = { model: first.model.name, plan: first.plan.id };
    let lease;
    try {
      lease = await this.ctx.sessions.acquire(first.planKey, tailSizeBytes(first), () => this.buildSession(first));
    } catch (error) {
      this.fail(live, error, `could not open the tail session of ${first.planKey}`);
      return;
    }
    try {
      let outcomes: JobOutcome[];
      try {
        outcomes = await this.runBatch(lease.value.session, live, labels);
      } catch (error) {
        this.fail(live, error, `the tail of ${first.planKey} failed in onnxruntime`);
        return;
      }
      const provider = lease.value.provider;
      const finished = performance.now();
      live.forEach((job, index) => {
        this.ctx.metrics.queueWait.observe(labels, (started - job.receivedAt) / 1000);
        const outcome = outcomes[index];
        if ('error' in outcome) {
          this.failRun(job, outcome.error);
          return;
        }
        job.replier.sendResponse(job.requestId, outcome.outputs, job, {
          server_ms: finished - job.receivedAt,
          queue_ms: started - job.receivedAt,
          tail_ms: finished - started,
          batch_size: outcome.batchSize,
          execution_provider: provider,
        });
        this.ctx.metrics.requests.inc(labels);
        this.ctx.metrics.requestDuration.observe(labels, (performance.now() - job.receivedAt) / 1000);
      });
    } finally {
      lease.release();
    }
  }

  private timedOut(job: InferJob, now: number): boolean {
    if (job.timeoutMs === undefined || now - job.receivedAt <= job.timeoutMs) return false;
    const waited = Math.round(now - job.receivedAt);
    job.replier.sendError(job.requestId, 'CARBONCP_TIMEOUT', `request waited ${waited} ms in the server queue, longer than its timeout_ms ${job.timeoutMs}; it was not run`);
    return true;
  }

  private async buildSession(job: InferJob): Promise<TailSession> {
    const { tail } = extractPlan(job.model.partition, job.plan);
    if (!tail) throw new CarboncpError('CARBONCP_INTERNAL', `plan ${job.plan.id} of model ${job.model.name} has no tail to run`);
    const built = performance.now();
    const opened = await createSession(tail, { executionProviders: this.ctx.executionProviders, log: () => undefined });
    this.ctx.log(
      `tail session ${job.planKey}: ${(tail.byteLength / 1e6).toFixed(2)} MB on ${opened.provider}, opened in ${(performance.now() - built).toFixed(0)} ms`,
    );
    this.ctx.onSessionProvider(opened.provider);
    return opened;
  }

  /**
   * One session run for the whole batch, split back per job; one run per job when splitting
   * fails or the batched run throws (then each job's own run decides whether it was at fault).
   */
  private async runBatch(session: ort.InferenceSession, jobs: InferJob[], labels: { model: string; plan: string }): Promise<JobOutcome[]> {
    const plan = jobs[0].plan;
    if (jobs.length > 1) {
      const feeds: Record<string, ort.Tensor> = {};
      plan.crossing.forEach((c, i) => {
        feeds[c.name] = toOrtTensor(concatBatch(jobs.map((job) => job.inputs[i])));
      });
      let result: ort.InferenceSession.OnnxValueMapType | undefined;
      try {
        result = await this.timedRun(session, feeds, plan.tailOutputs, labels, jobs);
      } catch (error) {
        this.ctx.log(`tail ${jobs[0].planKey}: the batched run failed (${(error as Error)?.message ?? String(error)}); running the batch one request at a time`);
      }
      if (result) {
        const samples = jobs.map((job) => job.samples);
        const perOutput = plan.tailOutputs.map((name) => splitBatch(name, result[name], samples));
        if (perOutput.every((parts) => parts !== null)) {
          this.ctx.metrics.batchSize.observe(labels, jobs.length);
          return jobs.map((_, j) => ({ outputs: perOutput.map((parts) => (parts as WireTensor[])[j]), batchSize: jobs.length }));
        }
        this.ctx.log(`tail ${jobs[0].planKey}: an output is not per-sample; running the batch one request at a time`);
      }
    }
    const outcomes: JobOutcome[] = [];
    for (const job of jobs) {
      try {
        const feeds: Record<string, ort.Tensor> = {};
        plan.crossing.forEach((c, i) => {
          feeds[c.name] = toOrtTensor(job.inputs[i]);
        });
        const result = await this.timedRun(session, feeds, plan.tailOutputs, labels, [job]);
        this.ctx.metrics.batchSize.observe(labels, 1);
        outcomes.push({ outputs: plan.tailOutputs.map((name) => fromOrtTensor(name, result[name])), batchSize: 1 });
      } catch (error) {
        outcomes.push({ error });
      }
    }
    return outcomes;
  }

  /** Answers a job whose own run failed: CARBONCP_BAD_TENSOR when onnxruntime refused its tensors. */
  private failRun(job: InferJob, error: unknown): void {
    if (!isInputRejection(error)) {
      this.fail([job], error, `the tail of ${job.planKey} failed in onnxruntime`);
      return;
    }
    const shapes = job.inputs.map((t) => `${t.name} ${t.datatype} [${t.shape.join(', ')}]`).join(', ');
    const message = `model '${job.model.name}' plan '${job.plan.id}': onnxruntime rejected the input tensors (${shapes}): ${(error as Error).message.trim()}`;
    this.ctx.log(`error ${ErrorCode.BAD_TENSOR}: ${message}`);
    job.replier.sendError(job.requestId, ErrorCode.BAD_TENSOR, message);
  }

  private async timedRun(
    session: ort.InferenceSession,
    feeds: Record<string, ort.Tensor>,
    fetches: string[],
    labels: { model: string; plan: string },
    jobs: InferJob[],
  ): Promise<ort.InferenceSession.OnnxValueMapType> {
    const start = performance.now();
    const result = await session.run(feeds, fetches);
    const ms = performance.now() - start;
    this.ctx.metrics.tailDuration.observe(labels, ms / 1000);
    this.ctx.latency.record(jobs[0].planKey, ms);
    for (const name of fetches) {
      if (!result[name]) throw new CarboncpError('CARBONCP_INTERNAL', `the tail produced no output '${name}'`);
    }
    return result;
  }

  private fail(jobs: InferJob[], error: unknown, context: string): void {
    // Whatever broke inside (session build, onnxruntime, output conversion), the request itself
    // was valid: the client sees CARBONCP_INTERNAL with the underlying message.
    const code = 'CARBONCP_INTERNAL';
    const detail = isCarboncpError(error) ? `${error.code}: ${error.message}` : ((error as Error)?.message ?? String(error));
    const message = `${context}: ${detail}`;
    this.ctx.log(`error ${code}: ${message}`);
    for (const job of jobs) job.replier.sendError(job.requestId, code, message);
  }
}
