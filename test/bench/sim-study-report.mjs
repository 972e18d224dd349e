#!/usr/bin/env node
/**
 * Turns sim-study.mjs's JSON (results/sim-study-{headline,sensitivity,breadth}.json) into
 * results/sim-study.md: the tables the README quotes. Numbers only from those files.
 * Usage: node test/bench/sim-study-report.mjs
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const dir = new URL('./results/', import.meta.url);
const read = (part) => {
  const file = new URL(`sim-study-${part}.json`, dir);
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : undefined;
};
const MODES = ['carboncp-mean', 'carboncp-robust', 'carboncp-adaptive', 'carboncp-set', 'carboncp-budget'];
const pct = (v, digits = 1) => (v === null || v === undefined || !Number.isFinite(v) ? '-' : `${v.toFixed(digits)}%`);
const cut = (from, to) => (100 * (from - to)) / from;
const table = (header, rows) => [`| ${header.join(' | ')} |`, `| ${header.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
const topCut = (p) => {
  const [id, n] = Object.entries(p.cuts)[0] ?? ['-', 0];
  const total = Object.values(p.cuts).reduce((a, b) => a + b, 0);
  return `${id} ${total ? Math.round((100 * n) / Math.max(total, 1)) : 0}%`;
};
const lines = ['# Simulation study (issue #9, section 6)', '', 'Written by `node test/bench/sim-study-report.mjs` from the JSON of `node test/bench/sim-study.mjs`; every figure below is in those files.', ''];

const headline = read('headline');
const any = headline ?? read('sensitivity') ?? read('breadth');
if (any) {
  lines.push(`Machine: ${any.machine.cpu} x${any.machine.cores}, Node ${any.machine.node}. ${any.sloRule}; alpha ${any.alpha}.`, '', '**Assumptions**', '', ...any.assumptions.map((a) => `- ${a}`), '');
}

if (headline) {
  const h = headline.headline;
  lines.push('## The CarbonCP setting: ResNet-18 on a battery phone', '', `ResNet-18 (${h.candidates} candidates: server, device and every split smaller than the input; ${h.outputBytes} B of outputs), a Pixel 4 (battery 10.78 Wh, heads at its measured TensorFlow Lite speed), the device on the DE grid and the server on FR, the uplink, grids and server load changing with the traces, four weeks from 1 March 2022 (\`${headline.command}\`, load average ${headline.started.load.join(' ')} at the start).`, '');
  for (const run of h.runs) {
    const by = Object.fromEntries(run.policies.map((p) => [p.policy, p]));
    lines.push(`### ${run.radio === 'wifi' ? 'Wi-Fi' : 'LTE'} radio, ${run.trace} uplink: SLO ${run.sloMs} ms, ${run.requests} requests`, '');
    lines.push(
      table(
        ['policy', 'carbon g', 'vs device', 'vs server', 'vs Neurosurgeon', 'SLO violations', 'device J', 'battery drain', 'regret', 'coverage', 'most chosen'],
        run.policies.map((p) => [p.policy, p.carbonG, pct(cut(by.device.carbonG, p.carbonG)), pct(cut(by.server.carbonG, p.carbonG)), pct(cut(by.neurosurgeon.carbonG, p.carbonG)), pct(100 * p.sloViolationRate), p.deviceJ, pct(p.batteryDrainPct, 0), pct(p.regretPct), p.coverage ?? '-', topCut(p)]),
      ),
      '',
    );
  }
}

const sensitivity = read('sensitivity');
if (sensitivity) {
  const s = sensitivity.sensitivity;
  lines.push('## Where offloading starts to pay: the same phone, k times slower at the same power', '', `ResNet-18, Wi-Fi radio, ${s.trace} uplink, ${s.days} days from 1 March 2022 per row; the SLO follows the slower device. "Best fixed" is the fixed policy (device or server) of least carbon among those whose SLO violations stayed at or below alpha. A carboncp cell: carbon cut against best fixed / SLO violations / regret against the oracle (\`${sensitivity.command}\`).`, '');
  lines.push(
    table(
      ['k', 'grids', 'SLO ms', 'best fixed (g)', 'server (g, violations)', 'oracle g', ...MODES],
      s.runs.map((run) => {
        const by = Object.fromEntries(run.policies.map((p) => [p.policy, p]));
        return [`x${run.slowdown}`, `${run.deviceZone} -> ${run.serverZone}`, run.sloMs, `${run.bestFixed.policy} ${run.bestFixed.carbonG}`, `${by.server.carbonG}, ${pct(100 * by.server.sloViolationRate)}`, by.oracle.carbonG, ...MODES.map((m) => `${pct(run.verdicts[m].cutPct)} / ${pct(100 * run.verdicts[m].sloViolationRate)} / ${pct(run.verdicts[m].regretPct)}`)];
      }),
    ),
    '',
  );
}

const breadth = read('breadth');
if (breadth) {
  const b = breadth.breadth;
  lines.push('## Breadth: every zoo model, two radios, two uplinks, 16 grid pairs', '', `Pixel 4; ${b.days} days from 1 March 2022 per run; grid pairs (device -> server): ${b.pairs.join(', ')} (\`${breadth.command}\`). Per model, radio and uplink, over the 16 grid pairs, for each carboncp mode: in how many the SLO violations stayed at or below alpha, carbon fell below the best fixed baseline (by more than 0.05%), and carbon stayed within 10% of the oracle's; then the median and largest cut against best fixed, and the worst regret.`, '');
  const groups = new Map();
  for (const run of b.runs) {
    const key = `${run.model}|${run.radio}|${run.trace}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(run);
  }
  const rows = [];
  for (const [key, runs] of groups) {
    const [model, radio, trace] = key.split('|');
    const fixedPolicy = [...new Set(runs.map((r) => `${r.bestFixed.policy}${r.bestFixed.keepsSlo ? '' : '*'}`))].join(', ');
    for (const m of MODES) {
      const v = runs.map((r) => r.verdicts[m]);
      const cuts = v.map((x) => x.cutPct).sort((a, b) => a - b);
      rows.push([model, radio, trace, m, fixedPolicy, `${v.filter((x) => x.sloKept).length}/${v.length}`, `${v.filter((x) => x.cuts).length}/${v.length}`, `${v.filter((x) => x.withinOracle).length}/${v.length}`, pct(cuts[Math.floor(cuts.length / 2)]), pct(cuts.at(-1)), pct(Math.max(...v.map((x) => x.regretPct)))]);
    }
  }
  lines.push(table(['model', 'radio', 'uplink', 'mode', 'best fixed', 'SLO kept', 'cuts carbon', 'within 10% of oracle', 'median cut', 'largest cut', 'worst regret'], rows), '', '`*`: no fixed policy kept the SLO in some pair; best fixed is then the one of least carbon.', '');
  const all = b.runs.flatMap((r) => MODES.map((m) => ({ m, ...r.verdicts[m] })));
  lines.push('Totals over every run:', '', table(['mode', 'runs', 'SLO kept', 'cuts carbon', 'within 10% of oracle', 'all three'], MODES.map((m) => {
    const v = all.filter((x) => x.m === m);
    return [m, v.length, v.filter((x) => x.sloKept).length, v.filter((x) => x.cuts).length, v.filter((x) => x.withinOracle).length, v.filter((x) => x.sloKept && x.cuts && x.withinOracle).length];
  })), '');
}

writeFileSync(new URL('sim-study.md', dir), `${lines.join('\n')}\n`);
process.stderr.write('wrote test/bench/results/sim-study.md\n');
