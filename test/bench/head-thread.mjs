#!/usr/bin/env node
/**
 * What running heads on a worker thread (WorkerRuntime, createClient headThread: 'worker') costs
 * per head against the calling thread (OrtRuntime), for a small and a large tensor. The model is a
 * single Relu, so the run itself is almost free and the difference is the thread hop: the input
 * copied to the thread, the output transferred back, two messages.
 *   small: x FP32 [1,64] (256 bytes in and out)
 *   large: x FP32 [1,3,224,224] (602,112 bytes in and out, a 224x224 image)
 * Variants are interleaved round by round, in alternating order (the machine is shared); the
 * overhead is the median over rounds of (worker - main) per run in that round. Load average is
 * printed before and after. Needs dist: `npm run setup` (or `node scripts/pnpm.mjs run build`).
 * Usage: node test/bench/head-thread.mjs [--rounds 21] [--small-runs 400] [--large-runs 100]
 */
import { loadavg } from 'node:os';
import { ModelBuilder } from '@carboncp/core';
import { OrtRuntime, WorkerRuntime } from '@carboncp/device/node';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(args[at + 1]);
};
const ROUNDS = option('rounds', 21);
const RUNS = { small: option('small-runs', 400), large: option('large-runs', 100) };
const SHAPES = { small: [1, 64], large: [1, 3, 224, 224] };

const relu = (shape) =>
  new ModelBuilder({ name: 'relu' }).input('x', 'FP32', shape).node('Relu', ['x'], ['y']).output('y', 'FP32', shape).toBytes();
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

const load = (label) => `${label} load average ${loadavg().map((v) => v.toFixed(2)).join(' ')}`;
process.stdout.write(`${load('before:')}\n`);

const main = new OrtRuntime({ intraOpNumThreads: 1 });
const worker = new WorkerRuntime({ intraOpNumThreads: 1 });
const rows = [];
for (const size of ['small', 'large']) {
  const shape = SHAPES[size];
  const bytes = relu(shape);
  const count = shape.reduce((a, b) => a * b, 1);
  let seed = 1;
  const data = Float32Array.from({ length: count }, () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1);
  const sessions = { main: await main.load(bytes, 'relu'), worker: await worker.load(bytes, 'relu') };
  const feeds = { x: main.tensor('FP32', data, shape) };
  const timeRuns = async (session, n) => {
    const started = performance.now();
    for (let i = 0; i < n; i++) await session.run(feeds);
    return (performance.now() - started) / n;
  };
  await timeRuns(sessions.main, 50); // warm-up
  await timeRuns(sessions.worker, 50);
  const perRun = { main: [], worker: [], diff: [] };
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? ['main', 'worker'] : ['worker', 'main'];
    const t = {};
    for (const variant of order) t[variant] = await timeRuns(sessions[variant], RUNS[size]);
    perRun.main.push(t.main);
    perRun.worker.push(t.worker);
    perRun.diff.push(t.worker - t.main);
  }
  rows.push({ size, bytes: count * 4, main: median(perRun.main), worker: median(perRun.worker), overhead: median(perRun.diff) });
  await sessions.main.release();
  await sessions.worker.release();
}
process.stdout.write(`${load('after: ')}\n\n`);
process.stdout.write(`${ROUNDS} rounds; runs per round: small ${RUNS.small}, large ${RUNS.large}; medians in ms per head\n\n`);
process.stdout.write('| tensor | bytes in = out | main thread | worker thread | overhead per head (paired) |\n|---|---:|---:|---:|---:|\n');
for (const r of rows) {
  process.stdout.write(`| ${r.size} | ${r.bytes.toLocaleString('en')} | ${r.main.toFixed(3)} | ${r.worker.toFixed(3)} | ${r.overhead.toFixed(3)} |\n`);
}
