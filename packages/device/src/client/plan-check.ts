import { CarboncpError, ErrorCode, type HelloAckMessage, type ModelRef } from '@carboncp/protocol';
import type { ClientPlan, SplitModel } from './types.js';

/** What the device offers in its hello: its model digest and the digest of every plan with a remote part. */
export function describeModel(model: SplitModel): ModelRef {
  return {
    name: model.name,
    digest: model.digest,
    plans: model.plans.filter((plan) => plan.kind !== 'device').map((plan) => ({ id: plan.id, digest: plan.digest })),
  };
}

/**
 * Compares the server's hello answer with the device's plans. A plan may run remotely only if the
 * server serves the same model bytes and the same plan digest; otherwise its reason is kept and
 * requests for it run locally with that error in their telemetry.
 */
export function remotePlanStatus(
  model: SplitModel,
  ack: HelloAckMessage,
): Map<string, CarboncpError | null> {
  const status = new Map<string, CarboncpError | null>();
  const served = ack.models.find((ref) => ref.name === model.name);
  for (const plan of model.plans) {
    if (plan.kind === 'device') continue;
    status.set(plan.id, checkPlan(model, plan, served));
  }
  return status;
}

function checkPlan(model: SplitModel, plan: ClientPlan, served: ModelRef | undefined): CarboncpError | null {
  if (!served) {
    return new CarboncpError(ErrorCode.UNKNOWN_MODEL, `the server does not serve model '${model.name}'`);
  }
  if (served.digest !== model.digest) {
    return new CarboncpError(
      ErrorCode.DIGEST_MISMATCH,
      `the server's model '${model.name}' has digest ${served.digest.slice(0, 12)}…, the device's ${model.digest.slice(0, 12)}…: different model bytes`,
    );
  }
  // A server that lists no plans leaves the check to each request (it verifies plan_digest).
  if (!served.plans) return null;
  const remote = served.plans.find((ref) => ref.id === plan.id);
  if (!remote) {
    return new CarboncpError(ErrorCode.UNKNOWN_PLAN, `the server does not serve plan '${plan.id}' of model '${model.name}'`);
  }
  if (remote.digest !== plan.digest) {
    return new CarboncpError(
      ErrorCode.DIGEST_MISMATCH,
      `plan '${plan.id}' of model '${model.name}' has digest ${remote.digest.slice(0, 12)}… on the server, ${plan.digest.slice(0, 12)}… on the device`,
    );
  }
  return null;
}
