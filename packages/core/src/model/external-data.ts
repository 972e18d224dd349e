import { TensorProto_DataLocation, type GraphProto, type ModelProto, type NodeProto, type TensorProto } from '../onnx/proto.js';

export interface ExternalTensor {
  /** The tensor's name ('' for an unnamed attribute tensor). */
  name: string;
  /** Where it says its data is: the external_data 'location' entry, '' when absent. */
  location: string;
  /** Where the tensor sits in the model, e.g. "initializer 'w'" or "Constant node 'c' inside Loop node 'loop'". */
  where: string;
}

function isExternal(tensor: TensorProto): boolean {
  return tensor.dataLocation === TensorProto_DataLocation.EXTERNAL || tensor.externalData.length > 0;
}

function found(tensor: TensorProto, where: string): ExternalTensor {
  return { name: tensor.name, location: tensor.externalData.find((e) => e.key === 'location')?.value ?? '', where };
}

function inNodes(nodes: readonly NodeProto[], scope: string): ExternalTensor | undefined {
  for (const node of nodes) {
    const label = `${node.opType} node${node.name ? ` '${node.name}'` : ''}${scope}`;
    for (const attr of node.attribute) {
      const tensors = [attr.t, ...attr.tensors, attr.sparseTensor?.values, attr.sparseTensor?.indices];
      for (const sparse of attr.sparseTensors) tensors.push(sparse.values, sparse.indices);
      for (const tensor of tensors) if (tensor && isExternal(tensor)) return found(tensor, `attribute '${attr.name}' of ${label}`);
      for (const graph of [attr.g, ...attr.graphs]) {
        const inner = graph && inGraph(graph, ` inside ${label}`);
        if (inner) return inner;
      }
    }
  }
  return undefined;
}

function inGraph(graph: GraphProto, scope: string): ExternalTensor | undefined {
  for (const tensor of graph.initializer) if (isExternal(tensor)) return found(tensor, `initializer '${tensor.name}'${scope}`);
  for (const sparse of graph.sparseInitializer) {
    for (const tensor of [sparse.values, sparse.indices]) if (tensor && isExternal(tensor)) return found(tensor, `sparse initializer '${tensor.name}'${scope}`);
  }
  return inNodes(graph.node, scope);
}

/**
 * The first tensor whose data lives outside the model bytes (TensorProto.data_location
 * EXTERNAL): in an initializer, a node's tensor attribute (Constant values), a subgraph at any
 * depth or a model-local function. undefined when the model is self-contained.
 */
export function findExternalTensor(model: ModelProto): ExternalTensor | undefined {
  if (model.graph) {
    const inMain = inGraph(model.graph, '');
    if (inMain) return inMain;
  }
  for (const fn of model.functions) {
    const inFunction = inNodes(fn.node, ` in function '${fn.domain}.${fn.name}'`);
    if (inFunction) return inFunction;
  }
  return undefined;
}
