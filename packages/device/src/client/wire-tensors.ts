import {
  CarboncpError,
  ErrorCode,
  compressTensor,
  decompressTensor,
  tensorFromArray,
  tensorToArray,
  type Compression,
  type WireTensor,
} from '@carboncp/protocol';
import type { Runtime, RuntimeTensor } from './types.js';

/** Runtime tensor -> wire tensor, compressed when it is FP32 and compression is asked for. */
export function toWire<T extends RuntimeTensor>(
  runtime: Runtime<T>,
  name: string,
  tensor: T,
  compression: Compression,
): WireTensor {
  const { datatype, data } = runtime.describe(tensor);
  const wire = tensorFromArray(name, data, [...tensor.dims], datatype);
  // Only activations in FP32 are worth compressing; integer inputs (token ids) must stay exact.
  return compression !== 'none' && datatype === 'FP32' ? compressTensor(wire, compression) : wire;
}

/** Wire tensor -> runtime tensor; restores FP32 when the sender compressed it. */
export function fromWire<T extends RuntimeTensor>(runtime: Runtime<T>, wire: WireTensor): T {
  try {
    const restored = wire.parameters?.original_datatype ? decompressTensor(wire) : wire;
    return runtime.tensor(restored.datatype, tensorToArray(restored), restored.shape);
  } catch (error) {
    throw new CarboncpError(
      ErrorCode.BAD_TENSOR,
      `cannot read tensor '${wire.name}' (${wire.datatype} [${wire.shape.join(', ')}]) from the server: ${(error as Error).message}`,
      { cause: error },
    );
  }
}
