import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import {
  GraphProtoSchema,
  ModelProtoSchema,
  StringStringEntryProtoSchema,
  create,
  encodeModel,
  type NodeProto,
  type ValueInfoProto,
} from '../onnx/proto.js';
import type { NodeInfo } from '../graph/graph-index.js';
import { constantClosure } from '../graph/constant-folding-set.js';
import { makeValueInfoFor } from '../shapes/value-info.js';
import type { ModelAnalysis } from './analysis.js';
import type { Plan } from './plan-types.js';
import { functionsUsedBy } from './used-functions.js';

export interface HalfSpec {
  part: 'head' | 'tail';
  /** Compute nodes of this half. */
  compute: NodeInfo[];
  /** Graph inputs of the half: names of model inputs, or crossing tensors (tail). */
  inputs: string[];
  outputs: string[];
}

/**
 * Builds one half as a standalone model: the compute nodes given, the constant nodes they (or
 * the outputs) need, only the initializers read, inputs and outputs with full type info, and
 * the source model's opsets, IR version, producer and metadata, and the model-local functions
 * its nodes call. Initializer
 * TensorProtos are shared with the source, never copied, so the only copy of the weights is the
 * one encodeModel writes.
 */
export function buildHalf(analysis: ModelAnalysis, plan: Plan, spec: HalfSpec): Uint8Array {
  const { index, constants, shapes, model } = analysis;
  const graph = index.graph;
  const consumed = new Set<string>();
  for (const info of spec.compute) for (const name of info.inputs) consumed.add(name);
  for (const name of spec.outputs) consumed.add(name);
  const constNodes = constantClosure(index, constants, consumed);
  for (const info of constNodes) for (const name of info.inputs) consumed.add(name);

  const nodes: NodeInfo[] = [...constNodes, ...spec.compute].sort((a, b) => a.order - b.order);
  const available = new Set<string>(spec.inputs);
  const initializerNames = new Set<string>();
  for (const name of consumed) if (index.initializers.has(name) && !available.has(name)) initializerNames.add(name);
  for (const name of initializerNames) available.add(name);
  for (const info of nodes) {
    for (const name of info.inputs) {
      if (!available.has(name)) {
        const inside = info.implicitInputs.includes(name) ? ' inside its subgraph' : '';
        throw new CarboncpError(
          ErrorCode.CUT_UNSUPPORTED,
          `cut '${plan.id}' cannot be extracted: in the ${spec.part}, ${info.node.opType} node '${info.node.name}' reads '${name}'${inside}, which the ${spec.part} neither receives nor computes`,
        );
      }
    }
    for (const output of info.outputs) available.add(output);
  }
  for (const name of spec.outputs) {
    if (!available.has(name)) {
      throw new CarboncpError(ErrorCode.CUT_UNSUPPORTED, `cut '${plan.id}' cannot be extracted: the ${spec.part} must output '${name}' but does not compute it`);
    }
  }

  const valueInfoOf = (name: string, declared?: ValueInfoProto): ValueInfoProto => {
    if (declared?.type?.value.case === 'tensorType' && declared.type.value.value.shape) return declared;
    const known = shapes.get(name);
    if (!known || known.dtype.startsWith('UNKNOWN')) {
      throw new CarboncpError(
        ErrorCode.SHAPE_UNKNOWN,
        `cut '${plan.id}': the type of '${name}' is unknown, so the ${spec.part} cannot declare it; partition with a probe run (partitionWithProbe, or the CLI's default)`,
      );
    }
    return makeValueInfoFor(name, known.dtype, known.shape);
  };
  // Symbolic dims become dim_param and an unknown rank no shape at all, so a tail partitioned
  // without a probe accepts the crossing tensors of any input size.
  const crossingInfo = (c: Plan['crossing'][number]): ValueInfoProto => {
    if (c.dtype === 'UNKNOWN') {
      throw new CarboncpError(
        ErrorCode.SHAPE_UNKNOWN,
        `cut '${plan.id}': the type of crossing tensor '${c.name}' is unknown (an op carboncp has no dtype rule for), so the ${spec.part} cannot declare it; partition with a probe run (partitionWithProbe, or the CLI's default)`,
      );
    }
    return makeValueInfoFor(c.name, c.dtype, c.shape ?? undefined);
  };
  const graphInput = new Map(graph.input.map((v) => [v.name, v]));
  const graphOutput = new Map(graph.output.map((v) => [v.name, v]));
  const crossing = new Map(plan.crossing.map((c) => [c.name, c]));
  const inputInfos = spec.inputs.map((name) => {
    const c = crossing.get(name);
    if (spec.part === 'tail' && c && c.source === 'head') return crossingInfo(c);
    return valueInfoOf(name, graphInput.get(name) ?? index.declared.get(name));
  });
  const outputInfos = spec.outputs.map((name) => {
    const c = crossing.get(name);
    if (graphOutput.has(name)) return valueInfoOf(name, graphOutput.get(name));
    if (c) return crossingInfo(c);
    return valueInfoOf(name, index.declared.get(name));
  });
  // IR < 4 models list initializers among the graph inputs (as overridable defaults); keep that.
  const defaultInputs = graph.input.filter((v) => initializerNames.has(v.name));
  const produced = new Set(nodes.flatMap((info) => info.outputs));
  const ioNames = new Set([...spec.inputs, ...spec.outputs]);

  const half = create(GraphProtoSchema, {
    name: `${graph.name || 'graph'}_${spec.part}`,
    docString: graph.docString,
    node: nodes.map((info): NodeProto => info.node),
    initializer: graph.initializer.filter((t) => initializerNames.has(t.name)),
    sparseInitializer: graph.sparseInitializer.filter((t) => t.values && initializerNames.has(t.values.name)),
    input: [...inputInfos, ...defaultInputs],
    output: outputInfos,
    valueInfo: graph.valueInfo.filter((v) => produced.has(v.name) && !ioNames.has(v.name)),
    quantizationAnnotation: graph.quantizationAnnotation.filter((a) => produced.has(a.tensorName) || available.has(a.tensorName)),
    metadataProps: graph.metadataProps,
  });
  const out = create(ModelProtoSchema, {
    irVersion: model.irVersion,
    opsetImport: model.opsetImport,
    producerName: model.producerName,
    producerVersion: model.producerVersion,
    domain: model.domain,
    modelVersion: model.modelVersion,
    docString: model.docString,
    metadataProps: [
      ...model.metadataProps.filter((p) => !p.key.startsWith('carboncp.')),
      create(StringStringEntryProtoSchema, { key: 'carboncp.part', value: spec.part }),
      create(StringStringEntryProtoSchema, { key: 'carboncp.plan_id', value: plan.id }),
      create(StringStringEntryProtoSchema, { key: 'carboncp.plan_digest', value: plan.digest }),
    ],
    functions: functionsUsedBy(model.functions, half.node),
    graph: half,
  });
  return encodeModel(out);
}

