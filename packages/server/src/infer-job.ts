import type { Plan } from '@carboncp/core';
import type { WireTensor } from '@carboncp/protocol';
import type { ServedModel } from './model-registry.js';
import type { QueuedJob } from './request-queue.js';

/** Where a job's answer goes: the connection it came from. */
export interface JobReplier {
  /** False once the connection closed; its queued jobs are then skipped. */
  readonly open: boolean;
  sendResponse(requestId: number, outputs: WireTensor[], job: InferJob, parameters: Record<string, unknown>): void;
  sendError(requestId: number, code: string, message: string): void;
}

/** One accepted infer request, checked and waiting for (or in) a tail run. */
export interface InferJob extends QueuedJob {
  replier: JobReplier;
  requestId: number;
  /** The optional string id of the request body, echoed in the response. */
  bodyId: string | undefined;
  model: ServedModel;
  plan: Plan;
  /** `model/plan`, the key of the tail session, the latency window and metric labels. */
  planKey: string;
  /** Decompressed and checked against the plan's crossing tensors, in crossing order. */
  inputs: WireTensor[];
  receivedAt: number;
  /** A job that waited longer than this gets CARBONCP_TIMEOUT instead of running. */
  timeoutMs: number | undefined;
}
