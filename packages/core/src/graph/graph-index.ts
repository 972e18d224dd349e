import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import type { GraphProto, ModelProto, NodeProto, TensorProto, ValueInfoProto } from '../onnx/proto.js';
import { nodeDependencies } from './subgraph-captures.js';
import { topologicalOrder } from './topo-order.js';

export interface NodeInfo {
  /** Position in the file's node list. */
  fileIndex: number;
  /** Position in the topological order used everywhere else. */
  order: number;
  node: NodeProto;
  /** Explicit inputs then captured names, deduplicated, without omitted optional inputs. */
  inputs: string[];
  /** Names read only from inside the node's subgraphs (If/Loop/Scan). */
  implicitInputs: string[];
  outputs: string[];
}

export interface GraphIndex {
  graph: GraphProto;
  /** Every node, in topological order. */
  nodes: NodeInfo[];
  producer: Map<string, NodeInfo>;
  consumers: Map<string, NodeInfo[]>;
  /** Dense and sparse initializers by name (sparse ones keyed by their values tensor name). */
  initializers: Map<string, TensorProto>;
  /** Graph inputs that are real inputs (not initializer defaults), in file order. */
  inputs: string[];
  outputs: string[];
  /** Declared type info: graph inputs, outputs and value_info. */
  declared: Map<string, ValueInfoProto>;
}

function describe(node: NodeProto, index: number): string {
  return `node #${index} (${node.opType}${node.name ? ` '${node.name}'` : ''})`;
}

/**
 * Resolves every name of the main graph to its producer and consumers and fixes a topological
 * order; a model that reads an undefined name, defines one twice, or has a cycle is
 * CARBONCP_BAD_MODEL.
 */
export function buildGraphIndex(model: ModelProto): GraphIndex {
  const graph = model.graph;
  if (!graph) throw new CarboncpError(ErrorCode.BAD_MODEL, 'the model has no graph');

  const initializers = new Map<string, TensorProto>();
  for (const init of graph.initializer) initializers.set(init.name, init);
  for (const sparse of graph.sparseInitializer) if (sparse.values) initializers.set(sparse.values.name, sparse.values);

  const inputs = graph.input.map((v) => v.name).filter((name) => !initializers.has(name));
  const defined = new Set<string>([...initializers.keys(), ...inputs]);

  const producerIndex = new Map<string, number>();
  const deps = graph.node.map((node, i) => {
    for (const output of node.output) {
      if (output === '') continue;
      if (defined.has(output) || producerIndex.has(output)) {
        throw new CarboncpError(ErrorCode.BAD_MODEL, `${describe(node, i)} writes '${output}', which is already defined`);
      }
      producerIndex.set(output, i);
    }
    return nodeDependencies(node);
  });
  deps.forEach(({ explicit, implicit }, i) => {
    for (const name of [...explicit, ...implicit]) {
      if (!defined.has(name) && !producerIndex.has(name)) {
        const how = implicit.includes(name) ? 'reads (inside a subgraph)' : 'reads';
        throw new CarboncpError(ErrorCode.BAD_MODEL, `${describe(graph.node[i], i)} ${how} '${name}', which no node, graph input or initializer defines`);
      }
    }
  });

  const order = topologicalOrder(
    deps.map((d) => [...d.explicit, ...d.implicit]),
    producerIndex,
    (i) => describe(graph.node[i], i),
  );
  const nodes: NodeInfo[] = order.map((fileIndex, position) => ({
    fileIndex,
    order: position,
    node: graph.node[fileIndex],
    inputs: [...deps[fileIndex].explicit, ...deps[fileIndex].implicit],
    implicitInputs: deps[fileIndex].implicit,
    outputs: graph.node[fileIndex].output.filter((o) => o !== ''),
  }));

  const producer = new Map<string, NodeInfo>();
  const consumers = new Map<string, NodeInfo[]>();
  for (const info of nodes) {
    for (const output of info.outputs) producer.set(output, info);
    for (const input of info.inputs) {
      const list = consumers.get(input);
      if (list) list.push(info);
      else consumers.set(input, [info]);
    }
  }

  const outputs = graph.output.map((v) => v.name);
  for (const name of outputs) {
    if (!producer.has(name) && !defined.has(name)) {
      throw new CarboncpError(ErrorCode.BAD_MODEL, `graph output '${name}' is produced by no node`);
    }
  }

  const declared = new Map<string, ValueInfoProto>();
  for (const v of graph.valueInfo) declared.set(v.name, v);
  for (const v of graph.input) declared.set(v.name, v);
  for (const v of graph.output) declared.set(v.name, v);

  return { graph, nodes, producer, consumers, initializers, inputs, outputs, declared };
}
