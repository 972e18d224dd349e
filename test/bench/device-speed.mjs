#!/usr/bin/env node
/**
 * The development machine's speed on named zoo models with onnxruntime-node (CPU), the number
 * that devices/dev-machine.json's `speed` block cites. Per model and thread count: warm-up runs,
 * then N timed runs of the whole model at its zoo input shape (batch 1, seeded input); reports the
 * median, p10 and p90 in ms, and the load average before and after each model (a shared machine:
 * read every number next to its load). Thread counts are interleaved run by run so that a change
 * in load hits both alike. Needs dist: `npm run setup`.
 * Usage: node test/bench/device-speed.mjs [--models resnet18,ppocr-cls] [--runs 31] [--warmup 5] [--threads 1,2] [--json]
 */
import { loadavg, cpus, release, platform, arch } from 'node:os';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { ensureModel, getZooModel } from '@carboncp/models';
import { OrtRuntime } from '@carboncp/device/node';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(`--${name}`);
  return at === -1 ? fallback : args[at + 1];
};
const MODELS = option('models', 'resnet18,ppocr-cls').split(',');
const RUNS = Number(option('runs', '31'));
const WARMUP = Number(option('warmup', '5'));
const THREADS = option('threads', '1,2').split(',').map(Number);
const JSON_OUT = args.includes('--json');

const quantile = (values, q) => {
  const s = [...values].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (pos - lo);
};
const load = () => loadavg().map((v) => Number(v.toFixed(2)));
const require = createRequire(import.meta.url);
let ortVersion = 'unknown';
try {
  ortVersion = require('onnxruntime-node/package.json').version;
} catch {
  // onnxruntime-node's exports may hide package.json; the version is then reported as unknown.
}

const result = {
  date: new Date().toISOString(),
  machine: { cpu: cpus()[0].model, cores: cpus().length, os: `${platform()} ${release()} ${arch()}`, node: process.version, onnxruntime: ortVersion },
  runs: RUNS,
  warmup: WARMUP,
  models: [],
};
for (const name of MODELS) {
  const zoo = getZooModel(name);
  const bytes = new Uint8Array(await readFile(await ensureModel(name)));
  const runtimes = Object.fromEntries(THREADS.map((t) => [t, new OrtRuntime({ intraOpNumThreads: t })]));
  const sessions = {};
  for (const t of THREADS) sessions[t] = await runtimes[t].load(bytes, name);
  const feeds = {};
  for (const t of THREADS) {
    feeds[t] = {};
    for (const [input, shape] of Object.entries(zoo.inputShapes)) {
      const count = shape.reduce((a, b) => a * b, 1);
      let seed = 7;
      const data = Float32Array.from({ length: count }, () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1);
      feeds[t][input] = runtimes[t].tensor('FP32', data, shape);
    }
  }
  const before = load();
  for (const t of THREADS) for (let i = 0; i < WARMUP; i++) await sessions[t].runTimed(feeds[t]);
  const times = Object.fromEntries(THREADS.map((t) => [t, []]));
  for (let i = 0; i < RUNS; i++) {
    const order = i % 2 === 0 ? THREADS : [...THREADS].reverse();
    for (const t of order) times[t].push((await sessions[t].runTimed(feeds[t])).computeMs);
  }
  const after = load();
  for (const t of THREADS) {
    result.models.push({
      model: name,
      inputShapes: zoo.inputShapes,
      threads: t,
      medianMs: quantile(times[t], 0.5),
      p10Ms: quantile(times[t], 0.1),
      p90Ms: quantile(times[t], 0.9),
      n: times[t].length,
      loadBefore: before,
      loadAfter: after,
    });
    await sessions[t].release();
  }
}
if (JSON_OUT) {
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} else {
  const m = result.machine;
  process.stdout.write(`${result.date}\n${m.cpu}, ${m.cores} vCPUs, ${m.os}, Node ${m.node}, onnxruntime-node ${m.onnxruntime} (CPU)\n`);
  process.stdout.write(`${RUNS} timed runs after ${WARMUP} warm-up runs per model and thread count, interleaved\n\n`);
  process.stdout.write('| model | input | threads | median ms | p10 ms | p90 ms | load before | load after |\n|---|---|---:|---:|---:|---:|---|---|\n');
  for (const r of result.models) {
    const shape = Object.entries(r.inputShapes).map(([k, v]) => `${k} [${v.join(',')}]`).join(' ');
    process.stdout.write(`| ${r.model} | ${shape} | ${r.threads} | ${r.medianMs.toFixed(2)} | ${r.p10Ms.toFixed(2)} | ${r.p90Ms.toFixed(2)} | ${r.loadBefore.join(' ')} | ${r.loadAfter.join(' ')} |\n`);
  }
}
