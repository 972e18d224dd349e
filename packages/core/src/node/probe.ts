import * as ort from 'onnxruntime-node';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import type { LoadedModel } from '../model/load-model.js';
import { ModelProtoSchema, GraphProtoSchema, ValueInfoProtoSchema, create, encodeModel } from '../onnx/proto.js';
import { dtypeOfOrtType, type DType } from '../onnx/dtype.js';
import { resolveInputShapes } from '../shapes/input-shapes.js';
import { seededInputs } from './seeded-inputs.js';

export interface ProbeResult {
  valueShapes: Map<string, number[]>;
  valueTypes: Map<string, DType>;
  /** Values whose leading dim followed the batch size between the two probe runs. */
  batchValues: Set<string>;
}

/**
 * A copy of the model whose outputs are every value its nodes produce (sharing the weights),
 * less `leaveOut`: values that are not tensors (sequences, maps, optionals), which
 * onnxruntime-node cannot return.
 */
function probeModelBytes(model: LoadedModel, leaveOut: ReadonlySet<string> = new Set()): Uint8Array {
  const graph = model.model.graph!;
  const outputs = graph.output.filter((o) => !leaveOut.has(o.name));
  const listed = new Set([...graph.output.map((o) => o.name), ...leaveOut]);
  for (const node of graph.node) {
    for (const name of node.output) {
      if (name !== '' && !listed.has(name)) {
        listed.add(name);
        // No type given: onnxruntime infers it, and a wrong guess here would make the session fail.
        outputs.push(create(ValueInfoProtoSchema, { name }));
      }
    }
  }
  return encodeModel(create(ModelProtoSchema, { ...model.model, graph: create(GraphProtoSchema, { ...graph, output: outputs }) }));
}

function batchDoubled(model: LoadedModel, shapes: Record<string, number[]>): Record<string, number[]> | undefined {
  const doubled: Record<string, number[]> = {};
  let any = false;
  for (const input of model.inputs) {
    const dims = [...shapes[input.name]];
    if (typeof input.shape[0] === 'string') {
      dims[0] *= 2;
      any = true;
    }
    doubled[input.name] = dims;
  }
  return any ? doubled : undefined;
}

/**
 * Measures the dtype and shape of every value with one run on seeded inputs; a second run with
 * the batch doubled (where the inputs have a symbolic batch dim) tells which values carry the
 * batch. Runs with graph optimisations off so that every value the file names really exists.
 */
export async function probeShapes(model: LoadedModel, inputShapes?: Record<string, number[]>, seed = 42): Promise<ProbeResult> {
  const shapes = resolveInputShapes(model, inputShapes);
  const open = async (bytes: Uint8Array): Promise<ort.InferenceSession> => {
    try {
      return await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'disabled', logSeverityLevel: 3 });
    } catch (cause) {
      throw new CarboncpError(ErrorCode.PROBE_FAILED, `onnxruntime cannot load '${model.name}' for the shape probe: ${(cause as Error).message}`, { cause });
    }
  };
  let session = await open(probeModelBytes(model));
  // Which values are not tensors is known only once onnxruntime has typed the graph.
  const nonTensors = new Set(session.outputMetadata.filter((m) => !m.isTensor).map((m) => m.name));
  if (nonTensors.size > 0) {
    await session.release();
    session = await open(probeModelBytes(model, nonTensors));
  }
  try {
    const run = async (dims: Record<string, number[]>): Promise<ort.InferenceSession.OnnxValueMapType> => {
      try {
        return await session.run(seededInputs(model, dims, seed));
      } catch (cause) {
        const given = Object.entries(dims).map(([name, d]) => `${name}=${d.join(',')}`).join(' ');
        throw new CarboncpError(ErrorCode.PROBE_FAILED, `the shape probe of '${model.name}' failed with inputs ${given}: ${(cause as Error).message}`, { cause });
      }
    };
    const first = await run(shapes);
    const valueShapes = new Map<string, number[]>();
    const valueTypes = new Map<string, DType>();
    for (const [name, value] of Object.entries(first)) {
      if (!(value instanceof ort.Tensor)) continue;
      valueShapes.set(name, [...value.dims]);
      valueTypes.set(name, dtypeOfOrtType(value.type));
    }
    const batchValues = new Set<string>();
    const doubled = batchDoubled(model, shapes);
    if (doubled) {
      // A model that fixes its batch somewhere inside (e.g. Reshape to [1, -1]) fails here; its
      // values then simply have no symbolic batch dimension.
      const second = await run(doubled).catch(() => undefined);
      for (const [name, value] of Object.entries(second ?? {})) {
        const dims = valueShapes.get(name);
        if (value instanceof ort.Tensor && dims && dims.length > 0 && value.dims.length === dims.length && value.dims[0] === dims[0] * 2) {
          batchValues.add(name);
        }
      }
    }
    return { valueShapes, valueTypes, batchValues };
  } finally {
    await session.release();
  }
}
