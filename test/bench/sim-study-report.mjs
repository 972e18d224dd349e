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
  const bp = h.budgetPhone;
  lines.push(
    '## The CarbonCP setting: ResNet-18 on a battery phone',
    '',
    `ResNet-18 (${h.candidates} candidates: server, device and every split smaller than the input; ${h.outputBytes} B of outputs back), the Pixel 4 profile (battery 10.78 Wh, its whole-phone active power, Wi-Fi or LTE radio energy), the device on the DE grid and the server on FR, the uplink, both grids and the server's load changing with the traces, from 1 March 2022 (\`${headline.command}\`; load average ${headline.started.load.join(' ')} at the start, ${headline.finished.load.join(' ')} at the end: the results are deterministic, only the wall time depends on it). First at the Pixel 4's measured speed, then at a budget phone's: the Galaxy A03s runs ResNet-18 in ${bp.a03sMs.toFixed(0)} ms on one large core against the Pixel 4's ${bp.pixel4Ms.toFixed(0)} ms (mobile-ml-benchmark), ${bp.slowdown.toFixed(2)}x, taken at the Pixel 4's power (the A03s's own power is not in the shared data: an assumption).`,
    '',
  );
  for (const run of h.runs) {
    const by = Object.fromEntries(run.policies.map((p) => [p.policy, p]));
    lines.push(`### ${run.label} (heads x${run.slowdown.toFixed(2)}), ${run.radio === 'wifi' ? 'Wi-Fi' : 'LTE'} radio, ${run.trace} uplink: SLO ${run.sloMs} ms, ${run.requests} requests over ${run.hours / 24} days`, '');
    lines.push(`Best fixed baseline (least carbon among device and server with violations <= alpha): ${run.bestFixed.policy}${run.bestFixed.keepsSlo ? '' : ' (none kept the SLO)'}.`, '');
    lines.push(
      table(
        ['policy', 'carbon g', 'vs best fixed', 'vs device', 'vs server', 'vs Neurosurgeon', 'SLO violations', 'device J', 'battery drain', 'regret', 'coverage', 'most chosen'],
        run.policies.map((p) => [p.policy, p.carbonG, pct(cut(run.bestFixed.carbonG, p.carbonG)), pct(cut(by.device.carbonG, p.carbonG)), pct(cut(by.server.carbonG, p.carbonG)), pct(cut(by.neurosurgeon.carbonG, p.carbonG)), pct(100 * p.sloViolationRate), p.deviceJ, pct(p.batteryDrainPct, 0), pct(p.regretPct), p.coverage ?? '-', topCut(p)]),
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
if (breadth?.breadth.speeds) {
  const b = breadth.breadth;
  lines.push(
    '## Breadth: every zoo model, two device speeds, two radios, two uplinks, 16 grid pairs',
    '',
    `The Pixel 4 profile at its own speed and at a budget phone's (x${b.speeds[1].slowdown.toFixed(2)}); ${b.days} days from 1 March 2022 per run; grid pairs (device -> server): ${b.pairs.join(', ')} (\`${breadth.command}\`). One row per model, speed, radio and uplink, over the 16 grid pairs. "Headroom": how much less carbon the oracle emitted than the best fixed baseline (median and largest over the pairs): what any policy could save. Each mode's cell: pairs where its SLO violations stayed at or below alpha / where it stayed within 10% of the oracle's carbon / its median and largest cut against the best fixed baseline.`,
    '',
  );
  const groups = new Map();
  for (const run of b.runs) {
    const key = `${run.model}|${run.speed}|${run.radio}|${run.trace}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(run);
  }
  const median = (values) => {
    const sorted = [...values].sort((x, y) => x - y);
    return sorted[Math.floor(sorted.length / 2)];
  };
  const rows = [];
  for (const [key, runs] of groups) {
    const [model, speed, radio, trace] = key.split('|');
    const fixedPolicy = [...new Set(runs.map((r) => `${r.bestFixed.policy}${r.bestFixed.keepsSlo ? '' : '*'}`))].join(', ');
    const headroom = runs.map((r) => r.oracleCutPct);
    rows.push([
      model,
      speed,
      radio,
      trace,
      fixedPolicy,
      `${pct(median(headroom))} (${pct(Math.max(...headroom))})`,
      ...MODES.map((m) => {
        const v = runs.map((r) => r.verdicts[m]);
        const cuts = v.map((x) => x.cutPct);
        return `${v.filter((x) => x.sloKept).length} / ${v.filter((x) => x.withinOracle).length} / ${pct(median(cuts))} (${pct(Math.max(...cuts))})`;
      }),
    ]);
  }
  lines.push(table(['model', 'speed', 'radio', 'uplink', 'best fixed', 'headroom', ...MODES], rows), '', '`*`: no fixed policy kept the SLO in some pair; best fixed is then the one of least carbon.', '');
  const withHeadroom = b.runs.filter((r) => r.oracleCutPct > 1);
  const totals = (runs) =>
    MODES.map((m) => {
      const v = runs.map((r) => r.verdicts[m]);
      return [m, v.length, v.filter((x) => x.sloKept).length, v.filter((x) => x.cuts).length, v.filter((x) => x.withinOracle).length, v.filter((x) => x.sloKept && x.cuts && x.withinOracle).length];
    });
  const header = ['mode', 'runs', 'SLO kept', 'cuts carbon', 'within 10% of oracle', 'all three'];
  lines.push(`Totals over all ${b.runs.length} runs:`, '', table(header, totals(b.runs)), '');
  lines.push(`Over the ${withHeadroom.length} runs where the oracle emitted more than 1% less than the best fixed baseline (where there was something to cut):`, '', table(header, totals(withHeadroom)), '');
  const misses = withHeadroom.filter((r) => !(r.verdicts['carboncp-budget'].sloKept && r.verdicts['carboncp-budget'].cuts && r.verdicts['carboncp-budget'].withinOracle));
  if (misses.length) {
    lines.push('Where carboncp-budget missed a criterion among those runs:', '', table(['model', 'speed', 'radio', 'uplink', 'grids', 'SLO ms', 'headroom', 'budget: cut / violations / regret'], misses.map((r) => [r.model, r.speed, r.radio, r.trace, `${r.deviceZone} -> ${r.serverZone}`, r.sloMs, pct(r.oracleCutPct), `${pct(r.verdicts['carboncp-budget'].cutPct)} / ${pct(100 * r.verdicts['carboncp-budget'].sloViolationRate)} / ${pct(r.verdicts['carboncp-budget'].regretPct)}`])), '');
  }
}

writeFileSync(new URL('sim-study.md', dir), `${lines.join('\n')}\n`);
process.stderr.write('wrote test/bench/results/sim-study.md\n');
