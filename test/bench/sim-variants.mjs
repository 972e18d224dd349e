/**
 * Model variants in the simulator (issue #11, sections 1 and 5): the zoo's two families
 * (imagenet-mobilenetv2 at widths 0.35/0.5/0.75/1.0, imagenet-resnet 18/34/50), every variant's
 * measured profile (profiles/), over one week: Pixel 4, Wi-Fi radio energy, the TMobile-LTE
 * uplink, DE device grid, FR server grid (sim-study's headline setting), at no quality floor and at
 * a floor (65% top-1 for MobileNetV2, 70% for ResNet). Compares Clover-style switching
 * ('carboncp-variants': variant x cut per request) with the best fixed variant in hindsight
 * ('best-fixed-variant': each allowed variant run alone with carboncp-robust, the least carbon
 * within the SLO miss budget kept), the point-estimate baseline and the oracle.
 *
 * Qualities are the declared (published) top-1 figures of @carboncp/models' families: the zoo's
 * weights are random, so no accuracy is measured here.
 *
 * Two speeds: 'measured', every variant's profile as measured; 'flops', a sensitivity (not a
 * measurement): each variant's measured plan latencies scaled by one factor so that its whole
 * model runs at the family base model's measured time per FLOP (FLOPs counted on the graph by
 * core's partition). It is there because the variants' profiles were measured under heavy load
 * and are not comparable with each other (see the results).
 *
 * Usage: node test/bench/sim-variants.mjs [--days 7] [--speed measured,flops] [--out test/bench/results/sim-variants] (after npm run setup)
 */
