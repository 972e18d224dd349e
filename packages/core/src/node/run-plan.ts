import type * as ort from 'onnxruntime-node';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { extractPlan } from '../partition.js';
import type { Partition, Plan } from '../plan/plan-types.js';
import { createSession } from './session.js';

/** Runs one half; the session lives only for this call. */
async function runHalf(bytes: Uint8Array, feeds: Record<string, ort.Tensor>, what: string): Promise<Record<string, ort.Tensor>> {
  const { session } = await createSession(bytes);
  try {
    const wanted: Record<string, ort.Tensor> = {};
    for (const name of session.inputNames) {
      const feed = feeds[name];
      if (!feed) throw new CarboncpError(ErrorCode.MISSING_INPUT, `${what} needs input '${name}', which was not given`);
      wanted[name] = feed;
    }
    return (await session.run(wanted)) as Record<string, ort.Tensor>;
  } finally {
    await session.release();
  }
}

/**
 * Head then tail in this process, as a device and a server would run them: the tail gets the
 * crossing tensors (raw inputs and head outputs); the result merges the head's graph outputs
 * with the tail's, keyed by the model's output names.
 */
export async function runPlanLocally(partition: Partition, plan: Plan, feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>> {
  const { head, tail } = extractPlan(partition, plan);
  const headOut = head ? await runHalf(head, feeds, `the head of plan '${plan.id}'`) : {};
  const result: Record<string, ort.Tensor> = {};
  for (const name of plan.headOutputs) result[name] = headOut[name];
  if (tail) {
    const tailFeeds: Record<string, ort.Tensor> = {};
    for (const c of plan.crossing) tailFeeds[c.name] = c.source === 'input' ? feeds[c.name] : headOut[c.name];
    const tailOut = await runHalf(tail, tailFeeds, `the tail of plan '${plan.id}'`);
    for (const name of plan.tailOutputs) result[name] = tailOut[name];
  }
  return result;
}
