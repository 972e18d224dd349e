/**
 * A model family: several variants of one task with different cost and quality (MobileNetV2 at
 * four widths, ResNet-18/34/50), each naming the model that implements it and a DECLARED quality
 * with its source. The quality is what the literature reports for trained weights of that
 * architecture; carboncp never measures it (the zoo's weights are seeded random numbers), so a
 * decision that filters by quality filters by a published figure, and says so.
 *
 * Platform-neutral: a plain data type and its reader (`modelFamilyFromJson` for JSON text or a
 * parsed value, `checkModelFamily` for an object built in code).
 */
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { jsonFields } from '../plan/json-fields.js';

const { bad, object, array, string } = jsonFields(ErrorCode.BAD_MODEL_FAMILY, 'model family');

/** A source must say something checkable (a paper and table, a documentation page): at least this long. */
export const MIN_QUALITY_SOURCE_LENGTH = 10;

/** A quality figure taken from a publication; never measured on carboncp's models. */
export interface DeclaredQuality {
  /** In the family's qualityMetric (e.g. ImageNet-1k top-1, percent). */
  value: number;
  /** Where the number is printed (paper and table, or documentation page and field). */
  source: string;
  /** Always 'declared': metadata from the source, not a measurement. */
  kind: 'declared';
}

export interface ModelVariant {
  /** The variant's label in its family ('0.35', 'resnet34'). */
  name: string;
  /** The model that implements it: a zoo model name, or the served name of a model file. */
  model: string;
  quality: DeclaredQuality;
}

export interface ModelFamily {
  name: string;
  /** What every variant does, in words (e.g. 'ImageNet-1k image classification, 224x224 RGB'). */
  task: string;
  /** What a quality value measures and in which unit (e.g. 'ImageNet-1k top-1 accuracy, %'). */
  qualityMetric: string;
  /** Ordered by the family's author, usually cheapest first. */
  variants: ModelVariant[];
}

function quality(value: unknown, path: string): DeclaredQuality {
  const q = object(value, path);
  if (typeof q.value !== 'number' || !Number.isFinite(q.value)) bad(`${path}.value`, 'must be a finite number');
  const source = string(q.source, `${path}.source`);
  if (source.trim().length < MIN_QUALITY_SOURCE_LENGTH) bad(`${path}.source`, `must cite where the number is printed (at least ${MIN_QUALITY_SOURCE_LENGTH} characters)`);
  if (q.kind !== 'declared') bad(`${path}.kind`, `must be 'declared' (qualities are published figures, never measured here), got ${JSON.stringify(q.kind)}`);
  return { value: q.value as number, source, kind: 'declared' };
}

function read(value: unknown): ModelFamily {
  const root = object(value, '$');
  const name = string(root.name, '$.name');
  const task = string(root.task, '$.task');
  const qualityMetric = string(root.qualityMetric, '$.qualityMetric');
  const list = array(root.variants, '$.variants');
  if (list.length === 0) bad('$.variants', 'must hold at least one variant');
  const variants = list.map((entry, i): ModelVariant => {
    const v = object(entry, `$.variants[${i}]`);
    return { name: string(v.name, `$.variants[${i}].name`), model: string(v.model, `$.variants[${i}].model`), quality: quality(v.quality, `$.variants[${i}].quality`) };
  });
  for (const key of ['name', 'model'] as const) {
    const seen = new Set<string>();
    variants.forEach((v, i) => {
      if (seen.has(v[key])) bad(`$.variants[${i}].${key}`, `'${v[key]}' appears twice in family '${name}'`);
      seen.add(v[key]);
    });
  }
  return { name, task, qualityMetric, variants };
}

/** Checks a family built in code and returns a deep copy of it; CARBONCP_BAD_MODEL_FAMILY names the bad field. */
export function checkModelFamily(family: ModelFamily): ModelFamily {
  return read(family);
}

/** Reads a family from JSON text or a parsed value; CARBONCP_BAD_MODEL_FAMILY names the bad field. */
export function modelFamilyFromJson(json: unknown): ModelFamily {
  let value = json;
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json);
    } catch (cause) {
      throw new CarboncpError(ErrorCode.BAD_MODEL_FAMILY, `model family JSON does not parse: ${(cause as Error).message}`, { cause });
    }
  }
  return read(value);
}

/** The variants whose declared quality is at least `minQuality`, in the family's order. */
export function variantsWithQuality(family: ModelFamily, minQuality: number): ModelVariant[] {
  if (!Number.isFinite(minQuality)) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `minQuality must be a finite number, got ${minQuality}`);
  return family.variants.filter((v) => v.quality.value >= minQuality);
}
