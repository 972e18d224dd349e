/**
 * One tail run for a batch of requests, the part shared by the two executors: the main thread
 * calls it directly, a tail worker calls it on its own thread. It knows nothing of connections or
 * metrics: it takes the batch's feeds (each crossing tensor already concatenated along the batch
 * dimension) and how many samples each request contributed, and returns an outcome per request,
 * how long each session run took and what is worth logging. The feeds and outcomes are plain
 * WireTensors, so they cross a thread boundary as they are.
 */
import { CarboncpError, isCarboncpError, type WireTensor, ErrorCode } from '@carboncp/protocol';
import type * as ort from 'onnxruntime-node';
import { fromOrtTensor, splitBatch, toOrtTensor } from './tail-tensors.js';

/** What a tail run needs to know about its plan. */
export interface TailRunSpec {
  /** `model/plan`, for log lines. */
  planKey: string;
  /** Crossing tensor names, in the order of the feeds. */
  crossing: string[];
  tailOutputs: string[];
}

/** A failure as it can cross a thread: a CarboncpError keeps its code. */
export interface RunError {
  message: string;
  code?: string;
}

/** The outputs of one request and how many requests shared its run, or why its run failed. */
export type JobOutcome = { outputs: WireTensor[]; batchSize: number } | { error: RunError };

export interface TailRunResult {
  outcomes: JobOutcome[];
  /** Every session run that succeeded: its duration and how many requests it ran. */
  runs: { ms: number; batchSize: number }[];
  /** Log lines (a batched run that had to be split). */
  notes: string[];
}

export function toRunError(error: unknown): RunError {
  if (isCarboncpError(error)) return { message: error.message, code: error.code };
  return { message: (error as Error)?.message ?? String(error) };
}

/**
 * Back to an error the executor can classify: an onnxruntime error stays a plain Error (whose
 * message isInputRejection reads), a CarboncpError keeps its code.
 */
export function fromRunError(error: RunError): Error {
  return error.code === undefined ? new Error(error.message) : new CarboncpError(error.code, error.message);
}

/** Request `index`'s rows of a batched feed (the batch dimension is outermost: a byte slice). */
export function rowsOf(tensor: WireTensor, samples: readonly number[], index: number): WireTensor {
  const total = samples.reduce((a, b) => a + b, 0);
  if (samples.length === 1) return tensor;
  const bytesPerSample = tensor.data.byteLength / total;
  const first = samples.slice(0, index).reduce((a, b) => a + b, 0);
  const count = samples[index];
  const data = tensor.data.subarray(first * bytesPerSample, (first + count) * bytesPerSample);
  return { ...tensor, shape: [count, ...tensor.shape.slice(1)], data };
}

async function timedRun(
  session: ort.InferenceSession,
  feeds: Record<string, ort.Tensor>,
  fetches: string[],
  runs: TailRunResult['runs'],
  batchSize: number,
): Promise<ort.InferenceSession.OnnxValueMapType> {
  const start = performance.now();
  const result = await session.run(feeds, fetches);
  const ms = performance.now() - start;
  for (const name of fetches) {
    if (!result[name]) throw new CarboncpError(ErrorCode.INTERNAL, `the tail produced no output '${name}'`);
  }
  runs.push({ ms, batchSize });
  return result;
}

/**
 * One session run for the whole batch, split back per request; one run per request when
 * splitting fails or the batched run throws (then each request's own run decides whether it was
 * at fault). Throws only for a failure that is no request's own (an output the wire cannot
 * carry).
 */
export async function runTail(
  session: ort.InferenceSession,
  spec: TailRunSpec,
  feeds: readonly WireTensor[],
  samples: readonly number[],
): Promise<TailRunResult> {
  const runs: TailRunResult['runs'] = [];
  const notes: string[] = [];
  if (samples.length > 1) {
    const ortFeeds: Record<string, ort.Tensor> = {};
    spec.crossing.forEach((name, i) => {
      ortFeeds[name] = toOrtTensor(feeds[i]);
    });
    let result: ort.InferenceSession.OnnxValueMapType | undefined;
    try {
      result = await timedRun(session, ortFeeds, spec.tailOutputs, runs, samples.length);
    } catch (error) {
      notes.push(`tail ${spec.planKey}: the batched run failed (${(error as Error)?.message ?? String(error)}); running the batch one request at a time`);
    }
    if (result) {
      const perOutput = spec.tailOutputs.map((name) => splitBatch(name, result[name], samples));
      if (perOutput.every((parts) => parts !== null)) {
        const outcomes = samples.map((_, j) => ({ outputs: perOutput.map((parts) => (parts as WireTensor[])[j]), batchSize: samples.length }));
        return { outcomes, runs, notes };
      }
      runs.pop();
      notes.push(`tail ${spec.planKey}: an output is not per-sample; running the batch one request at a time`);
    }
  }
  const outcomes: JobOutcome[] = [];
  for (let j = 0; j < samples.length; j++) {
    try {
      const ortFeeds: Record<string, ort.Tensor> = {};
      spec.crossing.forEach((name, i) => {
        ortFeeds[name] = toOrtTensor(rowsOf(feeds[i], samples, j));
      });
      const result = await timedRun(session, ortFeeds, spec.tailOutputs, runs, 1);
      outcomes.push({ outputs: spec.tailOutputs.map((name) => fromOrtTensor(name, result[name])), batchSize: 1 });
    } catch (error) {
      outcomes.push({ error: toRunError(error) });
    }
  }
  return { outcomes, runs, notes };
}
