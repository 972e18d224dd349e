#!/usr/bin/env node
/**
 * What several server sites cost a request's context (issue #11 §3; the goal of issue #7 §7:
 * reading the context from cached values under 20 µs). Three device clients of the PP-OCR
 * classifier on one real server on 127.0.0.1: one with `server`, one with 3 `servers`, one with
 * the ten sites of the Environmentally Equitable AI file (each a site with its hourly trace, all
 * pointing at the same server, each its own connection), their RTTs filled by pings. Times
 * SplitClient's policyChoice (private in TypeScript only: the shipped code, not a copy), which
 * with `servers` builds every site's view (up, grid, water, RTT) per request, and `sites()`.
 * Batches of --batch calls per client, interleaved by round; the median per-call mean.
 *
 * Writes --out (default test/bench/results/sites-context.json) with the machine and the load
 * average before and after. Needs dist (`npm run setup`) and ../shared/data/sites.
 * Usage: node test/bench/sites-context.mjs [--rounds 21] [--batch 2000] [--out FILE]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { describeHost, ocrModelPath, seededInputs } from '@carboncp/core/node';
import { createClient } from '@carboncp/device/node';
import { startServer } from '@carboncp/server';
// @carboncp/carbon is not a dependency of the test suites (no lockfile change): its build, by path.
import { parseSiteTrace } from '../../packages/carbon/dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '21' },
    batch: { type: 'string', default: '2000' },
    out: { type: 'string', default: join(here, 'results', 'sites-context.json') },
  },
});
const ROUNDS = Number(args.rounds);
const BATCH = Number(args.batch);
const load = () => loadavg().map((v) => Number(v.toFixed(2)));
const out = (line) => process.stdout.write(`${line}\n`);
const result = { date: new Date().toISOString(), machine: { ...describeHost(), node: process.version }, loadBefore: load(), settings: { rounds: ROUNDS, batch: BATCH } };
out(`machine: ${result.machine.cpu} x${result.machine.cores}, Node ${process.version}; load average before ${result.loadBefore.join(' ')}`);

const traces = parseSiteTrace(readFileSync(join(root, '..', 'shared', 'data', 'sites', 'equitableai_glb_10loc_water_carbon_price_hourly.csv'), 'utf8'));
const CLS = ocrModelPath('ch_ppocr_mobile_v2.0_cls_infer.onnx');
const SHAPE = { x: [1, 3, 48, 192] };
const server = await startServer({ models: [CLS], inputShapes: { 'ch_ppocr_mobile_v2.0_cls_infer': SHAPE }, host: '127.0.0.1', port: 0, executionProviders: ['cpu'], log: () => {} });
const sitesOf = (n) => traces.slice(0, n).map((trace) => ({ name: trace.site, url: server.url, trace }));
// Pings every 50 ms while idle fill every site's RTT; a clock is not needed: only reads are timed.
const common = { model: CLS, inputShapes: SHAPE, keepaliveMs: 50 };
const clients = {
  'server': await createClient({ ...common, server: server.url }),
  '3 sites': await createClient({ ...common, servers: sitesOf(3) }),
  '10 sites': await createClient({ ...common, servers: sitesOf(10) }),
};
for (const client of Object.values(clients)) await client.ready(10_000);
const inputs = seededInputs(clients.server.partition.model, SHAPE, 1);
const deadline = Date.now() + 20_000;
while (!Object.values(clients).every((c) => c.sites().every((s) => s.rttMs !== undefined) || c.sites().length === 1)) {
  if (Date.now() > deadline) throw new Error('the sites have no RTT after 20 s');
  await new Promise((r) => setTimeout(r, 50));
}
for (const [name, client] of Object.entries(clients)) {
  if (typeof client.policyChoice !== 'function') throw new Error('SplitClient.policyChoice is gone: point the bench at the code that now builds the CutContext');
  const views = client.policyChoice(inputs, undefined, {});
  if (views.plan.id !== 'server') throw new Error(`${name}: the default policy chose ${views.plan.id}`);
}

let sink = 0;
const parts = {};
for (const [name, client] of Object.entries(clients)) {
  parts[`cutContext ${name}`] = () => client.policyChoice(inputs, undefined, {}).compression.length;
  parts[`sites() ${name}`] = () => client.sites().length;
}
const names = Object.keys(parts);
for (let i = 0; i < 5000; i++) for (const name of names) sink += parts[name]();

const means = Object.fromEntries(names.map((n) => [n, []]));
for (let r = 0; r < ROUNDS; r++) {
  for (let k = 0; k < names.length; k++) {
    const name = names[(r + k) % names.length];
    const fn = parts[name];
    const t0 = performance.now();
    for (let i = 0; i < BATCH; i++) sink += fn();
    means[name].push(((performance.now() - t0) / BATCH) * 1000);
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
result.perCallUs = Object.fromEntries(names.map((n) => [n, Number(median(means[n]).toFixed(3))]));
result.loadAfter = load();
result.sink = sink;
for (const n of names) out(`${n.padEnd(22)} ${result.perCallUs[n].toFixed(3)} µs per call (median of ${ROUNDS} batches of ${BATCH})`);
out(`load average after ${result.loadAfter.join(' ')}`);
writeFileSync(args.out, `${JSON.stringify(result, null, 2)}\n`);
for (const client of Object.values(clients)) await client.close();
await server.close();
