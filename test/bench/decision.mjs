#!/usr/bin/env node
/**
 * What the carbon-aware decision of @carboncp/calibrator costs (issue #8, section 7):
 *   1. decide() over 32 candidates (one plan list x compressions, warm: every candidate's
 *      calibration windows full), per mode, contexts varying per call; the time of single calls,
 *      median and tail. Goal: median under 20 µs.
 *   2. observe() per observation: all six metrics, latency only, and with the decision (which
 *      also calibrates 'set' mode). Goal: under 5 µs.
 *   3. Memory per candidate: heap plus array buffers after building warm deciders of 32 and 128
 *      candidates (the slope, with gc), and the saved state's JSON size.
 * The machine and its load average before and after are recorded; a goal is judged only on a
 * quiet machine (1-minute load <= 0.5, see README). Needs dist: `node scripts/pnpm.mjs run build`.
 * Writes the JSON and a markdown summary next to it (.md).
 * Usage: node --expose-gc test/bench/decision.mjs [--calls 20000] [--observations 20000] [--out test/bench/results/decision.json]
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, platform, release } from 'node:os';
import { parseArgs } from 'node:util';
import { CarbonAwareDecision, candidatesFromProfile } from '../../packages/calibrator/dist/index.js';
import { mulberry32 } from '../../packages/core/dist/index.js';

const { values } = parseArgs({
  options: {
    calls: { type: 'string', default: '20000' },
    observations: { type: 'string', default: '20000' },
    out: { type: 'string', default: new URL('./results/decision.json', import.meta.url).pathname },
  },
});
const CALLS = Number(values.calls);
const OBSERVATIONS = Number(values.observations);
const out = (line) => process.stdout.write(`${line}\n`);
const load = () => loadavg().map((v) => Number(v.toFixed(2)));
const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const summary = (samples) => {
  const sorted = Float64Array.from(samples).sort();
  return { medianUs: quantile(sorted, 0.5), p90Us: quantile(sorted, 0.9), p99Us: quantile(sorted, 0.99), meanUs: samples.reduce((s, v) => s + v, 0) / samples.length, n: samples.length };
};
const round = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === 'number' && !Number.isInteger(v) ? Number(v.toFixed(3)) : v]));

const machine = { cpu: cpus()[0]?.model ?? '?', cores: cpus().length, node: process.version, os: `${platform()} ${release()}`, loadBefore: load() };
out(`machine: ${machine.cpu} x${machine.cores}, Node ${machine.node}, ${machine.os}; load average before: ${machine.loadBefore.join(' ')}`);

// A synthetic profile: the server plan, splits 1..10 (activations shrinking with depth) and the device plan.
const dist = (medianMs) => ({ medianMs, p10Ms: medianMs * 0.9, p90Ms: medianMs * 1.2, meanMs: medianMs, sdMs: medianMs * 0.1, n: 20 });
function profile(planCount) {
  const plans = [{ id: 'server', digest: 'a'.repeat(64), bytesPerSample: 602112, k: 0, head: dist(0), tail: dist(8) }];
  for (let k = 1; k <= planCount; k += 1) {
    plans.push({ id: `split-${k}`, digest: 'a'.repeat(64), bytesPerSample: Math.round(802816 / (1 + k)), k, head: dist(4 * k), tail: dist(8 * (1 - k / (planCount + 1)) + 0.5) });
  }
  plans.push({ id: 'device', digest: 'a'.repeat(64), bytesPerSample: 0, k: planCount + 1, head: dist(4 * (planCount + 1)), tail: dist(0) });
  return {
    schemaVersion: 1,
    modelDigest: 'b'.repeat(64),
    modelName: 'bench',
    measuredAt: '2026-01-01T00:00:00Z',
    device: { cpu: 'bench', cores: 4, os: 'linux', onnxruntime: '1.0', executionProvider: 'cpu', threads: null, graphOptimizationLevel: 'all' },
    inputShapes: { x: [1, 3, 224, 224] },
    method: { kind: 'node-profiling', runs: 20, warmup: 2, fullModel: dist(40), attributedMs: 38, unattributedMs: 1, overheadMs: 1, fixedOverheadMs: 0.5, fusedPositions: 0 },
    plans,
  };
}

/** 32 candidates (server/none, split-1..10 x none/fp16/int8, device/none); or more splits for the memory slope. */
function candidates(splits) {
  const p = profile(splits);
  const server = candidatesFromProfile(p, { planIds: ['server'], outputBytesPerSample: 4000 });
  const rest = candidatesFromProfile(p, {
    planIds: p.plans.filter((plan) => plan.id !== 'server').map((plan) => plan.id),
    compressions: ['none', 'fp16', 'int8'],
    outputBytesPerSample: 4000,
    outputError: (_, c) => (c === 'fp16' ? 1e-3 : 1e-2),
  });
  return [...server, ...rest];
}

