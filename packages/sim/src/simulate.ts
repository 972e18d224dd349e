import { CoverageTracker, type DecisionCandidate, type DecisionContext } from '@carboncp/calibrator';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { capacityAt } from '@carboncp/carbon';
import { Battery, batterySettings } from './battery.js';
import { BudgetForecast } from './budget-forecast.js';
import { createBudgetPolicy, runBudget, type BudgetSettings } from './budget-policies.js';
import { bestFixedVariant, type FixedVariantChoice } from './fixed-variant.js';
import { PolicyTally, fillReductions, type PolicyResult } from './metrics.js';
import type { RequestRecord, SimulationOptions } from './options.js';
import { Outcomes, type OutcomeSettings, type RequestWorld } from './outcomes.js';
import { Oracle, createPolicy, type PolicyChoice, type SimPolicy } from './policies.js';
import { NormalStream, queueLength, uniformStream } from './random-streams.js';
import { SeriesRecorder, type SimulationStep } from './series.js';
import { radioContext, resolveSettings, scaledHeads, type ResolvedSettings } from './settings.js';
import { IntensityTrack, LinkEstimator, utilisationAt } from './world.js';
import { SITE_POLICIES, SiteTally, createSitePolicy, type SitePolicyResult } from './site-policies.js';
import { SiteWorld } from './site-world.js';
import { POWER_CAP_POLICIES, PowerCapWorld, createPowerCapPolicy, type PowerCapResult } from './power-cap-world.js';

export interface SimulationResult {
  settings: ResolvedSettings;
  requests: number;
  /** One record per policy, in the order asked for. */
  policies: PolicyResult[];
  /** The oracle's total carbon (g), the reference of every regret (also when 'oracle' is not among the policies). */
  oracleCarbonG: number;
  /** With sites: the site 'single-site' used, and per policy its water, server carbon, share and requests per site, and requests lost. */
  sites?: { names: string[]; singleSite: string; policies: Record<string, SitePolicyResult> };
  /** With 'best-fixed-variant': the variant it ran and every allowed variant's run ('robust' mode on that variant alone). */
  fixedVariant?: FixedVariantChoice;
  steps: SimulationStep[];
  /** With options.powerCap and 'carboncp-power-cap': the curve, and the caps it ran at. */
  powerCap?: PowerCapResult;
  /**
   * With options.budget: the budget and, per policy (every one, budgeted or not), the grams it
   * emitted, the grams beyond each period's budget summed over the periods (overspend), and the
   * periods it overspent.
   */
  budget?: {
    grams: number;
    periodHours: number;
    periods: number;
    policies: Record<string, { spentG: number; overspendG: number; periodsOverspent: number }>;
  };
  /** Wall-clock cost (ms): the whole run, the true outcomes, and each policy's decide + learn. */
  timing: { totalMs: number; outcomesMs: number; policies: Record<string, number> };
}

const MINUTE_MS = 60_000;

/**
 * Runs the policies over the same stream of requests (see the README): arrivals are the events;
 * at each, the world (grid hours, link capacity, server queue, noise draws) is read from the
 * traces and the named random streams, every candidate's true outcome is drawn once, each
 * policy chooses from what a device would know then, is charged its choice's outcome and
 * learns from it. Deterministic for a seed.
 */
