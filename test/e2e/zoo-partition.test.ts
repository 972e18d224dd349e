/**
 * Every zoo model, partitioned at its listed input shape: head then tail must compute what the
 * full model computes (max abs difference <= 1e-4) at every cut, or at a seeded sample of cuts
 * where a model has very many; and the manifest's numbers must be what the partitioner finds.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '@carboncp/core';
import { verifyPlans } from '@carboncp/core/node';
import { listModels } from '@carboncp/models';
import { partitionZooModel, type Manifest } from '@carboncp/models/manifest';

const TOLERANCE = 1e-4;
/** ResNet-18 (the CarbonCP paper's model) is checked at every cut; the others at a seeded sample. */
const EVERY_CUT = new Set(['resnet18']);
const SAMPLED_CUTS = 16;
/**
 * A variant (another width or depth of a zoo model, `variantOf`) shares its base model's
 * operators and cut logic, which the base's 16 or all cuts cover; it is checked at its first,
 * last and one seeded cut, its manifest row in full. ResNet-50 (102.5 MB) costs about 6 s so
 * on the 2-core machine, 16 cuts would cost about 20 s.
 */
const VARIANT_CUTS = 3;

const manifest = JSON.parse(readFileSync(fileURLToPath(new URL('../../models/manifest.json', import.meta.url)), 'utf8')) as Manifest;

/** A seeded sample of `count` ids (mulberry32-driven partial Fisher-Yates), in their original order. */
function seededSample(ids: string[], count: number, seed: number): string[] {
  if (ids.length <= count) return ids;
  const next = mulberry32(seed);
  const pool = ids.map((_, i) => i);
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(next() * (pool.length - i));
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  return pool.slice(0, count).sort((a, b) => a - b).map((i) => ids[i]);
}

describe('zoo partition', () => {
  for (const zoo of listModels()) {
    const sampled = zoo.variantOf ? VARIANT_CUTS : SAMPLED_CUTS;
    const which = EVERY_CUT.has(zoo.name) ? 'every cut' : `its first, last and ${sampled - 2} seeded cut${sampled === 3 ? '' : 's'}`;
    it(`${zoo.name}: head then tail equals the full model at ${which}`, async () => {
      const partition = await partitionZooModel(zoo.name);
      const splits = partition.plans.filter((p) => p.kind === 'split').map((p) => p.id);
      expect(splits.length).toBeGreaterThan(0);

      const entry = manifest.models.find((m) => m.name === zoo.name);
      expect(entry, `models/manifest.json lists ${zoo.name}`).toBeDefined();
      expect(splits.length).toBe(entry!.cuts);
      if (zoo.kind === 'generated') expect(partition.model.digest).toBe(entry!.sha256);

      // The first and last cuts are where off-by-one errors live; the rest is a seeded sample.
      const middle = EVERY_CUT.has(zoo.name) ? splits.slice(1, -1) : seededSample(splits.slice(1, -1), sampled - 2, 0x5eed);
      const checked = [...new Set([splits[0], ...middle, splits[splits.length - 1]])];
      if (!EVERY_CUT.has(zoo.name)) expect(checked.length).toBe(Math.min(sampled, splits.length));
      if (EVERY_CUT.has(zoo.name)) expect(checked).toEqual(splits);
      const results = await verifyPlans(partition, { plans: checked, tol: TOLERANCE, seed: 7, inputShapes: zoo.inputShapes });
      expect(results.map((r) => r.planId)).toEqual(checked);
      for (const result of results) {
        expect(result.maxAbsDiff, `${zoo.name} ${result.planId}`).toBeLessThanOrEqual(TOLERANCE);
        expect(result.ok).toBe(true);
      }
    });
  }
});
