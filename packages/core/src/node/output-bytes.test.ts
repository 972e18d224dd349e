import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../model/load-model.js';
import { ocrModelPath } from './ocr-model-path.js';
import { outputBytesPerSample } from './output-bytes.js';

describe('outputBytesPerSample', () => {
  it('measures what a tail sends back, per sample, where the model declares symbolic output dims', async () => {
    const cls = await loadModel(await readFile(ocrModelPath('ch_ppocr_mobile_v2.0_cls_infer.onnx')), 'cls');
    // [N, 2] FP32 probabilities.
    expect(await outputBytesPerSample(cls, { x: [1, 3, 48, 192] })).toBe(2 * 4);
    expect(await outputBytesPerSample(cls, { x: [3, 3, 48, 192] })).toBe(2 * 4);
    const rec = await loadModel(await readFile(ocrModelPath('ch_PP-OCRv4_rec_infer.onnx')), 'rec');
    // [N, width / 8, 6625] FP32: the time steps follow the input's width.
    expect(await outputBytesPerSample(rec, { x: [1, 3, 48, 320] })).toBe(40 * 6625 * 4);
    expect(await outputBytesPerSample(rec, { x: [1, 3, 48, 160] })).toBe(20 * 6625 * 4);
  });
});
