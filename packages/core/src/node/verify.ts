import type * as ort from 'onnxruntime-node';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { getPlan } from '../partition.js';
import type { Partition } from '../plan/plan-types.js';
import { createSession } from './session.js';
import { runPlanLocally } from './run-plan.js';
import { seededInputs } from './seeded-inputs.js';
import { maxAbsDiffOfOutputs } from './max-abs-diff.js';

export interface VerifyOptions {
  /** Plan ids to check; all plans when absent. */
  plans?: string[];
  /** Largest allowed absolute difference (default 1e-4). */
  tol?: number;
  seed?: number;
  inputShapes?: Record<string, number[]>;
  /** Called after each plan; `result` is that plan's outcome. */
  onProgress?: (done: number, total: number, planId: string, result: VerifyResult) => void;
}

export interface VerifyResult {
  planId: string;
  maxAbsDiff: number;
  ok: boolean;
}

/**
 * Runs the full model once and every chosen plan's head then tail on the same seeded inputs,
 * and reports per plan the largest absolute difference over all model outputs.
 */
export async function verifyPlans(partition: Partition, options: VerifyOptions = {}): Promise<VerifyResult[]> {
  const tol = options.tol ?? 1e-4;
  if (!(tol >= 0)) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `tolerance must be a non-negative number, got ${String(options.tol)}`);
  const plans = (options.plans ?? partition.plans.map((p) => p.id)).map((id) => getPlan(partition, id));
  const feeds = seededInputs(partition.model, options.inputShapes, options.seed ?? 42);
  const { session } = await createSession(partition.model.bytes);
  let reference: Record<string, ort.Tensor>;
  try {
    reference = (await session.run(feeds)) as Record<string, ort.Tensor>;
  } finally {
    await session.release();
  }
  const results: VerifyResult[] = [];
  for (const [i, plan] of plans.entries()) {
    const outputs = await runPlanLocally(partition, plan, feeds);
    const worst = maxAbsDiffOfOutputs(outputs, reference);
    const result = { planId: plan.id, maxAbsDiff: worst, ok: worst <= tol };
    results.push(result);
    options.onProgress?.(i + 1, plans.length, plan.id, result);
  }
  return results;
}
