import { sha256Hex } from '../model/load-model.js';
import type { CrossingTensor } from './plan-types.js';

/**
 * A plan digest binds the halves to the exact source bytes and the exact cut (which tensors
 * cross, with which dtype and shape, and where each output comes from), so a device and a
 * server can prove they hold matching halves without exchanging the models.
 */
export function planDigest(
  modelDigest: string,
  cut: { id: string; crossing: CrossingTensor[]; headOutputs: string[]; tailOutputs: string[] },
): Promise<string> {
  const definition = JSON.stringify({
    id: cut.id,
    crossing: cut.crossing.map((c) => [c.name, c.source, c.dtype, c.shape]),
    headOutputs: cut.headOutputs,
    tailOutputs: cut.tailOutputs,
  });
  return sha256Hex(`carboncp-plan/1\n${modelDigest}\n${definition}`);
}
