#!/usr/bin/env node
/**
 * What profiling every cut of the generated ResNet-18 costs against the same number of plain
 * full-model runs (goal: at most about 3x), and how well the profile predicts real halves.
 *   plain:   open a session (same options), warmup + N full runs, release.
 *   profile: core's profileModel with checkCuts 0: tagged model encoded, profiling session,
 *            warmup + N profiled runs, the trace read and attributed to every plan.
 * Both include opening the session. Rounds interleave the two in alternating order (the machine
 * is shared); the ratio is the median over rounds of profile / plain in the same round. Then one
 * profile with the segment check (real heads and tails at --check-cuts cuts). Load average is
 * printed before and after. Needs the build: `npm run setup`.
 * Usage: node test/bench/profile.bench.mjs [--rounds 3] [--runs 20] [--warmup 3] [--threads 1] [--check-cuts 7] [--check-runs 10] [--opt-level all]
 */
import { readFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import * as ort from 'onnxruntime-node';
import { loadModel, partition } from '@carboncp/core';
import { profileModel, seededInputs as seeded } from '@carboncp/core/node';
import { ensureModel } from '@carboncp/models';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(`--${name}`);
  return at === -1 ? fallback : args[at + 1];
};
const ROUNDS = Number(option('rounds', 3));
const RUNS = Number(option('runs', 20));
const WARMUP = Number(option('warmup', 3));
const THREADS = Number(option('threads', 1));
const CHECK_CUTS = Number(option('check-cuts', 7));
const CHECK_RUNS = Number(option('check-runs', 10));
const LEVEL = option('opt-level', 'all');

const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
const median = (values) => {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const bytes = new Uint8Array(await readFile(await ensureModel('resnet18')));
const model = await loadModel(bytes, 'resnet18');
const parts = await partition(model);
const feeds = seeded(model, undefined, 42);
console.log(`resnet18: ${parts.plans.length} plans; ${cpus()[0].model}, ${cpus().length} cores; node ${process.version}, onnxruntime-node ${ort.env.versions.node}`);
console.log(`runs ${RUNS}, warmup ${WARMUP}, threads ${THREADS}, optimisation ${LEVEL}; load average before: ${load()}`);

async function plain() {
  const start = performance.now();
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], graphOptimizationLevel: LEVEL, intraOpNumThreads: THREADS, logSeverityLevel: 3 });
  for (let i = 0; i < WARMUP + RUNS; i++) await session.run(feeds);
  await session.release();
  return performance.now() - start;
}
async function profiled() {
  const start = performance.now();
  const profile = await profileModel(parts, { runs: RUNS, warmup: WARMUP, threads: THREADS, graphOptimizationLevel: LEVEL, checkCuts: 0 });
  return { ms: performance.now() - start, profile };
}

const ratios = [];
for (let round = 0; round < ROUNDS; round++) {
  let a;
  let b;
  if (round % 2 === 0) {
    a = await plain();
    b = await profiled();
  } else {
    b = await profiled();
    a = await plain();
  }
  ratios.push(b.ms / a);
  console.log(
    `round ${round + 1}: plain ${(a / 1000).toFixed(2)} s, profile ${(b.ms / 1000).toFixed(2)} s (${b.profile.plans.length} plans), ratio ${(b.ms / a).toFixed(2)}; ` +
      `full model median ${b.profile.method.fullModel.medianMs.toFixed(1)} ms, unattributed ${b.profile.method.unattributedMs.toFixed(2)} ms, overhead ${b.profile.method.overheadMs.toFixed(2)} ms; load ${load()}`,
  );
}
console.log(`median ratio profile / plain over ${ROUNDS} rounds: ${median(ratios).toFixed(2)} (goal <= 3)`);

if (CHECK_CUTS > 0) {
  const start = performance.now();
  const profile = await profileModel(parts, { runs: RUNS, warmup: WARMUP, threads: THREADS, graphOptimizationLevel: LEVEL, checkCuts: CHECK_CUTS, checkRuns: CHECK_RUNS });
  const check = profile.segmentCheck;
  console.log(`\nsegment check (${CHECK_CUTS} cuts, ${CHECK_RUNS} runs per half, ${((performance.now() - start) / 1000).toFixed(1)} s with the profile):`);
  console.log('| plan | half | predicted ms | measured ms | full model then ms | gap | raw gap |');
  console.log('|---|---|---:|---:|---:|---:|---:|');
  for (const g of check.gaps) console.log(`| ${g.planId} | ${g.half} | ${g.predictedMs.toFixed(2)} | ${g.measuredMs.toFixed(2)} | ${g.fullModelMs.toFixed(2)} | ${(g.gap * 100).toFixed(1)}% | ${(g.rawGap * 100).toFixed(1)}% |`);
  console.log(`median |gap| ${(check.medianAbsGap * 100).toFixed(1)}% drift-corrected (${(check.medianAbsRawGap * 100).toFixed(1)}% raw), max ${(check.maxAbsGap * 100).toFixed(1)}% (goal ${check.goal * 100}%: ${check.met ? 'met' : 'not met'})`);
}
console.log(`load average after: ${load()}`);
