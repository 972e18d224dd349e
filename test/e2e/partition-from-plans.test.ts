/**
 * A partition rebuilt from `carboncp partition --json` output, with no probe and no
 * onnxruntime, must give the halves of the probed partition byte for byte: for the zoo's small
 * models at every cut, and for the generated ResNet-18 at its first, last and seeded cuts.
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { extractPlan, loadModel, mulberry32, partitionFromPlanSet, planSetFromJson, planSetOf, type Partition } from '@carboncp/core';
import { ensureModel, getZooModel } from '@carboncp/models';
import { partitionZooModel } from '@carboncp/models/manifest';

/** Every cut of the small models; a seeded sample of ResNet-18's (47 MB: each half is an encode). */
const MODELS: { name: string; sample?: number }[] = [{ name: 'ppocr-cls' }, { name: 'ppocr-det' }, { name: 'resnet18', sample: 6 }];

function seededSample(ids: string[], count: number, seed: number): string[] {
  const next = mulberry32(seed);
  const pool = [...ids];
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(next() * (pool.length - i));
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  return pool.slice(0, count);
}

const same = (a: Uint8Array | null, b: Uint8Array | null): boolean => (a === null ? b === null : b !== null && Buffer.from(a).equals(Buffer.from(b)));

describe('partition from plan JSON (zoo)', () => {
  for (const { name, sample } of MODELS) {
    it(`${name}: halves from the plan JSON equal the probed partition's at ${sample ? `its first, last and ${sample} seeded cuts` : 'every cut'}`, async () => {
      const zoo = getZooModel(name);
      const probed: Partition = await partitionZooModel(name);
      const text = JSON.stringify(planSetOf(probed, zoo.inputShapes));
      // A fresh load of the same file, as a device holding only the model and the JSON would.
      const model = await loadModel(new Uint8Array(await readFile(await ensureModel(name))), name);
      const rebuilt = await partitionFromPlanSet(model, planSetFromJson(text));
      expect(rebuilt.plans).toEqual(probed.plans);

      const splits = probed.plans.filter((plan) => plan.kind === 'split').map((plan) => plan.id);
      const checked = sample ? [...new Set([splits[0], ...seededSample(splits.slice(1, -1), sample, 0x5eed), splits[splits.length - 1]])] : splits;
      expect(checked.length).toBe(sample ? sample + 2 : splits.length);
      for (const id of [...checked, 'server', 'device']) {
        const a = extractPlan(probed, id);
        const b = extractPlan(rebuilt, id);
        expect(same(a.head, b.head), `${name} ${id} head`).toBe(true);
        expect(same(a.tail, b.tail), `${name} ${id} tail`).toBe(true);
      }
    });
  }
});
