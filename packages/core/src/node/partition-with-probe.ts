import type { LoadedModel } from '../model/load-model.js';
import { partition } from '../partition.js';
import { analyseModel } from '../plan/analysis.js';
import type { Partition, PartitionOptions } from '../plan/plan-types.js';
import { validateInputShapes } from '../shapes/input-shapes.js';
import { probeShapes } from './probe.js';

/**
 * True when some value a compute node reads or writes has no fully known per-sample shape or
 * dtype in the model's declarations (and the options give none): cut sizes, FLOPs or the
 * halves' type declarations would then be unknown.
 */
export function needsProbe(model: LoadedModel, options: PartitionOptions = {}): boolean {
  if (options.valueShapes) return false;
  const analysis = analyseModel(model.model, options);
  for (const info of analysis.compute) {
    for (const name of [...info.inputs, ...info.outputs]) {
      const known = analysis.shapes.get(name);
      if (!known || known.dtype === 'UNKNOWN' || !analysis.shapes.perSample(name)) return true;
    }
  }
  return false;
}

/** partition(), with a shape probe first when the model's own shape information is incomplete. */
export async function partitionWithProbe(model: LoadedModel, options: PartitionOptions = {}, seed = 42): Promise<Partition> {
  validateInputShapes(model, options.inputShapes);
  if (!needsProbe(model, options)) return partition(model, options);
  const probe = await probeShapes(model, options.inputShapes, seed);
  return partition(model, { ...options, ...probe });
}