export function simulate(options: SimulationOptions): SimulationResult {
  const began = performance.now();
  const s = resolveSettings(options);
  const siteWorld = options.sites ? new SiteWorld(options.sites, options.candidates, s) : undefined;
  // With sites, every remote candidate once per site: the truth, the policies and the results all see these.
  const candidates = siteWorld ? siteWorld.candidates : options.candidates;
  // (the per-variant runs of 'best-fixed-variant', if asked for, are part of this run's total time)
  const policyCandidates = s.headScaleKnown ? scaledHeads(candidates, s.headScale) : [...candidates];
  const uplink = options.uplink;
  const downlink = options.downlink ?? uplink;
  const outcomeSettings = {
    uplink,
    downlink,
    device: options.device,
    radio: s.radio ?? undefined,
    devicePowerW: s.devicePowerW,
    serverPowerW: s.serverPowerW,
    serverPue: s.serverPue,
    headScale: s.headScale,
    tailScale: s.tailScale,
  };
  const truth = new Outcomes(candidates, outcomeSettings);
  const capWorld = s.policies.some((p) => POWER_CAP_POLICIES.includes(p)) ? powerCapWorld(options, candidates, outcomeSettings) : undefined;
  const deviceTrack = new IntensityTrack(options.deviceCarbon, s.start, s.end, s.carbonView, s.forecastMethod, s.forecastWarmupDays);
  const serverTrack =
    options.serverCarbon && options.serverCarbon !== options.deviceCarbon
      ? new IntensityTrack(options.serverCarbon, s.start, s.end, s.carbonView, s.forecastMethod, s.forecastWarmupDays)
      : deviceTrack;
  const prior = options.network?.prior ?? { mean: 1e7, sd: 5e6 };
  const upEstimate = new LinkEstimator(uplink, s.probeMs, s.estimateWeight, prior);
  const downEstimate = downlink === uplink ? undefined : new LinkEstimator(downlink, s.probeMs, s.estimateWeight, prior);
  const load = options.server.utilisation ?? 0.3;

  const settings = {
    sloMs: s.sloMs,
    alpha: s.alpha,
    maxOutputError: s.maxOutputError ?? undefined,
    minQuality: s.minQuality ?? undefined,
    batteryReserve: options.batteryReserve,
    decider: options.decider ?? {},
    seed: s.seed,
  };
  const oracle = new Oracle(candidates, s.sloMs, settings);
  const fixedVariant = s.policies.includes('best-fixed-variant') ? bestFixedVariant(options, s, simulate) : undefined;
  const policySettings = fixedVariant ? { ...settings, fixedVariant: fixedVariant.variant } : settings;
  const siteSettings = siteWorld ? resolveSiteOptions(options, siteWorld) : undefined;
  const budgetSettings: BudgetSettings | undefined = options.budget
    ? {
        ...options.budget,
        start: s.start,
        requestsPerHour: s.perMinute * 60,
        // The device grid's forecast paces the budget (the decision's cap still holds each request's whole predicted carbon).
        forecast: new BudgetForecast(options.deviceCarbon, s.start, s.forecastMethod, s.forecastWarmupDays, s.alpha),
      }
    : undefined;
  const policies: SimPolicy[] = s.policies.map((name) => {
    if (name === 'oracle') return oracle;
    if (SITE_POLICIES.includes(name)) return createSitePolicy(name, policyCandidates, policySettings, siteWorld!, siteSettings!);
    if (POWER_CAP_POLICIES.includes(name)) return createPowerCapPolicy(name, policyCandidates, policySettings);
    if (budgetSettings && (name === 'carboncp-paced' || name === 'greedy-spender')) return createBudgetPolicy(name, policyCandidates, policySettings, budgetSettings);
    return createPolicy(name, policyCandidates, policySettings);
  });
  // The truth each policy meets: 'carboncp-power-cap' meets the same draw at its server's cap.
  const truths = policies.map((p) => (p.name === 'carboncp-power-cap' ? capWorld!.capped : truth));
  const siteTallies = siteWorld ? policies.map(() => new SiteTally(siteWorld, siteSettings!.waterWeight)) : undefined;
  // Every policy's spending against the budget, by the calibrator's own accounting.
  const ledgers = budgetSettings ? policies.map(() => runBudget(budgetSettings)) : null;
  const periodsOver = new Int32Array(policies.length);
  const perMinuteGap = MINUTE_MS / s.perMinute;
  const expected = Math.max(1, Math.floor(((s.end - s.start) / MINUTE_MS) * s.perMinute));
  const coverage = new CoverageTracker();
  const tallies = policies.map((p) => new PolicyTally(p.name, truth.ids.length, expected, coverage));
  const every = Math.max(1, Math.ceil(expected / (options.maxSteps ?? 2000)));
  const series = new SeriesRecorder(every, policies.length);
  const battery = batterySettings(options.device, options.battery);
  const capacityJ = battery.capacityJ;
  const batteries = capacityJ === null ? null : policies.map(() => new Battery({ ...battery, capacityJ }, s.start));
  const busyUntil = new Float64Array(policies.length);
  const spent = new Float64Array(policies.length);
  const choices = new Int32Array(policies.length);
  const made: PolicyChoice[] = new Array(policies.length);
  const radio = radioContext(options.device, s.radio);
  const rttSd = s.rttMs * s.rttCv;
  // A lognormal round trip with mean rttMs and coefficient of variation rttCv.
  const rttSigma = Math.sqrt(Math.log(1 + s.rttCv * s.rttCv));
  // One context object per policy, refilled per request (only battery fields differ between them).
  const contexts: DecisionContext[] = policies.map(() => ({
    time: 0,
    powerSource: 'ac',
    rttMs: { mean: s.rttMs, sd: rttSd },
    uplinkBps: prior,
    serverQueueDepth: 0,
    deviceIntensityGPerKwh: 0,
    serverIntensityGPerKwh: 0,
    devicePowerW: s.devicePowerW,
    radio,
    serverPowerW: s.serverPowerW,
    serverPue: s.serverPue,
  }));
  const streams = {
    arrivals: uniformStream('arrivals', s.seed),
    queue: uniformStream('queue', s.seed),
    head: new NormalStream('head', s.seed),
    tail: new NormalStream('tail', s.seed),
    rtt: new NormalStream('rtt', s.seed),
  };
  const world: RequestWorld = { traceTimeMs: 0, zHead: 0, zTail: 0, rttMs: 0, queue: 0, serviceMs: s.serviceMs, deviceIntensity: 0, serverIntensity: 0 };
  const record: RequestRecord = {
    index: 0,
    time: 0,
    candidates: truth.ids,
    outcomes: { latencyMs: truth.latencyMs, carbonG: truth.carbonG, deviceJ: truth.deviceJ },
    choices,
    oracle: 0,
    sloMs: s.sloMs,
  };
  const progressEvery = options.progressEvery ?? 1000;
  let outcomesMs = 0;
  let oracleCarbonG = 0;
  let n = 0;
  let t = s.start + (s.arrivals === 'fixed' ? 0 : exponential(streams.arrivals(), perMinuteGap));
  let sample: Omit<SimulationStep, 'policies' | 'requests'> | undefined;

  while (t < s.end) {
    const drawn = performance.now();
    const traceTime = t - s.start + s.networkOffsetMs;
    upEstimate.probe(traceTime);
    downEstimate?.probe(traceTime);
    const di = deviceTrack.indexAt(t);
    const si = serverTrack.indexAt(t);
    const rho = utilisationAt(load, s.start, t);
    world.traceTimeMs = traceTime;
    world.queue = queueLength(rho, streams.queue());
    world.zHead = streams.head.next();
    world.zTail = streams.tail.next();
    world.rttMs = s.rttMs * Math.exp(rttSigma * streams.rtt.next() - (rttSigma * rttSigma) / 2);
    world.deviceIntensity = deviceTrack.truth[di]!;
    world.serverIntensity = serverTrack.truth[si]!;
    truth.draw(world);
    if (siteWorld) {
      siteWorld.update(t);
      siteWorld.apply(truth);
    }
    capWorld?.apply(truth, world.serverIntensity, world.queue);
    const best = oracle.pick(truth);
    oracleCarbonG += truth.carbonG[best]!;
    const uplinkSeen = upEstimate.estimate();
    const downlinkSeen = downEstimate?.estimate();
    outcomesMs += performance.now() - drawn;

    for (let p = 0; p < policies.length; p += 1) {
      const policy = policies[p]!;
      const ctx = contexts[p]!;
      ctx.time = t;
      ctx.uplinkBps = uplinkSeen;
      if (downlinkSeen) ctx.downlinkBps = downlinkSeen;
      ctx.serverQueueDepth = rho / (1 - rho);
      ctx.deviceIntensityGPerKwh = deviceTrack.seen[di]!;
      ctx.serverIntensityGPerKwh = serverTrack.seen[si]!;
      if (siteWorld) ctx.sites = siteWorld.conditions;
      const seen = truths[p]!;
      if (seen !== truth) {
        ctx.serverPowerW = capWorld!.reportedPowerW;
      }
      const b = batteries?.[p];
      if (b) {
        b.advance(t);
        ctx.powerSource = b.isPlugged ? 'ac' : 'battery';
        ctx.batteryPercent = b.percent;
        ctx.charging = b.isPlugged && b.percent < 100;
      }
      const clock = performance.now();
      const choice = policy === oracle ? { index: best, interval: null, explored: false, sloUnmet: false } : policy.choose(ctx, seen);
      policy.learn(ctx, choice, seen);
      spent[p] += performance.now() - clock;
      const k = choice.index;
      if (seen !== truth) capWorld!.count(k);
      const tally = tallies[p]!;
      tally.add(k, seen, s.sloMs, choice.interval);
      siteTallies?.[p]!.add(k, seen);
      if (choice.explored) tally.explored += 1;
      if (choice.sloUnmet) tally.sloUnmet += 1;
      if (busyUntil[p]! > t) {
        tally.waited += 1;
        tally.waitMs += busyUntil[p]! - t;
      }
      busyUntil[p] = Math.max(t, busyUntil[p]!) + seen.headMs[k]!;
      const ledger = ledgers?.[p];
      if (ledger) {
        const over = ledger.remaining(t) < 0;
        ledger.record(seen.carbonG[k]!, t);
        if (!over && ledger.remaining(t) < 0) periodsOver[p] += 1;
      }
      if (b) {
        b.drain(seen.deviceJ[k]!);
        if (b.percent < tally.batteryMin) tally.batteryMin = b.percent;
      }
      series.add(p, seen.carbonG[k]!, seen.latencyMs[k]!, s.sloMs, choice.interval);
      choices[p] = k;
      made[p] = choice;
    }

    if (options.onRequest) {
      record.index = n;
      record.time = t;
      record.oracle = best;
      options.onRequest(record);
    }
    n += 1;
    sample = {
      index: n - 1,
      time: t,
      deviceIntensity: world.deviceIntensity,
      deviceIntensitySeen: deviceTrack.seen[di]!,
      serverIntensity: world.serverIntensity,
      serverIntensitySeen: serverTrack.seen[si]!,
      uplinkBps: capacityAt(uplink, traceTime),
      uplinkSeenBps: uplinkSeen.mean,
      serverQueue: world.queue,
      oracle: truth.ids[best]!,
    };
    if (series.tick()) closeStep(series, sample, policies, tallies, made, truths, s.sloMs, batteries);
    if (options.onProgress && n % progressEvery === 0) options.onProgress(n, expected);
    t = s.arrivals === 'fixed' ? s.start + n * perMinuteGap : t + exponential(streams.arrivals(), perMinuteGap);
  }
  if (sample && series.pending) closeStep(series, sample, policies, tallies, made, truths, s.sloMs, batteries);
  options.onProgress?.(n, expected);

  const results = tallies.map((tally, p) =>
    tally.result(candidates, oracleCarbonG, capacityJ === null ? null : { capacityJ, endPercent: batteries![p]!.percent }),
  );
  fillReductions(results);
  return {
    settings: s,
    requests: n,
    policies: results,
    oracleCarbonG,
    ...(fixedVariant ? { fixedVariant } : {}),
    ...(capWorld && policies.some((p) => p.name === 'carboncp-power-cap') ? { powerCap: capWorld.result() } : {}),
    ...(siteWorld ? { sites: { names: siteWorld.names, singleSite: siteSettings!.singleSite, policies: Object.fromEntries(policies.map((p, i) => [p.name, siteTallies![i]!.result()])) } } : {}),
    steps: series.steps,
    ...(budgetSettings && ledgers
      ? {
          budget: {
            grams: budgetSettings.grams,
            periodHours: budgetSettings.periodHours,
            periods: Math.ceil((s.end - s.start) / (budgetSettings.periodHours * 3_600_000) - 1e-9),
            policies: Object.fromEntries(
              policies.map((policy, p) => {
                const state = ledgers[p]!.toJSON();
                return [policy.name, { spentG: state.totalSpentG, overspendG: state.overspendG, periodsOverspent: periodsOver[p]! }];
              }),
            ),
          },
        }
      : {}),
    timing: { totalMs: performance.now() - began, outcomesMs, policies: Object.fromEntries(policies.map((p, i) => [p.name, spent[i]!])) },
  };
}

