/**
 * KServe v2 inference requests and responses (Open Inference Protocol, HTTP/REST), with Triton's
 * binary tensor data extension:
 *
 *   request  {id?, parameters?: {binary_data_output?}, inputs: [{name, shape, datatype, data | parameters: {binary_data_size}}],
 *             outputs?: [{name, parameters?: {binary_data?}}]}
 *   response {model_name, model_version?, id?, parameters?, outputs: [{name, shape, datatype, data | parameters: {binary_data_size}}]}
 *
 * each followed by its binary tensors, with the JSON's length in Inference-Header-Content-Length.
 */
import { CarboncpError, ErrorCode, type WireTensor } from '@carboncp/protocol';
import { joinBody, splitBody } from './kserve-body.js';
import { decodeTensorEntries, encodeTensorEntry } from './kserve-tensors.js';

export interface RequestedOutput {
  name: string;
  /** parameters.binary_data of the entry; undefined: the request's binary_data_output decides. */
  binary: boolean | undefined;
}

export interface KserveInferRequest {
  id?: string;
  inputs: WireTensor[];
  /** The outputs asked for; undefined: every output of the model. */
  outputs?: RequestedOutput[];
  /** The request's parameters (binary_data_output among them). */
  parameters: Record<string, unknown>;
}

export interface KserveInferResponse {
  model_name: string;
  model_version?: string;
  id?: string;
  outputs: WireTensor[];
  parameters?: Record<string, unknown>;
}

/** An encoded body and the Inference-Header-Content-Length it needs (undefined: all JSON). */
export interface EncodedBody {
  body: Buffer;
  headerLength: number | undefined;
}

function badFrame(message: string): CarboncpError {
  return new CarboncpError(ErrorCode.BAD_FRAME, message);
}

function objectOrEmpty(value: unknown, at: string): Record<string, unknown> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw badFrame(`${at} must be an object`);
  return value as Record<string, unknown>;
}

function optionalId(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw badFrame('id must be a string');
  return value;
}

/** Decodes an inference request body. Throws CARBONCP_BAD_FRAME (structure) or CARBONCP_BAD_TENSOR. */
export function decodeInferRequest(body: Uint8Array, headerLength: string | undefined): KserveInferRequest {
  const { json, binary } = splitBody(body, headerLength);
  const parameters = objectOrEmpty(json.parameters, 'parameters');
  const inputs = decodeTensorEntries(json.inputs, binary, 'inputs');
  let outputs: RequestedOutput[] | undefined;
  if (json.outputs !== undefined) {
    if (!Array.isArray(json.outputs)) throw badFrame('outputs must be an array of {name, parameters?}');
    outputs = json.outputs.map((entry: unknown, i) => {
      const { name, parameters: own } = objectOrEmpty(entry, `outputs[${i}]`);
      if (typeof name !== 'string' || name.length === 0) throw badFrame(`outputs[${i}].name must be a non-empty string`);
      const binaryData = objectOrEmpty(own, `outputs[${i}].parameters`).binary_data;
      if (binaryData !== undefined && typeof binaryData !== 'boolean') throw badFrame(`outputs[${i}].parameters.binary_data must be a boolean`);
      return { name, binary: binaryData };
    });
  }
  const id = optionalId(json.id);
  return { ...(id === undefined ? {} : { id }), inputs, ...(outputs ? { outputs } : {}), parameters };
}

/** Whether a requested output goes back binary: its own binary_data, else the request's binary_data_output. */
export function wantsBinary(request: Pick<KserveInferRequest, 'outputs' | 'parameters'>, name: string): boolean {
  const own = request.outputs?.find((o) => o.name === name)?.binary;
  return own ?? request.parameters.binary_data_output === true;
}

/**
 * Encodes an inference request; `binary` sends the inputs as binary data and asks for binary
 * outputs (the way to carry FP16 and large tensors).
 */
export function encodeInferRequest(request: { id?: string; inputs: readonly WireTensor[]; outputs?: readonly string[]; binary: boolean }): EncodedBody {
  const chunks: Uint8Array[] = [];
  const json = {
    ...(request.id === undefined ? {} : { id: request.id }),
    inputs: request.inputs.map((tensor) => encodeTensorEntry(tensor, request.binary, chunks)),
    ...(request.outputs ? { outputs: request.outputs.map((name) => ({ name, parameters: { binary_data: request.binary } })) } : {}),
    ...(request.binary && !request.outputs ? { parameters: { binary_data_output: true } } : {}),
  };
  return joinBody(json, chunks);
}

/** Encodes an inference response; `binary(name)` says which outputs go as binary data. */
export function encodeInferResponse(response: KserveInferResponse, binary: (name: string) => boolean): EncodedBody {
  const chunks: Uint8Array[] = [];
  const json = {
    model_name: response.model_name,
    ...(response.model_version === undefined ? {} : { model_version: response.model_version }),
    ...(response.id === undefined ? {} : { id: response.id }),
    ...(response.parameters === undefined ? {} : { parameters: response.parameters }),
    outputs: response.outputs.map((tensor) => encodeTensorEntry(tensor, binary(tensor.name), chunks)),
  };
  return joinBody(json, chunks);
}

/** Decodes an inference response body. Throws CARBONCP_BAD_FRAME (structure) or CARBONCP_BAD_TENSOR. */
export function decodeInferResponse(body: Uint8Array, headerLength: string | undefined): KserveInferResponse {
  const { json, binary } = splitBody(body, headerLength);
  if (typeof json.model_name !== 'string') throw badFrame('model_name must be a string');
  if (json.model_version !== undefined && typeof json.model_version !== 'string') throw badFrame('model_version must be a string');
  const parameters = json.parameters === undefined ? undefined : objectOrEmpty(json.parameters, 'parameters');
  const id = optionalId(json.id);
  return {
    model_name: json.model_name,
    ...(json.model_version === undefined ? {} : { model_version: json.model_version as string }),
    ...(id === undefined ? {} : { id }),
    outputs: decodeTensorEntries(json.outputs, binary, 'outputs'),
    ...(parameters ? { parameters } : {}),
  };
}
