import { sha256Hex } from '../model/load-model.js';
import type { CrossingTensor } from './plan-types.js';

/**
 * A plan digest binds the halves to the exact source bytes and the exact cut: the plan id, which
 * tensors cross (by name, and whether each is a raw input or a head output) and which graph
 * outputs each side produces. That is all a device and a server must agree on to run matching
 * halves, so they can prove it without exchanging the models.
 *
 * Crossing dtypes and shapes are left out on purpose: a dtype is fixed by the model bytes, and a
 * shape is a property of one request (images of any size cross the same cut), not of the cut.
 * Hashing shapes would make a digest depend on the input shapes each side happened to probe with.
 */
export function planDigest(
  modelDigest: string,
  cut: { id: string; crossing: Pick<CrossingTensor, 'name' | 'source'>[]; headOutputs: string[]; tailOutputs: string[] },
): Promise<string> {
  const definition = JSON.stringify({
    id: cut.id,
    crossing: cut.crossing.map((c) => [c.name, c.source]),
    headOutputs: cut.headOutputs,
    tailOutputs: cut.tailOutputs,
  });
  return sha256Hex(`carboncp-plan/2\n${modelDigest}\n${definition}`);
}
