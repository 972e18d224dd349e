import { bytesPerElement, dtypeOfElemType } from '../onnx/dtype.js';
import type { ModelProto, TensorProto } from '../onnx/proto.js';
import { buildGraphIndex, type GraphIndex, type NodeInfo } from '../graph/graph-index.js';
import { constantClosure, constantSet, liveNodes, type ConstantSet } from '../graph/constant-folding-set.js';
import { nonTensorValues } from '../graph/non-tensor-values.js';
import type { ComputeOrder } from '../graph/cut-enumeration.js';
import { nodeFlops } from '../flops/op-flops.js';
import { ShapeTable, type ShapeSources } from '../shapes/shape-table.js';

/** Everything the partitioner derives from one model and one set of shape sources. */
export interface ModelAnalysis extends ComputeOrder {
  model: ModelProto;
  index: GraphIndex;
  constants: ConstantSet;
  /** Values that are not tensors (sequences, maps, optionals): no cut sends one. */
  nonTensors: Set<string>;
  shapes: ShapeTable;
  /** FLOPs per sample of each compute node, same order as `compute`. */
  nodeFlops: number[];
  /** flopsBefore[k] = FLOPs of the first k compute nodes. */
  flopsBefore: number[];
  /** Parameter bytes read by the first k / the nodes after the first k compute nodes. */
  headParamBytes: number[];
  tailParamBytes: number[];
  totalParamBytes: number;
}

export function tensorBytes(tensor: TensorProto): number {
  const count = tensor.dims.reduce((p, d) => p * Number(d), 1);
  const size = bytesPerElement(dtypeOfElemType(tensor.dataType));
  return Number.isFinite(size) ? count * size : tensor.rawData.byteLength;
}

export function analyseModel(model: ModelProto, sources: ShapeSources): ModelAnalysis {
  const index = buildGraphIndex(model);
  const constants = constantSet(index);
  const live = liveNodes(index);
  const compute = index.nodes.filter((info) => live.has(info) && !constants.nodes.has(info));
  const position = new Map<NodeInfo, number>(compute.map((info, i) => [info, i + 1]));
  const shapes = new ShapeTable(index, sources);

  const flops = compute.map((info) => {
    const explicit = info.node.input;
    return nodeFlops({
      node: info.node,
      input: (i) => (explicit[i] ? shapes.perSample(explicit[i]) : undefined),
      output: (i) => (info.node.output[i] ? shapes.perSample(info.node.output[i]) : undefined),
    });
  });
  const flopsBefore = [0];
  for (const f of flops) flopsBefore.push(flopsBefore[flopsBefore.length - 1] + f);

  // Parameters a compute node reads, directly or through the constant nodes it needs.
  const paramBytes = new Map<string, number>();
  const firstUse = new Map<string, number>();
  const lastUse = new Map<string, number>();
  const touch = (key: string, bytes: number, at: number): void => {
    paramBytes.set(key, bytes);
    if (!firstUse.has(key)) firstUse.set(key, at);
    lastUse.set(key, at);
  };
  const readConstants = (names: string[], at: number): void => {
    for (const name of names) {
      const init = index.initializers.get(name);
      if (init) touch(`init:${name}`, tensorBytes(init), at);
    }
    for (const constNode of constantClosure(index, constants, names)) {
      for (const name of constNode.inputs) {
        const init = index.initializers.get(name);
        if (init) touch(`init:${name}`, tensorBytes(init), at);
      }
      const value = constNode.node.opType === 'Constant' ? constNode.node.attribute.find((a) => a.name === 'value')?.t : undefined;
      if (value) touch(`const:${constNode.fileIndex}`, tensorBytes(value), at);
    }
  };
  // Graph outputs that are initializers or made by constant nodes are head outputs at every
  // split (position 0), so the head carries what makes them.
  readConstants(index.outputs.filter((name) => constants.values.has(name)), 0);
  compute.forEach((info, i) => readConstants(info.inputs.filter((name) => constants.values.has(name)), i + 1));
  const n = compute.length;
  const headParamBytes = new Array<number>(n + 1).fill(0);
  const tailParamBytes = new Array<number>(n + 1).fill(0);
  const firstCount = new Array<number>(n + 2).fill(0);
  const lastCount = new Array<number>(n + 2).fill(0);
  let totalParamBytes = 0;
  for (const [key, bytes] of paramBytes) {
    firstCount[firstUse.get(key)!] += bytes;
    lastCount[lastUse.get(key)!] += bytes;
    totalParamBytes += bytes;
  }
  let head = 0;
  let endedByK = 0;
  for (let k = 0; k <= n; k++) {
    head += firstCount[k];
    endedByK += lastCount[k];
    headParamBytes[k] = head;
    tailParamBytes[k] = totalParamBytes - endedByK;
  }

  return { model, index, constants, nonTensors: nonTensorValues(index), shapes, compute, position, nodeFlops: flops, flopsBefore, headParamBytes, tailParamBytes, totalParamBytes };
}
