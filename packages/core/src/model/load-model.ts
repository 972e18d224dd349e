import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { decodeModel, type ModelProto } from '../onnx/proto.js';
import { tensorTypeInfo, type DType } from '../onnx/dtype.js';
import { findExternalTensor } from './external-data.js';
import { sha256 } from './sha256.js';

export interface TensorInfo {
  name: string;
  dtype: DType;
  /** Numbers for fixed dims, strings for symbolic ones ('?' where the model names none). */
  shape: (number | string)[];
}

export interface LoadedModel {
  name: string;
  bytes: Uint8Array;
  model: ModelProto;
  /** sha256 hex of `bytes`. */
  digest: string;
  inputs: TensorInfo[];
  outputs: TensorInfo[];
}

/**
 * sha256 hex of bytes or text: WebCrypto where it exists, else (a browser page in an insecure
 * context, e.g. http:// on a LAN address, has no `crypto.subtle`) the plain-JavaScript digest.
 */
export async function sha256Hex(data: Uint8Array | string): Promise<string> {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  const subtle = (globalThis.crypto as Crypto | undefined)?.subtle;
  let hash: Uint8Array;
  if (subtle) {
    // WebCrypto wants an ArrayBuffer-backed view; copying only when the view is a SharedArrayBuffer or offset slice is cheap enough.
    const view = bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes);
    hash = new Uint8Array(await subtle.digest('SHA-256', view));
  } else {
    hash = sha256(bytes);
  }
  return Array.from(hash, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Parses ONNX bytes (CARBONCP_BAD_MODEL when they are not a model) and lists the real inputs:
 * graph inputs that are also initializers (IR < 4 style defaults) are weights, not inputs.
 * A model with weights in external data files is CARBONCP_EXTERNAL_DATA: carboncp hashes,
 * splits, sends and runs the model bytes alone, so halves would point at files nobody has.
 */
export async function loadModel(bytes: Uint8Array, name = 'model'): Promise<LoadedModel> {
  const model = decodeModel(bytes);
  const external = findExternalTensor(model);
  if (external) {
    const file = external.location ? ` ('${external.location}')` : '';
    throw new CarboncpError(
      ErrorCode.EXTERNAL_DATA,
      `model '${name}' keeps the data of ${external.where} in an external file${file} (data_location EXTERNAL); carboncp needs every weight inside the .onnx bytes (it hashes, splits and sends them alone): save the model with its weights inline, e.g. onnx.save_model(onnx.load(path), out_path, save_as_external_data=False) (possible below 2 GB)`,
      { details: { tensor: external.name, location: external.location } },
    );
  }
  const graph = model.graph!;
  const initializerNames = new Set(graph.initializer.map((t) => t.name));
  for (const sparse of graph.sparseInitializer) if (sparse.values) initializerNames.add(sparse.values.name);
  const info = (valueInfo: { name: string; type?: Parameters<typeof tensorTypeInfo>[0] }): TensorInfo => {
    const typed = tensorTypeInfo(valueInfo.type);
    return { name: valueInfo.name, dtype: typed?.dtype ?? 'UNKNOWN', shape: typed?.shape ?? [] };
  };
  return {
    name,
    bytes,
    model,
    digest: await sha256Hex(bytes),
    inputs: graph.input.filter((v) => !initializerNames.has(v.name)).map(info),
    outputs: graph.output.map(info),
  };
}