/** The power-cap world of a run with POWER_CAP_POLICIES; they need options.powerCap and a single server (no sites). */
function powerCapWorld(options: SimulationOptions, candidates: readonly DecisionCandidate[], settings: OutcomeSettings): PowerCapWorld {
  if (!options.powerCap) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `policies ${POWER_CAP_POLICIES.join(', ')} need a power cap (SimulationOptions.powerCap: a published curve)`);
  if (options.sites) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `policies ${POWER_CAP_POLICIES.join(', ')} model one server; they do not run with sites`);
  return new PowerCapWorld(options.powerCap, candidates, settings);
}

/** An exponential gap with mean `mean` from a uniform draw in [0, 1). */
function exponential(u: number, mean: number): number {
  return -Math.log(1 - u) * mean;
}

/** The step sample: the last request's choices, with the buckets and running totals of every policy. */
function closeStep(
  series: SeriesRecorder,
  sample: Omit<SimulationStep, 'policies' | 'requests'>,
  policies: readonly SimPolicy[],
  tallies: readonly PolicyTally[],
  made: readonly PolicyChoice[],
  truths: readonly Outcomes[],
  sloMs: number,
  batteries: readonly Battery[] | null,
): void {
  series.sample(sample, (p, bucket) => {
    const k = made[p]!.index;
    const tally = tallies[p]!;
    const truth = truths[p]!;
    return {
      policy: policies[p]!.name,
      candidate: truth.ids[k]!,
      latencyMs: truth.latencyMs[k]!,
      carbonG: truth.carbonG[k]!,
      sloMet: truth.latencyMs[k]! <= sloMs,
      interval: made[p]!.interval,
      bucket,
      cumulativeCarbonG: tally.carbonG,
      cumulativeCoverage: tally.judged ? tally.covered / tally.judged : null,
      batteryPercent: batteries ? batteries[p]!.percent : null,
    };
  });
}

/** The site policies' settings, defaults filled in (see SiteOptions). */
function resolveSiteOptions(options: SimulationOptions, world: SiteWorld): { waterWeight: number; equityCap: number; equityStep: number; singleSite: string } {
  const o = options.siteOptions ?? {};
  const waterWeight = o.waterWeight ?? 0;
  const singleSite = o.singleSite ?? world.bestInHindsight(waterWeight);
  if (!world.names.includes(singleSite)) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `singleSite '${singleSite}' is not one of the sites (${world.names.join(', ')})`);
  return { waterWeight, equityCap: o.equityCap ?? Math.min(1, 1.5 / world.names.length), equityStep: o.equityStep ?? 0.5, singleSite };
}
