/**
 * A carbon budget in the simulator (issue #11, sections 2 and 5): one week, Pixel 4 at the budget
 * phone's speed (budgetPhoneSlowdown), Wi-Fi radio energy, the TMobile-LTE uplink, DE device grid,
 * FR server grid (sim-variants' setting), over the imagenet-resnet family (ResNet-18/34/50, every
 * variant's measured profile, candidatesFromFamily). Compares, per daily budget:
 *
 * - `carboncp-robust`, `carboncp-mean`: the least carbon, no budget, in robust and mean mode;
 * - `carboncp-paced`: quality first under the CarbonBudget's per-request cap, paced by the device
 *   grid's forecast with its conformal upper bounds;
 * - `greedy-spender`: quality first until the day's budget is gone, then the least carbon.
 *
 * Two budgets: 80% of what quality-first emits with no budget (carboncp-paced under a budget it
 * never reaches: the spend a budget has to cut), and 80% of what carboncp-robust emits
 * unconstrained (the issue's suggestion); and one midway between the least carbon and quality
 * first, which the family can meet. carboncp-mean (least carbon by point predictions, the
 * budget policies' own mode) runs beside them: the least a budget policy can spend.
 *
 * Usage: node test/bench/sim-budget.mjs [--days 7] [--out test/bench/results/sim-budget] (after npm run setup)
 */
import { writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { candidatesFromFamily } from '@carboncp/calibrator';
import { getFamily } from '@carboncp/models';
import { simulate } from '@carboncp/sim';
import { ALPHA, ASSUMPTIONS, budgetPhoneSlowdown, deviceMedianMs, load, loadInputs, loadModelInputs, log, r4, scenario, SLO_FACTOR } from './sim-scenario.mjs';

const { values } = parseArgs({
  options: {
    days: { type: 'string', default: '7' },
    out: { type: 'string', default: new URL('./results/sim-budget', import.meta.url).pathname },
  },
});
const days = Number(values.days);
const SHARE = 0.8;
const PERIOD_HOURS = 24;
const FAMILY = 'imagenet-resnet';
const SETTING = { device: 'pixel-4', radio: 'wifi', deviceZone: 'DE', serverZone: 'FR', trace: 'TMobile-LTE-short', startMonth: 2 };

const machine = { cpu: cpus()[0]?.model ?? '?', cores: cpus().length, node: process.version };
const started = { at: new Date().toISOString(), load: load() };
log(`machine: ${machine.cpu} x${machine.cores}, Node ${machine.node}; load average ${started.load.join(' ')}`);
const inputs = await loadInputs();
const phone = await budgetPhoneSlowdown();
const family = getFamily(FAMILY);
const models = {};
for (const v of family.variants) models[v.name] = await loadModelInputs(v.model);
const profiles = Object.fromEntries(family.variants.map((v) => [v.name, models[v.name].profile]));
const perVariant = Object.fromEntries(family.variants.map((v) => [v.name, { planIds: [...new Set(models[v.name].candidates.map((c) => c.planId))], outputBytesPerSample: models[v.name].outputBytes }]));
const candidates = candidatesFromFamily(family, profiles, { perVariant });
const topQuality = Math.max(...family.variants.map((v) => v.quality.value));
const fastest = family.variants.reduce((a, b) => (deviceMedianMs(models[b.name], 1) < deviceMedianMs(models[a.name], 1) ? b : a));
const probe = await scenario(inputs, { candidates }, { ...SETTING, slowdown: phone.slowdown, hours: 1, sloMs: 1 });
const sloMs = Math.round(SLO_FACTOR * deviceMedianMs(models[fastest.name], probe.headScale));
const base = async ({ budget, ...extra }) => ({
  ...(await scenario(inputs, { candidates }, { ...SETTING, slowdown: phone.slowdown, hours: 24 * days, sloMs, alpha: ALPHA, ...extra })),
  ...(budget ? { budget } : {}),
});
const qualityOf = new Map(candidates.map((c) => [c.id, c.quality]));

async function run(label, options) {
  const began = performance.now();
  const result = simulate(options);
  const wallS = Number(((performance.now() - began) / 1000).toFixed(1));
  log(`${label}: ${result.requests} requests, ${wallS} s (load ${load().join(' ')})`);
  return { result, wallS };
}

const robust = await run('carboncp-robust and carboncp-mean, no budget', await base({ policies: ['carboncp-robust', 'carboncp-mean'] }));
// Quality first with no budget, in the budget policies' own mode: carboncp-paced under a budget it never reaches.
const unbounded = await run('quality first, no budget', await base({ policies: ['carboncp-paced'], budget: { grams: 1e12, periodHours: PERIOD_HOURS } }));
const robustG = robust.result.policies[0].carbonG;
const leastG = robust.result.policies[1].carbonG;
const topG = unbounded.result.policies[0].carbonG;
const periods = Math.ceil((24 * days) / PERIOD_HOURS);
const budgets = [
  { name: `${SHARE * 100}% of quality-first with no budget`, reference: 'carboncp-paced with an unreachable budget (quality first, mean mode)', referenceG: topG },
  { name: `${SHARE * 100}% of carboncp-robust unconstrained`, reference: 'carboncp-robust (least carbon, robust mode)', referenceG: robustG },
  // 80% of quality-first can be below the least carbon a policy can spend (it is here): also a budget the family can meet.
  { name: 'midway between carboncp-mean and quality-first with no budget', reference: 'the mean of the two', referenceG: (leastG + topG) / 2 / SHARE },
];
const runs = [];
for (const b of budgets) {
  const grams = (SHARE * b.referenceG) / periods;
  // Mean quality per hour of the day (UTC), per policy: where the budget was spent.
  const byHour = {};
  const options = await base({ policies: ['carboncp-robust', 'carboncp-mean', 'carboncp-paced', 'greedy-spender'], budget: { grams, periodHours: PERIOD_HOURS } });
  const { result, wallS } = await run(b.name, {
    ...options,
    onRequest: (r) => {
      const hour = new Date(r.time).getUTCHours();
      for (let p = 0; p < r.choices.length; p += 1) {
        const row = (byHour[p] ??= Array.from({ length: 24 }, () => ({ n: 0, q: 0 })))[hour];
        row.n += 1;
        row.q += qualityOf.get(r.candidates[r.choices[p]]);
      }
    },
  });
  runs.push({
    budget: b.name,
    reference: b.reference,
    referenceG: r4(b.referenceG),
    gramsPerPeriod: r4(grams),
    periodHours: PERIOD_HOURS,
    periods: result.budget.periods,
    requests: result.requests,
    wallS,
    load: load(),
    policies: result.policies.map((p, i) => {
      const spend = result.budget.policies[p.policy];
      return {
        policy: p.policy,
        carbonG: r4(p.carbonG),
        budgetSpentPct: r4((100 * spend.spentG) / (grams * result.budget.periods)),
        overspendG: r4(spend.overspendG),
        overspendPct: r4((100 * spend.overspendG) / (grams * result.budget.periods)),
        periodsOverspent: spend.periodsOverspent,
        meanQuality: r4(p.meanQuality),
        qualityByHourUtc: byHour[i].map((h) => r4(h.q / h.n)),
        variantCounts: p.variantCounts,
        sloViolationRate: r4(p.sloViolationRate),
        meanLatencyMs: r4(p.meanLatencyMs),
      };
    }),
  });
}

const finished = { at: new Date().toISOString(), load: load() };
const out = {
  machine,
  started,
  finished,
  days,
  setting: { ...SETTING, family: FAMILY, slowdown: r4(phone.slowdown), candidates: candidates.length, sloMs, alpha: ALPHA },
  references: { carboncpRobustG: r4(robustG), carboncpMeanG: r4(leastG), qualityFirstG: r4(topG), qualityFirstMeanQuality: r4(unbounded.result.policies[0].meanQuality), topQuality },
  assumptions: [
    ...ASSUMPTIONS,
    `Device speed: the Pixel 4 profile's heads scaled by ${r4(phone.slowdown)} (budget phone, Galaxy A03s, against Pixel 4 on ResNet-18, mobile-ml-benchmark).`,
    'Qualities: declared ImageNet-1k top-1 of each variant (@carboncp/models families, with sources); never measured on the zoo weights.',
    'Budget policies: the calibrator decision in mean mode (point predictions held to the SLO; see packages/sim/README.md); the budget is paced on the device grid forecast (seasonal-ewma, 14 days warm-up) with per-horizon split-conformal upper bounds at alpha 0.1.',
  ],
  runs,
};
await writeFile(`${values.out}.json`, `${JSON.stringify(out, null, 2)}\n`);

const lines = [
  '# A carbon budget in the simulator (issue #11, section 2)',
  '',
  `Written by \`node test/bench/sim-budget.mjs --days ${days}\` at ${finished.at}. Machine: ${machine.cpu} x${machine.cores}, Node ${machine.node}; load average ${started.load.join(' ')} at the start, ${finished.load.join(' ')} at the end (carbon figures do not depend on the load; wall times do).`,
  '',
  `Setting: ${days} days from 1 March 2022, one request a minute (Poisson), ${SETTING.device} at the budget phone's speed (x${r4(phone.slowdown)}), ${SETTING.radio} radio energy, ${SETTING.trace} uplink, ${SETTING.deviceZone} device grid, ${SETTING.serverZone} server grid; ${FAMILY} (${family.variants.map((v) => `${v.name} ${v.quality.value}%`).join(', ')}), ${candidates.length} candidates; SLO ${sloMs} ms (${SLO_FACTOR}x ${fastest.name} on the device); alpha ${ALPHA}. Budget per day (${PERIOD_HOURS} h, renewed daily). References over the week: carboncp-robust ${r4(robustG)} g; carboncp-mean (least carbon by point predictions, the budget policies' mode) ${r4(leastG)} g; quality first with no budget (carboncp-paced under an unreachable budget) ${r4(topG)} g at mean top-1 ${r4(unbounded.result.policies[0].meanQuality)}%.`,
  '',
];
for (const r of runs) {
  lines.push(`## Budget: ${r.budget} (${r.gramsPerPeriod} g a day)`, '');
  lines.push(`${r.requests} requests, ${r.wallS} s.`, '');
  lines.push('| policy | carbon g | budget spent % | overspend g (% of budget) | days overspent | mean top-1 % | SLO misses % | variants chosen |', '| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const p of r.policies) {
    lines.push(`| ${p.policy} | ${p.carbonG} | ${p.budgetSpentPct} | ${p.overspendG} (${p.overspendPct}) | ${p.periodsOverspent}/${r.periods} | ${p.meanQuality} | ${r4(100 * p.sloViolationRate)} | ${Object.entries(p.variantCounts).map(([v, n]) => `${v}: ${n}`).join(', ')} |`);
  }
  lines.push('', 'Mean top-1 % by hour of the day (UTC), 0-23:', '');
  for (const p of r.policies) lines.push(`- ${p.policy}: ${p.qualityByHourUtc.map((q) => (q === null ? '-' : q.toFixed(1))).join(' ')}`);
  lines.push('');
}
lines.push('## Assumptions', '', ...out.assumptions.map((a) => `- ${a}`), '');
await writeFile(`${values.out}.md`, lines.join('\n'));
log(`wrote ${values.out}.json and .md`);
