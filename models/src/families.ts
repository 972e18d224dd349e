/**
 * The zoo's model families: variants of one task with different cost and declared quality.
 * Qualities are published ImageNet-1k top-1 figures for TRAINED weights of each architecture;
 * the zoo's weights are seeded random numbers, so these numbers are metadata for choosing among
 * variants (a quality floor), never something measured on these models.
 */
import { CarboncpError, ErrorCode, checkModelFamily, type ModelFamily } from '@carboncp/core';

const IMAGENET_TASK = 'ImageNet-1k image classification, 1x3x224x224 FP32 input, 1000 logits';
const TOP1 = 'ImageNet-1k top-1 accuracy (%), single 224x224 crop, as published';

const TF_SLIM_MOBILENETV2 =
  'TF-slim MobileNetV2 checkpoint table, row mobilenet_v2_%_224 (github.com/tensorflow/models research/slim/nets/mobilenet/README.md; the same table in the tf.keras.applications.mobilenet_v2 docs); Sandler et al. 2018';
const TORCHVISION_RESNET = (depth: number) =>
  `torchvision docs, ResNet${depth}_Weights.IMAGENET1K_V1 acc@1 (pytorch.org/vision/stable/models/generated/torchvision.models.resnet${depth})`;

const FAMILIES: readonly ModelFamily[] = [
  {
    name: 'imagenet-mobilenetv2',
    task: IMAGENET_TASK,
    qualityMetric: TOP1,
    variants: (
      [
        ['0.35', 'mobilenetv2-0.35', 60.3],
        ['0.5', 'mobilenetv2-0.5', 65.4],
        ['0.75', 'mobilenetv2-0.75', 69.8],
        ['1.0', 'mobilenetv2', 71.8],
      ] as const
    ).map(([name, model, value]) => ({ name, model, quality: { value, source: TF_SLIM_MOBILENETV2.replace('%', name), kind: 'declared' as const } })),
  },
  {
    name: 'imagenet-resnet',
    task: IMAGENET_TASK,
    qualityMetric: TOP1,
    variants: (
      [
        [18, 69.758],
        [34, 73.314],
        [50, 76.13],
      ] as const
    ).map(([depth, value]) => ({ name: `resnet${depth}`, model: `resnet${depth}`, quality: { value, source: TORCHVISION_RESNET(depth), kind: 'declared' as const } })),
  },
].map(checkModelFamily);

/** Every family of the zoo (copies: callers cannot change the catalogue). */
export function listFamilies(): ModelFamily[] {
  return FAMILIES.map(checkModelFamily);
}

/** One family by name; CARBONCP_UNKNOWN_MODEL names the families there are. */
export function getFamily(name: string): ModelFamily {
  const family = FAMILIES.find((f) => f.name === name);
  if (!family) {
    throw new CarboncpError(ErrorCode.UNKNOWN_MODEL, `unknown model family '${name}'; the zoo has: ${FAMILIES.map((f) => f.name).join(', ')}`);
  }
  return checkModelFamily(family);
}
