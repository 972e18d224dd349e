#!/usr/bin/env node
/**
 * Head latency per cut in headless chromium, on WebGPU (chromium's software adapter, SwiftShader:
 * no GPU here) and on WASM (SIMD, one thread: the page is not cross-origin isolated), beside
 * onnxruntime-node (CPU, one thread) on the same machine and the same head bytes. The heads are
 * the SDK's (core's extractPlan at evenly spread cuts), run by the SDK's runtimes (OrtWebRuntime,
 * OrtRuntime) on a seeded input at the zoo shape; per cut: warm-up runs, then N timed runs
 * (runTimed: the run alone, outputs back on the CPU). Reports median, p10, p90 and the session
 * load time, with the machine and its load average before and after each model (a shared
 * machine: read every number next to its load). Needs dist (`npm run setup`) and a chromium.
 * Usage: node test/bench/browser-head.mjs [--models ppocr-cls,mobilenetv2] [--cuts 4] [--runs 15] [--warmup 3]
 */
import { mkdtemp, rm, writeFile, mkdir, readFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { extractPlan, mulberry32 } from '@carboncp/core';
import { describeHost, partitionWithProbe, readModelFile, spreadCuts } from '@carboncp/core/node';
import { OrtRuntime } from '@carboncp/device/node';
import { ensureModel, getZooModel } from '@carboncp/models';
import * as ort from 'onnxruntime-node';
import { buildPage } from '../browser/support/build-page.mjs';
import { SKIP_LINE, findChromium } from '../browser/support/find-chromium.mjs';
import { serveStatic } from '../browser/support/static-server.mjs';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(`--${name}`);
  return at === -1 ? fallback : args[at + 1];
};
const MODELS = option('models', 'ppocr-cls,mobilenetv2').split(',');
const CUTS = Number(option('cuts', '4'));
const RUNS = Number(option('runs', '15'));
const WARMUP = Number(option('warmup', '3'));
const RESULTS = fileURLToPath(new URL('results/', import.meta.url));

const executable = findChromium();
if (!executable) {
  process.stdout.write(`${SKIP_LINE}\n`);
  process.exit(1);
}
const quantile = (values, q) => {
  const s = [...values].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (pos - lo);
};
const summary = (times) => ({ median: quantile(times, 0.5), p10: quantile(times, 0.1), p90: quantile(times, 0.9) });
const load = () => loadavg().map((v) => Number(v.toFixed(2)));

const dir = await mkdtemp(join(tmpdir(), 'carboncp-bench-browser-'));
await buildPage(fileURLToPath(new URL('browser-head/', import.meta.url)), join(dir, 'page'));
const extra = {};
const jobs = [];
for (const name of MODELS) {
  const zoo = getZooModel(name);
  const model = await readModelFile(await ensureModel(name), name);
  const partition = await partitionWithProbe(model, { inputShapes: zoo.inputShapes });
  const cuts = spreadCuts(partition.plans, CUTS).map((p) => p.id).concat('device');
  const heads = [];
  for (const cut of cuts) {
    const bytes = cut === 'device' ? model.bytes : extractPlan(partition, cut).head;
    const path = `/heads/${name}/${cut}.onnx`;
    await mkdir(join(dir, 'heads', name), { recursive: true });
    await writeFile(join(dir, 'heads', name, `${cut}.onnx`), bytes);
    extra[path] = join(dir, 'heads', name, `${cut}.onnx`);
    heads.push({ cut, url: path, file: extra[path] });
  }
  const next = mulberry32(1);
  const inputs = Object.fromEntries(
    Object.entries(zoo.inputShapes).map(([input, dims]) => [input, { dims, data: Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => next() * 2 - 1) }]),
  );
  jobs.push({ name, heads, inputs, cutCount: partition.plans.length });
}
const site = await serveStatic(join(dir, 'page'), extra);

