import type { GraphIndex, NodeInfo } from './graph-index.js';
import type { ConstantSet } from './constant-folding-set.js';

export interface CutDefinition {
  /** Compute nodes in the head (1 .. n-1). */
  k: number;
  crossing: { name: string; source: 'input' | 'head' }[];
  headOutputs: string[];
  tailOutputs: string[];
}

export interface ComputeOrder {
  /** Live, non-constant nodes in topological order; position = index + 1. */
  compute: NodeInfo[];
  position: Map<NodeInfo, number>;
}

/**
 * Every cut "after the k-th compute node" whose crossing set (values made before or at k and
 * read after k, graph inputs included) has at most `maxWidth` tensors and none of `unsendable`
 * (values that are not tensors). One sweep over the
 * order: a value is live from its producer's position to its last reader's, so each cut is
 * O(width) to record and the whole enumeration O(nodes + edges).
 */
export function enumerateCuts(
  index: GraphIndex,
  constants: ConstantSet,
  order: ComputeOrder,
  maxWidth: number,
  unsendable: ReadonlySet<string> = new Set(),
): CutDefinition[] {
  const { compute, position } = order;
  const n = compute.length;
  const born = new Map<string, number>();
  for (const name of index.inputs) born.set(name, 0);
  for (const info of compute) for (const output of info.outputs) born.set(output, position.get(info)!);

  const lastUse = new Map<string, number>();
  for (const info of compute) {
    const at = position.get(info)!;
    for (const input of info.inputs) {
      if (constants.values.has(input) || !born.has(input)) continue;
      lastUse.set(input, Math.max(lastUse.get(input) ?? 0, at));
    }
  }

  const startsAt: string[][] = Array.from({ length: n + 1 }, () => []);
  const endsAt: string[][] = Array.from({ length: n + 1 }, () => []);
  for (const [name, last] of lastUse) {
    const from = born.get(name)!;
    if (last > from) {
      startsAt[from].push(name);
      endsAt[last].push(name);
    }
  }

  const outputBorn = index.outputs.map((name) => ({ name, at: born.get(name) ?? 0 }));
  const live = new Set<string>();
  let liveUnsendable = 0;
  const cuts: CutDefinition[] = [];
  for (let k = 0; k < n; k++) {
    for (const name of startsAt[k]) {
      live.add(name);
      if (unsendable.has(name)) liveUnsendable++;
    }
    for (const name of endsAt[k]) {
      live.delete(name);
      if (unsendable.has(name)) liveUnsendable--;
    }
    if (k === 0 || live.size > maxWidth || liveUnsendable > 0) continue;
    const crossing = [...live]
      .sort((a, b) => born.get(a)! - born.get(b)! || (a < b ? -1 : a > b ? 1 : 0))
      .map((name) => ({ name, source: (born.get(name) === 0 && index.inputs.includes(name) ? 'input' : 'head') as 'input' | 'head' }));
    cuts.push({
      k,
      crossing,
      headOutputs: outputBorn.filter((o) => o.at <= k).map((o) => o.name),
      tailOutputs: outputBorn.filter((o) => o.at > k).map((o) => o.name),
    });
  }
  return cuts;
}