function contexts(count, seed) {
  const random = mulberry32(seed);
  return Array.from({ length: count }, () => ({
    time: 1.7e12,
    cpuLoad: random() * 0.6,
    powerSource: random() < 0.3 ? 'battery' : 'ac',
    batteryPercent: 100 * random(),
    charging: false,
    rttMs: { mean: 5 + 40 * random(), sd: 5 * random() },
    uplinkBps: { mean: 2e6 + 5e7 * random(), sd: 1e6 * random() },
    serverQueueDepth: Math.floor(4 * random()),
    serverTailMs: { server: 8 + 4 * random() },
    deviceIntensityGPerKwh: 50 + 700 * random(),
    serverIntensityGPerKwh: 50 + 700 * random(),
    devicePowerW: 4 + 4 * random(),
    radio: { upJPerByte: 1e-7, downJPerByte: 5e-8, burstJ: 0.05 },
    serverPowerW: 250,
    serverPue: 1.2,
  }));
}

/** What a candidate would cost in a context: the structural model, 20% off on the wire, with noise. */
function outcomes(list, ctx, random) {
  return Object.fromEntries(
    list.map((c) => {
      const noise = () => Math.exp(0.2 * (random() - 0.5));
      const head = c.head.medianMs * (1 + ctx.cpuLoad) * noise();
      const transfer = c.kind === 'device' ? 0 : (ctx.rttMs.mean + (1.2 * 8000 * (c.bytesUp + c.bytesDown)) / ctx.uplinkBps.mean) * noise();
      const server = c.kind === 'device' ? 0 : c.tail.medianMs * (1 + ctx.serverQueueDepth) * noise();
      const deviceEnergyJ = (ctx.devicePowerW * head) / 1000 + (c.kind === 'device' ? 0 : c.bytesUp * 1e-7 + 0.05);
      const carbonG = (deviceEnergyJ * ctx.deviceIntensityGPerKwh + ((250 * 1.2 * c.tail.medianMs) / 1000) * ctx.serverIntensityGPerKwh) / 3.6e6;
      return [c.id, { latencyMs: head + transfer + server + 0.3, headMs: head, transferMs: transfer, serverMs: server, deviceEnergyJ, carbonG }];
    }),
  );
}

/** A decider whose every candidate has seen `records` full-information records (windows full at 500). */
function warmDecider(list, records, seed) {
  const decider = new CarbonAwareDecision(list, { exploration: { rate: 0.02, seed } });
  const random = mulberry32(seed);
  const ctxs = contexts(64, seed);
  for (let i = 0; i < records; i += 1) {
    const ctx = ctxs[i % ctxs.length];
    decider.observeAll(ctx, outcomes(list, ctx, random), { sloMs: 150 });
  }
  return decider;
}

