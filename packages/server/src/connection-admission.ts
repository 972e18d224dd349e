/**
 * Admission of one infer request: everything checked before a request is queued (its id, the
 * server's state, the connection's share of the queue, model, plan, digests and crossing
 * tensors). A pure function of the request and what the connection holds: it returns the job to
 * queue, or the error to answer under the request's id (or at connection level).
 */
import type { Plan } from '@carboncp/core';
import { CarboncpError, ErrorCode, isCarboncpError, type InferRequestMessage, type WireTensor } from '@carboncp/protocol';
import type { InferJob, JobReplier } from './infer-job.js';
import type { ServedModel } from './model-registry.js';
import { quoted, quotedList } from './quote.js';
import { batchKeyOf, checkCrossingInputs } from './tail-tensors.js';

export interface AdmissionContext {
  models: ReadonlyMap<string, ServedModel>;
  maxQueuePerConnection: number;
  batching: boolean;
  /** Whether requests for this plan may be batched (see tailIsBatchable). */
  isBatchable: (model: ServedModel, plan: Plan) => boolean;
  shuttingDown: () => boolean;
}

/**
 * Not admitted: `connectionLevel` errors go out under request id 0 (an answer under the
 * request's id would be taken for another request's), the others under the request's id.
 */
export interface Rejection {
  code: string;
  message: string;
  connectionLevel?: boolean;
}

export type Admission = { job: InferJob } | { rejected: Rejection };

function short(digest: string): string {
  return digest.length > 16 ? `${digest.slice(0, 16)}...` : digest;
}

function reject(code: string, message: string, connectionLevel = false): Admission {
  return { rejected: { code, message, ...(connectionLevel ? { connectionLevel } : {}) } };
}

/**
 * @param inFlight the connection's request ids accepted and not answered yet (its share of the
 *   queue, and the ids that may not be reused).
 */
export function admitInfer(
  ctx: AdmissionContext,
  replier: JobReplier,
  requestId: number,
  request: InferRequestMessage,
  inFlight: ReadonlySet<number>,
): Admission {
  if (requestId === 0) {
    return reject(ErrorCode.BAD_FRAME, 'an infer request needs a non-zero request id in the frame header, to match its response', true);
  }
  if (inFlight.has(requestId)) {
    // The first request is still answered once, under its id.
    return reject(
      ErrorCode.BAD_FRAME,
      `request id ${requestId} is already in flight on this connection; this second request was dropped ` +
        '(the first one will still be answered); use a new request id for every request in flight',
      true,
    );
  }
  if (ctx.shuttingDown()) {
    return reject(ErrorCode.SHUTTING_DOWN, 'the server is shutting down and accepts no new requests; reconnect to another server or retry later');
  }
  const share = ctx.maxQueuePerConnection;
  if (inFlight.size >= share) {
    return reject(
      ErrorCode.BUSY,
      `this connection has ${inFlight.size} requests queued or running, its limit (max-queue-per-connection ${share}); ` +
        'wait for answers before sending more, or retry later',
    );
  }
  const model = ctx.models.get(request.model_name);
  if (!model) {
    return reject(ErrorCode.UNKNOWN_MODEL, `unknown model ${quoted(request.model_name)}; this server has ${quotedList([...ctx.models.keys()], 32)}`);
  }
  if (request.model_digest !== model.loaded.digest) {
    return reject(
      ErrorCode.DIGEST_MISMATCH,
      `model '${model.name}': the request's model digest ${short(String(request.model_digest))} differs from the server's ${short(model.loaded.digest)}; both sides must load the same model file`,
    );
  }
  const plan = model.servable.get(request.plan_id);
  if (!plan) {
    const onDevice = model.partition.plans.some((p) => p.id === request.plan_id);
    const ids = [...model.servable.keys()];
    const listed = ids.length > 12 ? `${ids.slice(0, 6).join(', ')}, ..., ${ids.slice(-3).join(', ')}` : ids.join(', ');
    return reject(
      ErrorCode.UNKNOWN_PLAN,
      onDevice
        ? `plan ${quoted(request.plan_id)} of model '${model.name}' runs entirely on the device; there is no tail to serve`
        : `model '${model.name}' has no plan ${quoted(request.plan_id)}; the server runs ${listed}`,
    );
  }
  if (request.plan_digest !== plan.digest) {
    return reject(
      ErrorCode.DIGEST_MISMATCH,
      `plan '${plan.id}' of model '${model.name}': the request's plan digest ${short(String(request.plan_digest))} differs from the server's ${short(plan.digest)}; the two sides cut the model differently`,
    );
  }
  let inputs: WireTensor[];
  try {
    inputs = checkCrossingInputs(plan.crossing, request.inputs);
  } catch (error) {
    const failure = isCarboncpError(error) ? error : new CarboncpError(ErrorCode.BAD_TENSOR, String(error));
    return reject(failure.code, `model '${model.name}' plan '${plan.id}': ${failure.message}`);
  }
  const planKey = `${model.name}/${plan.id}`;
  const batch = ctx.batching && ctx.isBatchable(model, plan) ? batchKeyOf(planKey, inputs) : null;
  const timeout = request.parameters?.timeout_ms;
  const now = performance.now();
  return {
    job: {
      batchKey: batch?.key ?? null,
      samples: batch?.samples ?? 1,
      enqueuedAt: now,
      replier,
      requestId,
      bodyId: typeof request.id === 'string' ? request.id : undefined,
      model,
      plan,
      planKey,
      inputs,
      receivedAt: now,
      timeoutMs: typeof timeout === 'number' && Number.isFinite(timeout) && timeout > 0 ? timeout : undefined,
    },
  };
}
