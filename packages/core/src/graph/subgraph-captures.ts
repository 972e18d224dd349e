import type { GraphProto, NodeProto } from '../onnx/proto.js';

/** Graphs held by a node's attributes (If branches, Loop and Scan bodies). */
export function subgraphsOf(node: NodeProto): GraphProto[] {
  const graphs: GraphProto[] = [];
  for (const attr of node.attribute) {
    if (attr.g) graphs.push(attr.g);
    graphs.push(...attr.graphs);
  }
  return graphs;
}

/**
 * Names a subgraph reads from enclosing scopes: used by a node inside (at any depth) but
 * defined neither by the subgraph's inputs, initializers and nodes nor by a scope in between.
 * They are the node's implicit inputs: the cut must treat them like ordinary inputs.
 */
export function capturedNames(graph: GraphProto): Set<string> {
  const defined = new Set<string>();
  for (const input of graph.input) defined.add(input.name);
  for (const init of graph.initializer) defined.add(init.name);
  for (const sparse of graph.sparseInitializer) if (sparse.values) defined.add(sparse.values.name);
  for (const node of graph.node) for (const output of node.output) if (output !== '') defined.add(output);
  const captured = new Set<string>();
  for (const node of graph.node) {
    for (const input of node.input) if (input !== '' && !defined.has(input)) captured.add(input);
    for (const sub of subgraphsOf(node)) {
      for (const name of capturedNames(sub)) if (!defined.has(name)) captured.add(name);
    }
  }
  // The ONNX spec lets a subgraph return an outer value directly (onnxruntime wants an Identity
  // in between, other runtimes do not): that is a read too.
  for (const output of graph.output) if (output.name !== '' && !defined.has(output.name)) captured.add(output.name);
  return captured;
}

/** A node's explicit inputs (without omitted optional ones) and its implicit (captured) inputs, deduplicated. */
export function nodeDependencies(node: NodeProto): { explicit: string[]; implicit: string[] } {
  const explicit = [...new Set(node.input.filter((name) => name !== ''))];
  const seen = new Set(explicit);
  const implicit: string[] = [];
  for (const sub of subgraphsOf(node)) {
    for (const name of capturedNames(sub)) {
      if (!seen.has(name)) {
        seen.add(name);
        implicit.push(name);
      }
    }
  }
  return { explicit, implicit };
}
