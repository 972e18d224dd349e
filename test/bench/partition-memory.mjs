#!/usr/bin/env node
/**
 * Peak memory of partitioning the generated ResNet-18 in a fresh process, plus the cut table
 * (activation bytes per sample next to the input's). Runs on the built packages:
 *   node scripts/pnpm.mjs exec tsc -b models && node --expose-gc test/bench/partition-memory.mjs [--json]
 * Memory growth is measured against the process before the model file is read; the file's own
 * bytes count, because a caller has to hold them.
 */
import { readFile } from 'node:fs/promises';
import { extractPlan, loadModel, partition } from '@carboncp/core';
import { ensureModel } from '@carboncp/models';

const path = await ensureModel('resnet18');
globalThis.gc?.();
const base = process.memoryUsage();
const baseMaxRss = process.resourceUsage().maxRSS * 1024;
let peakHeapPlusBuffers = 0;
/** What each step leaves alive (after a full GC when run with --expose-gc), for the breakdown. */
const retained = {};
const sample = (step) => {
  const before = process.memoryUsage();
  peakHeapPlusBuffers = Math.max(peakHeapPlusBuffers, before.heapUsed + before.arrayBuffers - base.heapUsed - base.arrayBuffers);
  globalThis.gc?.();
  const after = process.memoryUsage();
  retained[step] = after.heapUsed + after.arrayBuffers - base.heapUsed - base.arrayBuffers;
};

const t0 = performance.now();
// A view on the Buffer, not a copy: the caller holds the file's bytes exactly once.
const file = await readFile(path);
const bytes = new Uint8Array(file.buffer, file.byteOffset, file.byteLength);
sample('read');
const model = await loadModel(bytes, 'resnet18');
sample('loadModel');
const t1 = performance.now();
const result = await partition(model);
sample('partition');
const t2 = performance.now();
const splits = result.plans.filter((p) => p.kind === 'split');
const middle = splits[Math.floor(splits.length / 2)].id;
const pair = extractPlan(result, middle);
sample('extractPlan');
const t3 = performance.now();

const peakRssGrowth = process.resourceUsage().maxRSS * 1024 - Math.max(baseMaxRss, base.rss);
const report = {
  modelBytes: bytes.byteLength,
  cuts: splits.length,
  loadMs: t1 - t0,
  partitionMs: t2 - t1,
  extractMs: t3 - t2,
  extractedPlan: middle,
  headBytes: pair.head?.byteLength ?? 0,
  tailBytes: pair.tail?.byteLength ?? 0,
  peakRssGrowthBytes: peakRssGrowth,
  peakHeapPlusArrayBuffersGrowthBytes: peakHeapPlusBuffers,
  retainedAfterStepBytes: retained,
  plans: result.plans.map((p) => ({
    id: p.id,
    bytesPerSample: p.bytesPerSample,
    crossing: p.crossing.map((c) => `${c.name} [${c.shape.join(',')}]`),
    headFlops: p.headFlops,
    headParamBytes: p.headParamBytes,
  })),
};
if (process.argv.includes('--json')) {
  process.stdout.write(`${JSON.stringify(report)}\n`);
} else {
  const mb = (n) => (n / 1e6).toFixed(1);
  process.stdout.write(
    `model ${mb(report.modelBytes)} MB, ${report.cuts} cuts; load ${report.loadMs.toFixed(0)} ms, partition ${report.partitionMs.toFixed(0)} ms, ` +
      `extract ${middle} ${report.extractMs.toFixed(0)} ms; peak RSS growth ${mb(peakRssGrowth)} MB ` +
      `(${(peakRssGrowth / report.modelBytes).toFixed(2)}x), heap+arrayBuffers growth ${mb(peakHeapPlusBuffers)} MB; retained after ` +
      `${Object.entries(retained).map(([step, n]) => `${step} ${mb(n)} MB`).join(', ')}\n`,
  );
}
