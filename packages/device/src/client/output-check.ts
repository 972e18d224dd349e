import { CarboncpError, DATATYPES, ErrorCode, type DataType } from '@carboncp/protocol';
import type { ClientTensorInfo, Runtime, RuntimeTensor } from './types.js';

function fail(message: string): never {
  throw new CarboncpError(ErrorCode.BAD_TENSOR, message);
}

function formatShape(shape: readonly (number | string)[]): string {
  return `[${shape.join(', ')}]`;
}

function quoted(name: string): string {
  return name.length <= 64 ? `'${name}'` : `'${name.slice(0, 64)}...'`;
}

/**
 * Checks a server's answer before any of it reaches the app: exactly the plan's tail outputs (a
 * missing one, or an extra one that would shadow a head output, is refused), each with the
 * model's declared datatype, rank and fixed dimensions, and symbolic dimensions equal to the
 * sizes the request's inputs gave them (the batch 'N'). A server with a bug, or one running
 * another model under the same digest, then costs a local tail run, never a wrong result.
 */
export function checkServerOutputs<T extends RuntimeTensor>(
  planId: string,
  expected: readonly string[],
  signature: { inputs: readonly ClientTensorInfo[]; outputs: readonly ClientTensorInfo[] },
  inputs: Record<string, T>,
  outputs: Record<string, T>,
  runtime: Runtime<T>,
): void {
  const at = `the server's answer for plan '${planId}'`;
  const wanted = new Set(expected);
  const extra = Object.keys(outputs).filter((name) => !wanted.has(name));
  if (extra.length > 0) fail(`${at} has output(s) ${extra.slice(0, 8).map(quoted).join(', ')} that the plan's tail does not produce (it produces ${expected.join(', ')})`);
  const missing = expected.filter((name) => !(name in outputs));
  if (missing.length > 0) fail(`${at} lacks output(s) ${missing.join(', ')}`);

  const symbols = new Map<string, number>();
  for (const info of signature.inputs) {
    const dims = inputs[info.name]?.dims;
    if (!dims || dims.length !== info.shape.length) continue;
    info.shape.forEach((dim, axis) => {
      if (typeof dim === 'string' && dim !== '' && dim !== '?') symbols.set(dim, dims[axis]);
    });
  }
  for (const name of expected) {
    const info = signature.outputs.find((candidate) => candidate.name === name);
    // A tail output the model does not declare, or declares without a type: nothing to compare.
    if (!info || !(DATATYPES as readonly string[]).includes(info.dtype)) continue;
    const tensor = outputs[name];
    let datatype: DataType;
    try {
      datatype = runtime.describe(tensor).datatype;
    } catch (error) {
      fail(`${at}: output '${name}' cannot be read: ${(error as Error).message}`);
    }
    if (datatype !== info.dtype) fail(`${at}: output '${name}' is ${datatype}, the model declares ${info.dtype}`);
    const dims = tensor.dims;
    if (dims.length !== info.shape.length) {
      fail(`${at}: output '${name}' has shape ${formatShape(dims)} (rank ${dims.length}), the model declares ${formatShape(info.shape)} (rank ${info.shape.length})`);
    }
    info.shape.forEach((declared, axis) => {
      const size = dims[axis];
      const bound = typeof declared === 'string' ? symbols.get(declared) : undefined;
      const want = typeof declared === 'number' && declared >= 0 ? declared : bound;
      if (want !== undefined && size !== want) {
        const why = typeof declared === 'number' ? `${want}` : `${declared} = ${want}, as in the inputs`;
        fail(`${at}: output '${name}' has shape ${formatShape(dims)}, the model declares ${formatShape(info.shape)} (dimension ${axis} is ${size}, expected ${why})`);
      }
    });
  }
}
