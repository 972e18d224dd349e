import { describe, expect, it } from 'vitest';
import { isCarboncpError } from '@carboncp/protocol';
import { checkModelFamily, modelFamilyFromJson, variantsWithQuality, type ModelFamily } from './model-family.js';

const family: ModelFamily = {
  name: 'toy',
  task: 'toy classification',
  qualityMetric: 'top-1 accuracy, %',
  variants: [
    { name: 'small', model: 'toy-s', quality: { value: 60.3, source: 'Paper 2018, Table 1', kind: 'declared' } },
    { name: 'large', model: 'toy-l', quality: { value: 71.8, source: 'Paper 2018, Table 1', kind: 'declared' } },
  ],
};

function rejects(mutate: (f: Record<string, any>) => void, message: RegExp): void {
  const copy = structuredClone(family) as unknown as Record<string, any>;
  mutate(copy);
  let caught: unknown;
  try {
    modelFamilyFromJson(JSON.stringify(copy));
  } catch (error) {
    caught = error;
  }
  expect(isCarboncpError(caught, 'CARBONCP_BAD_MODEL_FAMILY'), String(caught)).toBe(true);
  expect((caught as Error).message).toMatch(message);
}

describe('model family', () => {
  it('reads a family from JSON text and from an object, returning a copy', () => {
    expect(modelFamilyFromJson(JSON.stringify(family))).toEqual(family);
    const checked = checkModelFamily(family);
    expect(checked).toEqual(family);
    checked.variants[0].quality.value = 1;
    expect(family.variants[0].quality.value).toBe(60.3);
  });

  it('names the bad field of a malformed family', () => {
    rejects((f) => (f.variants = []), /\$\.variants must hold at least one variant/);
    rejects((f) => delete f.task, /\$\.task must be a non-empty string/);
    rejects((f) => (f.variants[1].name = 'small'), /\$\.variants\[1\]\.name 'small' appears twice in family 'toy'/);
    rejects((f) => (f.variants[1].model = 'toy-s'), /\$\.variants\[1\]\.model 'toy-s' appears twice/);
    rejects((f) => (f.variants[0].quality.value = 'high'), /\$\.variants\[0\]\.quality\.value must be a finite number/);
    rejects((f) => (f.variants[0].quality.source = 'trust me'), /\$\.variants\[0\]\.quality\.source must cite/);
    rejects((f) => (f.variants[0].quality.kind = 'measured'), /quality\.kind must be 'declared'.*got "measured"/);
    expect(() => modelFamilyFromJson('{')).toThrow(/model family JSON does not parse/);
  });

  it('filters variants by a quality floor, in the family order', () => {
    expect(variantsWithQuality(family, 0).map((v) => v.name)).toEqual(['small', 'large']);
    expect(variantsWithQuality(family, 60.3).map((v) => v.name)).toEqual(['small', 'large']);
    expect(variantsWithQuality(family, 60.31).map((v) => v.name)).toEqual(['large']);
    expect(variantsWithQuality(family, 80)).toEqual([]);
    expect(() => variantsWithQuality(family, Number.NaN)).toThrow(/minQuality must be a finite number/);
  });
});
