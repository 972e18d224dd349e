import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import type { ClientTensorInfo, Runtime, RuntimeTensor } from './types.js';

function fail(message: string): never {
  throw new CarboncpError(ErrorCode.BAD_TENSOR, message);
}

function formatShape(shape: readonly (number | string)[]): string {
  return `[${shape.join(', ')}]`;
}

/**
 * Checks the caller's inputs against the model signature before anything runs or is sent:
 * every input present and none unknown, the declared datatype, the declared rank, fixed
 * dimensions equal, a symbolic dimension (e.g. the batch 'N') the same wherever it appears,
 * and a data length that matches the shape.
 */
export function checkInputs<T extends RuntimeTensor>(
  modelName: string,
  signature: readonly ClientTensorInfo[],
  inputs: Record<string, T>,
  runtime: Runtime<T>,
): void {
  if (inputs === null || typeof inputs !== 'object') {
    fail(`inputs of model '${modelName}' must be an object of tensors by input name, got ${inputs === null ? 'null' : typeof inputs}`);
  }
  const expected = new Set(signature.map((info) => info.name));
  for (const name of Object.keys(inputs)) {
    if (!expected.has(name)) {
      fail(`model '${modelName}' has no input '${name}'; its inputs are: ${[...expected].join(', ')}`);
    }
  }
  const symbols = new Map<string, { value: number; input: string }>();
  for (const info of signature) {
    const tensor = inputs[info.name];
    if (tensor === undefined || tensor === null) {
      fail(`missing input '${info.name}' of model '${modelName}' (${info.dtype} ${formatShape(info.shape)})`);
    }
    let described: ReturnType<Runtime<T>['describe']>;
    try {
      described = runtime.describe(tensor);
    } catch (error) {
      throw new CarboncpError(ErrorCode.BAD_TENSOR, `input '${info.name}': ${(error as Error).message}`, { cause: error });
    }
    if (described.datatype !== info.dtype) {
      fail(`input '${info.name}' of model '${modelName}' must be ${info.dtype}, got ${described.datatype} (tensor type '${tensor.type}')`);
    }
    const dims = tensor.dims;
    if (dims.length !== info.shape.length) {
      fail(`input '${info.name}' of model '${modelName}' must have rank ${info.shape.length} ${formatShape(info.shape)}, got ${formatShape(dims)}`);
    }
    let elements = 1;
    dims.forEach((size, axis) => {
      if (!Number.isInteger(size) || size < 0) {
        fail(`input '${info.name}': dimension ${axis} is ${size}, not a non-negative integer`);
      }
      elements *= size;
      const declared = info.shape[axis];
      if (typeof declared === 'number' && declared >= 0) {
        if (declared !== size) {
          fail(`input '${info.name}' of model '${modelName}' must have shape ${formatShape(info.shape)}, got ${formatShape(dims)} (dimension ${axis} is ${size}, expected ${declared})`);
        }
      } else if (typeof declared === 'string' && declared !== '') {
        const bound = symbols.get(declared);
        if (bound && bound.value !== size) {
          fail(`dimension '${declared}' is ${bound.value} in input '${bound.input}' but ${size} in input '${info.name}' of model '${modelName}'`);
        }
        symbols.set(declared, { value: size, input: info.name });
      }
    });
    if (described.data.length !== elements) {
      fail(`input '${info.name}' has shape ${formatShape(dims)} (${elements} elements) but ${described.data.length} data elements`);
    }
  }
}
