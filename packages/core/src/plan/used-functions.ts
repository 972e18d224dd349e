import type { FunctionProto, NodeProto } from '../onnx/proto.js';
import { subgraphsOf } from '../graph/subgraph-captures.js';

const key = (domain: string, name: string, overload: string): string => `${domain}\u0000${name}\u0000${overload}`;

/**
 * The model-local functions that `nodes` call, directly, from inside their subgraphs, or through
 * other functions, in the model's order: a half carries only the functions it runs.
 */
export function functionsUsedBy(functions: readonly FunctionProto[], nodes: readonly NodeProto[]): FunctionProto[] {
  if (functions.length === 0) return [];
  const byKey = new Map(functions.map((fn) => [key(fn.domain, fn.name, fn.overload), fn]));
  const used = new Set<FunctionProto>();
  const stack = [...nodes];
  while (stack.length > 0) {
    const node = stack.pop()!;
    for (const graph of subgraphsOf(node)) stack.push(...graph.node);
    const fn = byKey.get(key(node.domain, node.opType, node.overload));
    if (fn && !used.has(fn)) {
      used.add(fn);
      stack.push(...fn.node);
    }
  }
  return functions.filter((fn) => used.has(fn));
}
