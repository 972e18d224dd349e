/**
 * Moving tensors between the wire and onnxruntime for a tail: check the request's tensors
 * against the plan's crossing tensors before anything runs, and concatenate / split along the
 * batch dimension for dynamic batching. The batch dimension is the outermost one, so joining
 * requests is a byte concatenation and splitting is slicing, whatever the dtype.
 */
import { checkAgainstSignature, type CrossingTensor, type TensorInfo } from '@carboncp/core';
import { ortTypeOf, wireTypeOf } from '@carboncp/core/node';
import {
  ErrorCode,
  CarboncpError,
  DATATYPES,
  decompressTensor,
  tensorFromArray,
  tensorToArray,
  type DataType,
  type WireTensor,
} from '@carboncp/protocol';
import * as ort from 'onnxruntime-node';

function badTensor(message: string, details?: Record<string, unknown>): CarboncpError {
  return new CarboncpError(ErrorCode.BAD_TENSOR, message, details ? { details } : {});
}

/**
 * Decompresses the request's tensors and checks them against the plan's crossing tensors with
 * core's checkAgainstSignature (the device's checks use it too): the same names (no missing, no
 * extra, none twice), the same dtype, the same rank (where the partition knows it: null is an
 * unknown rank), equal fixed dims, non-negative integer dims and a byte size that matches the
 * shape. What the partition does not know (a server started without input shapes) is left to
 * onnxruntime. Returns them in crossing order.
 */
export function checkCrossingInputs(crossing: readonly CrossingTensor[], received: readonly WireTensor[]): WireTensor[] {
  const restored = received.map((got) => {
    try {
      return decompressTensor(got);
    } catch (cause) {
      throw new CarboncpError(ErrorCode.BAD_TENSOR, `input '${got.name}' cannot be decompressed: ${(cause as Error).message}`, { cause });
    }
  });
  const facts = restored.map((t) => ({ name: t.name, datatype: t.datatype, dims: t.shape, bytes: t.data.byteLength }));
  checkAgainstSignature(crossing, facts, { noun: 'input', declaredBy: "this plan's tail takes", bindSymbols: false });
  const byName = new Map(restored.map((tensor) => [tensor.name, tensor]));
  return crossing.map((want) => byName.get(want.name) as WireTensor);
}

/**
 * Whether requests for this tail may be batched: every crossing tensor's first dim is the same
 * symbolic dim, and no tail output has a fixed first dim (an output that is not per-sample could
 * not be split back). A crossing tensor of unknown rank (no input shapes given) is not known to
 * carry the batch first, so its tail is never batched.
 */
export function tailIsBatchable(crossing: readonly CrossingTensor[], tailOutputs: readonly TensorInfo[]): boolean {
  if (crossing.length === 0) return false;
  const batchDim = crossing[0].shape?.[0];
  if (typeof batchDim !== 'string') return false;
  if (!crossing.every((c) => c.shape !== null && c.shape.length > 0 && c.shape[0] === batchDim)) return false;
  return tailOutputs.every((o) => o.shape.length === 0 ? false : typeof o.shape[0] === 'string');
}

/**
 * The key under which requests can share a tail run: the plan, and every input's dtype and
 * non-batch dims; null when the inputs disagree on the batch size.
 */
export function batchKeyOf(planKey: string, inputs: readonly WireTensor[]): { key: string; samples: number } | null {
  const samples = inputs[0]?.shape[0];
  if (samples === undefined || samples < 1) return null;
  const parts = [planKey];
  for (const tensor of inputs) {
    if (tensor.shape[0] !== samples) return null;
    parts.push(`${tensor.name}:${tensor.datatype}:${tensor.shape.slice(1).join('x')}`);
  }
  return { key: parts.join('|'), samples };
}

export function toOrtTensor(tensor: WireTensor): ort.Tensor {
  const type = ortTypeOf(tensor.datatype);
  if (!type) throw badTensor(`input '${tensor.name}' has unsupported datatype ${String(tensor.datatype)}`);
  const data = tensorToArray(tensor);
  return new ort.Tensor(type, data as ort.Tensor.DataTypeMap[typeof type], tensor.shape);
}

/** Joins the same input of several requests along the batch dimension. */
export function concatBatch(parts: readonly WireTensor[]): WireTensor {
  if (parts.length === 1) return parts[0];
  const total = parts.reduce((n, t) => n + t.data.byteLength, 0);
  const data = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    data.set(part.data, offset);
    offset += part.data.byteLength;
  }
  const samples = parts.reduce((n, t) => n + t.shape[0], 0);
  const first = parts[0];
  return { name: first.name, datatype: first.datatype, shape: [samples, ...first.shape.slice(1)], data };
}

type OrtData = Float32Array | Uint16Array | Int8Array | Uint8Array | Int32Array | BigInt64Array;

function ortData(name: string, tensor: ort.Tensor): { datatype: DataType; data: OrtData } {
  const datatype = wireTypeOf(tensor.type);
  if (!datatype) {
    throw new CarboncpError(
      ErrorCode.INTERNAL,
      `tail output '${name}' has type ${tensor.type}, which the carboncp wire format does not carry (${DATATYPES.join(', ')})`,
    );
  }
  return { datatype, data: tensor.data as OrtData };
}

export function fromOrtTensor(name: string, tensor: ort.Tensor): WireTensor {
  const { datatype, data } = ortData(name, tensor);
  return tensorFromArray(name, data, [...tensor.dims], datatype);
}

/**
 * Splits a batched output back into one tensor per request (`samples[i]` rows each). Returns
 * null when the output's first dim is not the batch size, i.e. the output is not per-sample.
 */
export function splitBatch(name: string, tensor: ort.Tensor, samples: readonly number[]): WireTensor[] | null {
  const total = samples.reduce((a, b) => a + b, 0);
  if (tensor.dims.length === 0 || tensor.dims[0] !== total) return null;
  const { datatype, data } = ortData(name, tensor);
  const perSample = data.length / total;
  const rest = tensor.dims.slice(1);
  const out: WireTensor[] = [];
  let row = 0;
  for (const count of samples) {
    const slice = data.subarray(row * perSample, (row + count) * perSample) as OrtData;
    out.push(tensorFromArray(name, slice, [count, ...rest], datatype));
    row += count;
  }
  return out;
}
