import { isDefaultDomain } from '../onnx/domains.js';
import type { GraphIndex, NodeInfo } from './graph-index.js';

// Ops whose output changes from run to run although they read no graph input: copying them
// into both halves would give each half a different value.
const NONDETERMINISTIC = new Set(['RandomNormal', 'RandomUniform', 'RandomNormalLike', 'RandomUniformLike', 'Multinomial', 'Bernoulli', 'Dropout']);

export interface ConstantSet {
  /** Nodes whose outputs depend only on initializers and other constant nodes. */
  nodes: Set<NodeInfo>;
  /** Initializer names plus the outputs of constant nodes. */
  values: Set<string>;
}

/**
 * Constant nodes (Constant, Identity of an initializer, shape arithmetic on initializers...)
 * are not compute nodes: the partitioner copies them into whichever half reads them, which is
 * what keeps a cut alive where a Reshape's target shape is computed in the graph.
 */
export function constantSet(index: GraphIndex): ConstantSet {
  const values = new Set<string>(index.initializers.keys());
  const nodes = new Set<NodeInfo>();
  for (const info of index.nodes) {
    if (NONDETERMINISTIC.has(info.node.opType) && isDefaultDomain(info.node.domain)) continue;
    if (info.inputs.every((name) => values.has(name))) {
      nodes.add(info);
      for (const output of info.outputs) values.add(output);
    }
  }
  return { nodes, values };
}

/**
 * Nodes that contribute to a graph output. Dead nodes are dropped before cutting: they would
 * otherwise make tensors "cross" that nobody needs.
 */
export function liveNodes(index: GraphIndex): Set<NodeInfo> {
  const live = new Set<NodeInfo>();
  const stack: string[] = [...index.outputs];
  const seen = new Set<string>();
  while (stack.length > 0) {
    const name = stack.pop()!;
    if (seen.has(name)) continue;
    seen.add(name);
    const producer = index.producer.get(name);
    if (!producer || live.has(producer)) continue;
    live.add(producer);
    stack.push(...producer.inputs);
  }
  return live;
}

/** Constant nodes needed to compute `names` (transitively), in topological order. */
export function constantClosure(index: GraphIndex, constants: ConstantSet, names: Iterable<string>): NodeInfo[] {
  const needed = new Set<NodeInfo>();
  const stack = [...names];
  while (stack.length > 0) {
    const name = stack.pop()!;
    const producer = index.producer.get(name);
    if (!producer || !constants.nodes.has(producer) || needed.has(producer)) continue;
    needed.add(producer);
    stack.push(...producer.inputs);
  }
  return [...needed].sort((a, b) => a.order - b.order);
}
