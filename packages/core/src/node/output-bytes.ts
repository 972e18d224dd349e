import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import type { LoadedModel } from '../model/load-model.js';
import { bytesPerElement } from '../onnx/dtype.js';
import { probeShapes } from './probe.js';

/**
 * Bytes per sample of a model's outputs: what a remote tail sends back (the download a split
 * request pays). Measured by a shape probe at `inputShapes`, since many models declare only
 * symbolic output dims (PP-OCR's recogniser: [N, T, 6625] with T from the width).
 */
export async function outputBytesPerSample(model: LoadedModel, inputShapes?: Record<string, number[]>): Promise<number> {
  const probe = await probeShapes(model, inputShapes);
  let bytes = 0;
  for (const output of model.outputs) {
    const shape = probe.valueShapes.get(output.name);
    const dtype = probe.valueTypes.get(output.name);
    if (!shape || !dtype || !(bytesPerElement(dtype) > 0)) {
      throw new CarboncpError(ErrorCode.PROBE_FAILED, `the shape probe of '${model.name}' did not give a fixed-size type and a shape for its output '${output.name}'`);
    }
    const elements = shape.reduce((a, b) => a * b, 1);
    const samples = probe.batchValues.has(output.name) && shape[0]! > 0 ? shape[0]! : 1;
    bytes += (elements / samples) * bytesPerElement(dtype);
  }
  return bytes;
}
