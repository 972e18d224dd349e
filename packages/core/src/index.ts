export { CarboncpError, isCarboncpError } from '@carboncp/protocol';
export { decodeModel, encodeModel } from './onnx/proto.js';
export { bytesPerElement, dtypeOfElemType, type DType } from './onnx/dtype.js';
export { loadModel, sha256Hex, type LoadedModel, type TensorInfo } from './model/load-model.js';