/** Writes results/browser-head.{md,json} with the models measured so far (a long run that is stopped keeps them). */
async function writeResults() {
  const f = (v) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));
  const lines = [
    '# Head latency in the browser (WebGPU, WASM) beside onnxruntime-node',
    '',
    `Written by \`node test/bench/browser-head.mjs\` on ${result.date}. Machine: ${result.machine.cpu}, ${result.machine.cores} cores, ${result.machine.os}, Node ${result.machine.node}, chromium ${result.machine.chromium} (WebGPU adapter: ${result.machine.webgpuAdapter}, software, no GPU). ${RUNS} timed runs after ${WARMUP} warm-up runs per cut; ms, median (p10-p90); load = session creation. onnxruntime-node and WASM on one thread.`,
    '',
  ];
  for (const row of result.models) {
    lines.push(`## ${row.model}`, '', `Load average before ${row.loadBefore.join(' ')}, after ${row.loadAfter.join(' ')}.`, '', '| cut | node CPU | WASM | WebGPU (SwiftShader) | WASM / node | load node / WASM / WebGPU |', '|---|---:|---:|---:|---:|---:|');
    for (const [cut, m] of Object.entries(row.cuts)) {
      const cell = (x) => (x ? `${f(x.median)} (${f(x.p10)}-${f(x.p90)})` : '-');
      lines.push(`| ${cut} | ${cell(m.node)} | ${cell(m.wasm)} | ${cell(m.webgpu)} | ${m.wasm ? (m.wasm.median / m.node.median).toFixed(2) : '-'} | ${f(m.node.loadMs)} / ${m.wasm ? f(m.wasm.loadMs) : '-'} / ${m.webgpu ? f(m.webgpu.loadMs) : '-'} |`);
    }
    lines.push('');
  }
  await mkdir(RESULTS, { recursive: true });
  await writeFile(join(RESULTS, 'browser-head.json'), `${JSON.stringify(result, null, 2)}\n`);
  await writeFile(join(RESULTS, 'browser-head.md'), `${lines.join('\n')}\n`);
  return lines;
}

const result = { date: new Date().toISOString(), machine: { ...describeHost(), node: process.version }, runs: RUNS, warmup: WARMUP, models: [] };
try {
  for (const job of jobs) {
    const row = { model: job.name, loadBefore: load(), cuts: {} };
    // onnxruntime-node, one thread, the same head bytes and input.
    const runtime = new OrtRuntime({ intraOpNumThreads: 1 });
    const feedsOf = (names) => Object.fromEntries(names.map((n) => [n, new ort.Tensor('float32', Float32Array.from(job.inputs[n].data), job.inputs[n].dims)]));
    for (const head of job.heads) {
      const started = performance.now();
      const session = await runtime.load(new Uint8Array(await readFile(head.file)), head.cut);
      const loadMs = performance.now() - started;
      const feeds = feedsOf(session.inputNames);
      for (let i = 0; i < WARMUP; i++) await session.run(feeds);
      const times = [];
      for (let i = 0; i < RUNS; i++) times.push((await session.runTimed(feeds)).computeMs);
      await session.release();
      row.cuts[head.cut] = { node: { loadMs, ...summary(times) } };
    }
    for (const [provider, webgpu] of [['webgpu', true], ['wasm', false]]) {
      const browser = await chromium.launch({ executablePath: executable, args: ['--no-sandbox', '--headless=new', webgpu ? '--enable-unsafe-webgpu' : '--disable-webgpu'] });
      try {
        result.machine.chromium = browser.version();
        const page = await browser.newPage();
        await page.goto(site.url);
        await page.waitForFunction(() => typeof window.benchHeads === 'function');
        page.setDefaultTimeout(600_000);
        if (webgpu) result.machine.webgpuAdapter = await page.evaluate(async () => { const a = await navigator.gpu?.requestAdapter(); return a ? `${a.info.vendor} ${a.info.architecture}` : 'none'; });
        const config = { heads: job.heads.map(({ cut, url }) => ({ cut, url })), inputs: job.inputs, provider, runs: RUNS, warmup: WARMUP };
        const measured = await page.evaluate((c) => window.benchHeads(c), config);
        for (const m of measured) row.cuts[m.cut][provider] = { provider: m.provider, loadMs: m.loadMs, ...summary(m.timesMs) };
        process.stdout.write(`${job.name}: ${provider} done (load ${load().join(' ')})\n`);
      } finally {
        await browser.close();
      }
    }
    row.loadAfter = load();
    result.models.push(row);
    await writeResults();
    process.stdout.write(`${job.name}: done (load ${row.loadBefore.join(' ')} -> ${row.loadAfter.join(' ')})\n`);
  }
} finally {
  await site.close();
  await rm(dir, { recursive: true, force: true });
}
process.stdout.write(`${(await writeResults()).join('\n')}\n`);
