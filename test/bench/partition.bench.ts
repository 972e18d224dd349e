/**
 * Partitioner speed on the generated ResNet-18 (~47 MB): enumerating every cut (goal < 1 s)
 * and extracting one head/tail pair (goal < 0.5 s). Peak memory needs a fresh process:
 * see partition-memory.mjs. Results: test/bench/results/partition.md.
 */
import { readFile } from 'node:fs/promises';
import { bench, describe } from 'vitest';
import { extractPlan, loadModel, partition, type Partition } from '@carboncp/core';
import { ensureModel } from '@carboncp/models';

const bytes = new Uint8Array(await readFile(await ensureModel('resnet18')));
const model = await loadModel(bytes, 'resnet18');
const partitioned: Partition = await partition(model);
const splits = partitioned.plans.filter((p) => p.kind === 'split');
// The middle split: a head and a tail of similar size, both with real weights to copy.
const middle = splits[Math.floor(splits.length / 2)].id;

describe(`resnet18 (${(bytes.byteLength / 1e6).toFixed(1)} MB, ${splits.length} cuts)`, () => {
  bench('loadModel (decode + sha256)', async () => {
    await loadModel(bytes, 'resnet18');
  }, { iterations: 10, warmupIterations: 2 });

  bench('partition: enumerate every cut', async () => {
    await partition(model);
  }, { iterations: 10, warmupIterations: 2 });

  bench(`extractPlan: one head/tail pair (${middle})`, () => {
    extractPlan(partitioned, middle);
  }, { iterations: 10, warmupIterations: 2 });
});