// 1. decide()
const list = candidates(10);
if (list.length !== 32) throw new Error(`expected 32 candidates, got ${list.length}`);
const decider = warmDecider(list, 520, 1);
const ctxs = contexts(256, 2);
const decide = {};
const MODES = [
  ['robust', { mode: 'robust' }],
  ['mean', { mode: 'mean' }],
  ['adaptive', { mode: 'adaptive' }],
  ['set', { mode: 'set' }],
  ['robust, every candidate six metrics', { mode: 'robust', predictions: 'all' }],
];
{
  // Modes interleaved in rounds of 200 calls, so that other load on the machine falls on all alike.
  const samples = MODES.map(() => []);
  let sink = 0;
  for (let i = 0; i < 2000; i += 1) for (const [, options] of MODES) sink += decider.decide(ctxs[i & 255], { sloMs: 150, ...options }).index;
  for (let done = 0; done < CALLS; done += 200) {
    MODES.forEach(([, options], m) => {
      for (let i = done; i < done + 200; i += 1) {
        const ctx = ctxs[i & 255];
        const t = performance.now();
        const d = decider.decide(ctx, { sloMs: 150, ...options });
        samples[m].push((performance.now() - t) * 1000);
        sink += d.index;
      }
    });
  }
  if (!Number.isFinite(sink)) throw new Error('unreachable');
  MODES.forEach(([label], m) => {
    decide[label] = round(summary(samples[m]));
    out(`decide, 32 candidates, ${label}: median ${decide[label].medianUs} µs, p90 ${decide[label].p90Us}, p99 ${decide[label].p99Us} (${samples[m].length} calls)`);
  });
}
{
  const us = [];
  for (let i = 0; i < 2000; i += 1) {
    const d = decider.decide(ctxs[i & 255], { sloMs: 150 });
    const t = performance.now();
    if (d.explanation.length === 0) throw new Error('empty explanation');
    us.push((performance.now() - t) * 1000);
  }
  decide['reading the explanation (after decide)'] = round(summary(us));
  out(`explanation, when read: median ${decide['reading the explanation (after decide)'].medianUs} µs`);
}

// 2. observe()
const observe = {};
{
  const random = mulberry32(3);
  const records = ctxs.map((ctx) => outcomes(list, ctx, random));
  for (const [label, pick] of [
    ['six metrics', (o) => o],
    ['latency only', (o) => ({ latencyMs: o.latencyMs })],
  ]) {
    const us = new Array(OBSERVATIONS);
    for (let i = 0; i < OBSERVATIONS; i += 1) {
      const c = list[i & 31];
      const ctx = ctxs[i & 255];
      const o = pick(records[i & 255][c.id]);
      const t = performance.now();
      decider.observe(c.id, ctx, o);
      us[i] = (performance.now() - t) * 1000;
    }
    observe[label] = round(summary(us));
    out(`observe, ${label}: median ${observe[label].medianUs} µs, p90 ${observe[label].p90Us} (${OBSERVATIONS} observations)`);
  }
  const us = [];
  for (let i = 0; i < 5000; i += 1) {
    const ctx = ctxs[i & 255];
    const d = decider.decide(ctx, { sloMs: 150, mode: 'set' });
    const t = performance.now();
    decider.observe(d.candidate.id, ctx, records[i & 255][d.candidate.id], d);
    us.push((performance.now() - t) * 1000);
  }
  observe['six metrics, with the decision (set calibration)'] = round(summary(us));
  out(`observe with the decision: median ${observe['six metrics, with the decision (set calibration)'].medianUs} µs`);
}