import { readFile, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { candidatesFromFamily } from '@carboncp/calibrator';
import { loadModel, partition } from '@carboncp/core';
import { ensureModel, getFamily, listModels } from '@carboncp/models';
import { simulate } from '@carboncp/sim';
import { ALPHA, ASSUMPTIONS, deviceMedianMs, load, loadInputs, loadModelInputs, log, r4, scenario, SLO_FACTOR } from './sim-scenario.mjs';

const { values } = parseArgs({
  options: {
    days: { type: 'string', default: '7' },
    speed: { type: 'string', default: 'measured,flops' },
    out: { type: 'string', default: new URL('./results/sim-variants', import.meta.url).pathname },
  },
});
const days = Number(values.days);
const POLICIES = ['carbon-greedy', 'carboncp-robust', 'best-fixed-variant', 'carboncp-variants', 'oracle'];
const FAMILIES = [
  { name: 'imagenet-mobilenetv2', floors: [null, 65] },
  { name: 'imagenet-resnet', floors: [null, 70] },
];
const SETTING = { device: 'pixel-4', radio: 'wifi', deviceZone: 'DE', serverZone: 'FR', trace: 'TMobile-LTE-short', startMonth: 2 };

const machine = { cpu: cpus()[0]?.model ?? '?', cores: cpus().length, node: process.version };
const started = { at: new Date().toISOString(), load: load() };
log(`machine: ${machine.cpu} x${machine.cores}, Node ${machine.node}; load average ${started.load.join(' ')}`);
const inputs = await loadInputs();
const baseOf = (family) => family.variants.find((v) => !listModels().find((m) => m.name === v.model)?.variantOf);

/** FLOPs per sample of the whole model (its 'device' plan's head), counted on the graph. */
async function modelFlops(name) {
  const model = await loadModel(new Uint8Array(await readFile(await ensureModel(name))), name);
  return (await partition(model)).plans.find((p) => p.id === 'device').headFlops;
}

const scaleDist = (d, f) => ({ ...d, medianMs: d.medianMs * f, p10Ms: d.p10Ms * f, p90Ms: d.p90Ms * f, meanMs: d.meanMs * f, sdMs: d.sdMs * f });
const scaleProfile = (p, f) => ({ ...p, plans: p.plans.map((plan) => ({ ...plan, head: scaleDist(plan.head, f), tail: scaleDist(plan.tail, f) })) });
const fullMs = (profile) => profile.plans.find((p) => p.id === 'device').head.medianMs;

const runs = [];
for (const speed of values.speed.split(',')) for (const { name, floors } of FAMILIES) {
  const family = getFamily(name);
  const models = {};
  for (const v of family.variants) models[v.name] = await loadModelInputs(v.model);
  const base = baseOf(family);
  const speeds = {};
  for (const v of family.variants) {
    const flops = speed === 'flops' ? await modelFlops(v.model) : null;
    speeds[v.name] = { deviceMs: r4(fullMs(models[v.name].profile)), flops };
  }
  for (const v of family.variants) {
    const f = speed === 'flops' ? (speeds[v.name].flops / speeds[base.name].flops) * (fullMs(models[base.name].profile) / fullMs(models[v.name].profile)) : 1;
    speeds[v.name].scale = r4(f);
  }
  const profiles = Object.fromEntries(family.variants.map((v) => [v.name, scaleProfile(models[v.name].profile, speeds[v.name].scale)]));
  // Each variant's own plans (server, device, the splits that send less than its input) and output bytes, as sim-study takes them.
  const perVariant = Object.fromEntries(family.variants.map((v) => [v.name, { planIds: [...new Set(models[v.name].candidates.map((c) => c.planId))], outputBytesPerSample: models[v.name].outputBytes }]));
  const candidates = candidatesFromFamily(family, profiles, { perVariant });
  const probe = await scenario(inputs, { candidates }, { ...SETTING, hours: 1, sloMs: 1 });
  for (const minQuality of floors) {
    // sim-study's SLO rule (1.5x the device's own time) for the fastest variant the floor allows:
    // an SLO the allowed variants can keep without offloading, so that the floor is not also an SLO breach.
    const allowed = family.variants.filter((v) => minQuality === null || v.quality.value >= minQuality);
    const sloBasis = allowed.reduce((a, b) => (fullMs(profiles[b.name]) < fullMs(profiles[a.name]) ? b : a));
    const sloMs = Math.round(SLO_FACTOR * deviceMedianMs({ profile: profiles[sloBasis.name] }, probe.headScale));
    const began = performance.now();
    const options = { ...(await scenario(inputs, { candidates }, { ...SETTING, hours: 24 * days, sloMs, alpha: ALPHA, policies: POLICIES })), ...(minQuality === null ? {} : { minQuality }) };
    const result = simulate(options);
    const wallS = Number(((performance.now() - began) / 1000).toFixed(1));
    const best = result.policies.find((p) => p.policy === 'best-fixed-variant');
    const policies = result.policies.map((p) => ({
      policy: p.policy,
      carbonG: r4(p.carbonG),
      vsBestFixedPct: r4((100 * (best.carbonG - p.carbonG)) / best.carbonG),
      sloViolationRate: r4(p.sloViolationRate),
      regretPct: r4(p.regretPct),
      meanQuality: r4(p.meanQuality),
      variantCounts: p.variantCounts,
      meanLatencyMs: r4(p.meanLatencyMs),
      deviceJ: r4(p.deviceJ),
      explored: p.explored,
      cuts: Object.fromEntries(Object.entries(p.cutCounts).sort((a, b) => b[1] - a[1]).slice(0, 4)),
    }));
    const fixedRuns = Object.fromEntries(Object.entries(result.fixedVariant.runs).map(([v, r]) => [v, { carbonG: r4(r.carbonG), sloViolationRate: r4(r.sloViolationRate), quality: r.quality }]));
    runs.push({
      speed,
      family: name,
      profiles: speeds,
      variants: family.variants.map((v) => ({ name: v.name, model: v.model, top1: v.quality.value, source: v.quality.source })),
      candidates: candidates.length,
      base: base.name,
      sloBasis: sloBasis.name,
      sloMs,
      minQuality,
      requests: result.requests,
      wallS,
      load: load(),
      bestFixedVariant: result.fixedVariant.variant,
      fixedRuns,
      policies,
    });
    log(`${speed}: ${name} floor ${minQuality ?? 'none'}: ${result.requests} requests, ${candidates.length} candidates, SLO ${sloMs} ms, ${wallS} s (load ${load().join(' ')}); best fixed ${result.fixedVariant.variant}`);
  }
}

const finished = { at: new Date().toISOString(), load: load() };
const out = { machine, started, finished, days, setting: SETTING, alpha: ALPHA, sloFactor: SLO_FACTOR, assumptions: [...ASSUMPTIONS, 'Qualities: declared ImageNet-1k top-1 of each variant (the families of @carboncp/models, with their sources); the zoo weights are random, so quality is metadata, not measured.'], runs };
await writeFile(`${values.out}.json`, `${JSON.stringify(out, null, 2)}\n`);

const lines = [
  '# Model variants in the simulator (issue #11, sections 1 and 5)',
  '',
  `Written by \`node test/bench/sim-variants.mjs --days ${days}\` at ${finished.at}. Machine: ${machine.cpu} x${machine.cores}, Node ${machine.node}; load average ${started.load.join(' ')} at the start, ${finished.load.join(' ')} at the end (the carbon figures do not depend on the load; the wall times do).`,
  '',
  `Setting: ${days} days from 1 March 2022, one request a minute (Poisson), ${SETTING.device}, ${SETTING.radio} radio energy, ${SETTING.trace} uplink, ${SETTING.deviceZone} device grid, ${SETTING.serverZone} server grid; alpha ${ALPHA}; SLO ${SLO_FACTOR}x the device's own time (the profile's full model, scaled to the device) of the fastest variant the floor allows. ` +
    '`best-fixed-variant`: each variant allowed by the floor run alone with carboncp-robust, the least carbon within the miss budget taken (hindsight); `carboncp-variants`: robust mode choosing variant x cut per request. `vs best fixed`: carbon saved against best-fixed-variant (positive: less). Qualities are declared (published) top-1, never measured on the zoo\'s random weights.',
  '',
];
for (const r of runs) {
  lines.push(`## ${r.family}, floor ${r.minQuality === null ? 'none' : `${r.minQuality}% top-1`}, speed ${r.speed}`, '');
  lines.push(`Full model on the profiling machine (median ms${r.speed === 'flops' ? '; FLOPs; scale applied' : ''}): ${Object.entries(r.profiles).map(([v, p]) => `${v} ${p.deviceMs}${r.speed === 'flops' ? ` (${(p.flops / 1e9).toFixed(2)} GFLOP, x${p.scale})` : ''}`).join(', ')}.`, '');
  lines.push(`${r.requests} requests, ${r.candidates} candidates (${r.variants.map((v) => `${v.name}: ${v.top1}%`).join(', ')}), SLO ${r.sloMs} ms (1.5x ${r.sloBasis} on the device), ${r.wallS} s. Best fixed variant: **${r.bestFixedVariant}**. Each allowed variant alone (carboncp-robust): ${Object.entries(r.fixedRuns).map(([v, f]) => `${v} ${f.carbonG} g, ${(100 * f.sloViolationRate).toFixed(1)}% misses`).join('; ')}.`, '');
  lines.push('| policy | carbon g | vs best fixed % | SLO misses % | regret % | mean top-1 % | variants chosen |', '| --- | --- | --- | --- | --- | --- | --- |');
  for (const p of r.policies) {
    lines.push(`| ${p.policy} | ${p.carbonG} | ${p.vsBestFixedPct} | ${r4(100 * p.sloViolationRate)} | ${p.regretPct} | ${p.meanQuality} | ${Object.entries(p.variantCounts).map(([v, n]) => `${v}: ${n}`).join(', ')} |`);
  }
  lines.push('');
}
lines.push('## Assumptions', '', ...out.assumptions.map((a) => `- ${a}`), '');
await writeFile(`${values.out}.md`, lines.join('\n'));
log(`wrote ${values.out}.json and .md`);
