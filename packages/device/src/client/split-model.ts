import { extractPlan, type Partition, type Plan } from '@carboncp/core';
import type { SplitModel } from './types.js';

/**
 * A core Partition seen as the client's SplitModel. Halves are extracted on first use and kept:
 * 'device' and 'server' both use the original bytes, so one session serves both.
 *
 * `inputShapes` (the shapes the partition was sized for) narrow the input signature: every
 * dimension but a symbolic leading one (the batch) must then equal the given size.
 */
export function splitModelFromPartition(partition: Partition, inputShapes?: Record<string, number[]>): SplitModel<Plan> {
  const { model } = partition;
  const inputs = model.inputs.map((info) => {
    const given = inputShapes?.[info.name];
    if (!given || given.length !== info.shape.length) return info;
    const shape = given.map((size, axis) => (axis === 0 && typeof info.shape[0] !== 'number' ? info.shape[0] : size));
    return { ...info, shape };
  });
  const cache = new Map<string, { head: Uint8Array | null; tail: Uint8Array | null }>();
  return {
    name: model.name,
    digest: model.digest,
    inputs,
    outputs: model.outputs,
    plans: partition.plans,
    halves(planId) {
      let halves = cache.get(planId);
      if (!halves) {
        const plan = partition.plans.find((candidate) => candidate.id === planId);
        if (plan?.kind === 'device') halves = { head: model.bytes, tail: null };
        else if (plan?.kind === 'server') halves = { head: null, tail: model.bytes };
        else {
          const { head, tail } = extractPlan(partition, planId);
          halves = { head, tail };
        }
        cache.set(planId, halves);
      }
      return halves;
    },
  };
}