// 3. Memory per candidate: the slope of heap + array buffers between 32 and 128 warm candidates.
let memory;
if (typeof globalThis.gc === 'function') {
  const heap = async () => {
    // An array buffer's memory is returned after the collection that finds it dead, not during it.
    globalThis.gc();
    await new Promise((resolve) => setTimeout(resolve, 20));
    globalThis.gc();
    // Typed arrays past a few dozen bytes keep their data outside the JS heap: count both.
    const { heapUsed, arrayBuffers } = process.memoryUsage();
    return heapUsed + arrayBuffers;
  };
  const base = await heap();
  const small = warmDecider(candidates(10), 520, 4);
  const withSmall = await heap();
  const large = warmDecider(candidates(42), 520, 5);
  const withLarge = await heap();
  const perCandidate = (withLarge - withSmall) / (large.candidates.length - small.candidates.length);
  const stateBytes = JSON.stringify(small).length;
  memory = {
    bytesPerCandidate: Math.round(perCandidate),
    bytes32Candidates: withSmall - base,
    counted: 'heapUsed + arrayBuffers (process.memoryUsage), after gc',
    stateJsonBytesPerCandidate: Math.round(stateBytes / small.candidates.length),
    windows: 'one window of 500 scores per metric, read by the robust (split) and adaptive (conformal PID) methods alike (6 metrics; 5 for server-only, 4 for device-only candidates)',
  };
  out(`memory: ${(perCandidate / 1024).toFixed(1)} KiB (heap + array buffers) per warm candidate; state JSON ${(memory.stateJsonBytesPerCandidate / 1024).toFixed(1)} KiB per candidate`);
} else out('memory: run with node --expose-gc to measure');

machine.loadAfter = load();
out(`load average after: ${machine.loadAfter.join(' ')}`);
const quiet = machine.loadBefore[0] <= 0.5 && machine.loadAfter[0] <= 0.5;
const result = {
  benchmark: 'test/bench/decision.mjs',
  date: new Date().toISOString(),
  machine,
  quiet,
  goals: {
    decideMedianUnder20us: { met: decide.robust.medianUs < 20, judged: quiet },
    observeUnder5us: { met: observe['six metrics'].medianUs < 5, judged: quiet },
  },
  candidates: list.length,
  decide,
  observe,
  memory,
};
writeFileSync(values.out, `${JSON.stringify(result, null, 2)}\n`);
const us = (v) => `${v.toFixed(1)} µs`;
const row = (label, r) => `| ${label} | ${us(r.medianUs)} | ${us(r.p90Us)} | ${us(r.p99Us)} | ${r.n} |`;
const verdict = (goal) => (goal.judged ? (goal.met ? 'met' : 'missed') : `${goal.met ? 'under' : 'over'} it in this run, not judged (load above 0.5)`);
const markdown = [
  '# Carbon-aware decision: time and memory',
  '',
  `Run ${result.date} by \`node --expose-gc test/bench/decision.mjs\` (${CALLS} calls per mode, ${OBSERVATIONS} observations). Machine: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.os}; 1-minute load average ${machine.loadBefore[0]} before, ${machine.loadAfter[0]} after${quiet ? '' : ' (not quiet: the goals are not judged)'}.`,
  '',
  `## decide(), ${list.length} warm candidates (single calls; modes interleaved)`,
  '',
  '| mode | median | p90 | p99 | calls |',
  '| --- | ---: | ---: | ---: | ---: |',
  ...Object.entries(decide).map(([label, r]) => row(label, r)),
  '',
  `Goal: median under 20 µs (robust): ${verdict(result.goals.decideMedianUnder20us)}.`,
  '',
  '## observe(), per observation',
  '',
  '| observation | median | p90 | p99 | calls |',
  '| --- | ---: | ---: | ---: | ---: |',
  ...Object.entries(observe).map(([label, r]) => row(label, r)),
  '',
  `Goal: under 5 µs (six metrics): ${verdict(result.goals.observeUnder5us)}.`,
  '',
  ...(memory
    ? [
        '## Memory per warm candidate',
        '',
        `${(memory.bytesPerCandidate / 1024).toFixed(1)} KiB of heap and array buffers per candidate (slope between 32 and 128 warm candidates, after gc); saved state ${(memory.stateJsonBytesPerCandidate / 1024).toFixed(1)} KiB of JSON per candidate. Windows: ${memory.windows}.`,
        '',
      ]
    : []),
].join('\n');
writeFileSync(values.out.replace(/\.json$/, '.md'), markdown);
out(`wrote ${values.out}${quiet ? '' : ' (load above 0.5: goals not judged)'}`);
