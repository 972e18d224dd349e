import type { GraphProto, NodeProto, TypeProto } from '../onnx/proto.js';
import { isDefaultDomain } from '../onnx/domains.js';
import type { GraphIndex } from './graph-index.js';

// Default-domain ops whose outputs are sequences or optionals, never tensors.
const NON_TENSOR_OPS = new Set(['SequenceConstruct', 'SequenceEmpty', 'SequenceErase', 'SequenceInsert', 'SequenceMap', 'SplitToSequence', 'Optional']);

const isNonTensor = (type: TypeProto | undefined): boolean => type?.value.case !== undefined && type.value.case !== 'tensorType';

/** Output `output` of a control-flow node, as its subgraph declares it (Loop's body output 0 is its condition). */
function subgraphOutputType(node: NodeProto, output: number): TypeProto | undefined {
  const body = (name: string): GraphProto | undefined => node.attribute.find((a) => a.name === name)?.g;
  if (node.opType === 'If') return body('then_branch')?.output[output]?.type;
  if (node.opType === 'Loop') return body('body')?.output[output + 1]?.type;
  if (node.opType === 'Scan') return body('body')?.output[output]?.type;
  return undefined;
}

/**
 * Values that are not tensors (sequences, maps, optionals), known from the model alone: declared
 * so, made by a sequence op, returned as such by an If/Loop/Scan body, or passed on by Identity.
 * They cannot travel on the wire, so no cut may send one.
 */
export function nonTensorValues(index: GraphIndex): Set<string> {
  const found = new Set<string>();
  for (const [name, info] of index.declared) if (isNonTensor(info.type)) found.add(name);
  for (const { node } of index.nodes) {
    if (!isDefaultDomain(node.domain)) continue;
    node.output.forEach((name, i) => {
      if (name === '') return;
      const passedOn = node.opType === 'Identity' && found.has(node.input[0]);
      if (NON_TENSOR_OPS.has(node.opType) || passedOn || isNonTensor(subgraphOutputType(node, i))) found.add(name);
    });
  }
  return found;
}