export type PlanPart = 'head' | 'tail';

/**
 * The halves of a split plan whose cut is after compute node `k`, only those asked for (a
 * server needs only the tail, a device only the head: building the other half costs as much
 * again). Outputs of the head are its crossing tensors (in plan order) followed by the graph
 * outputs it produces.
 */
export function buildSplitHalves(
  analysis: ModelAnalysis,
  plan: Plan,
  k: number,
  parts: readonly PlanPart[],
): { head: Uint8Array | null; tail: Uint8Array | null } {
  let head: Uint8Array | null = null;
  let tail: Uint8Array | null = null;
  if (parts.includes('head')) {
    const headCompute = analysis.compute.slice(0, k);
    const headSent = plan.crossing.filter((c) => c.source === 'head').map((c) => c.name);
    // A graph input that is also a graph output (passed through) is a head output at every cut,
    // so the head takes it even where none of its nodes reads it.
    const headInputs = analysis.index.inputs.filter(
      (name) => plan.headOutputs.includes(name) || headCompute.some((info) => info.inputs.includes(name)),
    );
    head = buildHalf(analysis, plan, {
      part: 'head',
      compute: headCompute,
      inputs: headInputs,
      outputs: [...new Set([...headSent, ...plan.headOutputs])],
    });
  }
  if (parts.includes('tail')) {
    tail = buildHalf(analysis, plan, {
      part: 'tail',
      compute: analysis.compute.slice(k),
      inputs: plan.crossing.map((c) => c.name),
      outputs: plan.tailOutputs,
    });
  }
  return { head, tail };
}
