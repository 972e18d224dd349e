import { checkAgainstSignature, type SignatureTensor, type SymbolBindings, type TensorFacts } from '@carboncp/core';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import type { ClientTensorInfo, Runtime, RuntimeTensor } from './types.js';

/** A runtime tensor described for core's signature check; a tensor the runtime cannot read is CARBONCP_BAD_TENSOR. */
function factsOf<T extends RuntimeTensor>(runtime: Runtime<T>, name: string, tensor: T, at: string): TensorFacts {
  if (tensor === undefined || tensor === null) throw new CarboncpError(ErrorCode.BAD_TENSOR, `${at}: ${name} is ${String(tensor)}`);
  let described: ReturnType<Runtime<T>['describe']>;
  try {
    described = runtime.describe(tensor);
  } catch (error) {
    throw new CarboncpError(ErrorCode.BAD_TENSOR, `${at}: '${name}' cannot be read: ${(error as Error).message}`, { cause: error });
  }
  return { name, datatype: described.datatype, dims: tensor.dims, elements: described.data.length };
}

/**
 * The caller's inputs against the model signature, before anything runs or is sent (core's
 * checkAgainstSignature: names, datatype, rank, fixed dimensions, one size per symbolic
 * dimension, data length). Returns the sizes the symbolic dimensions took (the batch 'N'), which
 * the server's answer must then match.
 */
export function checkInputs<T extends RuntimeTensor>(
  modelName: string,
  signature: readonly ClientTensorInfo[],
  inputs: Record<string, T>,
  runtime: Runtime<T>,
): SymbolBindings {
  const context = `model '${modelName}'`;
  if (inputs === null || typeof inputs !== 'object') {
    throw new CarboncpError(
      ErrorCode.BAD_TENSOR,
      `${context}: inputs must be an object of tensors by input name, got ${inputs === null ? 'null' : typeof inputs}`,
    );
  }
  const symbols: SymbolBindings = new Map();
  checkAgainstSignature(
    signature,
    Object.entries(inputs).map(([name, tensor]) => factsOf(runtime, name, tensor, `${context}: input`)),
    { noun: 'input', context, declaredBy: 'the model has', symbols },
  );
  return symbols;
}

/**
 * A server's answer before any of it reaches the app: exactly the plan's tail outputs (a missing
 * one, or an extra one that would shadow a head output, is refused), each with the model's
 * declared datatype, rank and fixed dimensions, and symbolic dimensions equal to the sizes the
 * request's inputs gave them (the batch 'N'). A server with a bug, or one running another model
 * under the same digest, then costs a local tail run, never a wrong result.
 */
export function checkServerOutputs<T extends RuntimeTensor>(
  planId: string,
  tailOutputs: readonly string[],
  modelOutputs: readonly ClientTensorInfo[],
  inputSymbols: SymbolBindings,
  outputs: Record<string, T>,
  runtime: Runtime<T>,
): void {
  const context = `the server's answer for plan '${planId}'`;
  // A tail output the model does not declare: only its presence is checked.
  const signature: SignatureTensor[] = tailOutputs.map(
    (name) => modelOutputs.find((info) => info.name === name) ?? { name, dtype: 'UNKNOWN', shape: null },
  );
  checkAgainstSignature(
    signature,
    Object.entries(outputs).map(([name, tensor]) => factsOf(runtime, name, tensor, `${context}: output`)),
    { noun: 'output', context, declaredBy: "the plan's tail has", symbols: new Map(inputSymbols) },
  );
}
