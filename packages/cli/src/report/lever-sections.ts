/**
 * The report's section per lever of issue #11 (model variants, the carbon budget, several sites
 * with and without the equity cap, GPU power caps), each only when its policies ran, each with
 * its baseline and what the lever saves against it (100 x (baseline - lever) / baseline).
 */
import type { PolicyResult, SimulationResult } from '@carboncp/sim';
import type { ReportSection, ReportTable } from './html-report.js';

const WIDTH = 600;
const HEIGHT = 160;

/** 100 x (baseline - value) / baseline: > 0, the lever spent less. */
export function savedPct(baseline: number, value: number): number {
  return baseline > 0 ? (100 * (baseline - value)) / baseline : 0;
}

function carbonChart(rows: readonly PolicyResult[]): ReportSection['chart'] {
  return {
    width: WIDTH,
    height: HEIGHT,
    data: { values: rows.map((p) => ({ policy: p.policy, carbonG: p.carbonG })) },
    mark: 'bar',
    encoding: { y: { field: 'policy', type: 'nominal', sort: null, title: null }, x: { field: 'carbonG', type: 'quantitative', title: 'g CO2e over the run' } },
  };
}

function pick(result: SimulationResult, names: readonly string[]): PolicyResult[] {
  return names.map((n) => result.policies.find((p) => p.policy === n)).filter((p): p is PolicyResult => p !== undefined);
}

/** A lever's table: its baseline first, then the lever's policies, each with what it saves against the baseline. */
function leverTable(rows: readonly PolicyResult[], baseline: PolicyResult, extra: { columns: string[]; cells: (p: PolicyResult) => (string | number)[] }): ReportTable {
  return {
    columns: ['policy', 'carbon g', `saved vs ${baseline.policy} %`, 'SLO violations %', 'p95 latency ms', ...extra.columns],
    rows: rows.map((p) => [p.policy, p.carbonG, savedPct(baseline.carbonG, p.carbonG), 100 * p.sloViolationRate, p.p95LatencyMs, ...extra.cells(p)]),
  };
}

export function leverSections(result: SimulationResult): ReportSection[] {
  const sections: ReportSection[] = [];
  const variants = pick(result, ['best-fixed-variant', 'carboncp-variants']);
  if (variants.length === 2) {
    sections.push({
      title: 'Lever: model variants (Clover-style switching against the best fixed variant)',
      caption: `Baseline: best-fixed-variant ran '${result.fixedVariant?.variant ?? '?'}' for the whole run (the least carbon within the SLO miss rate, in hindsight); carboncp-variants chose variant x cut per request.`,
      table: leverTable(variants, variants[0]!, { columns: ['mean quality'], cells: (p) => [p.meanQuality ?? '-'] }),
      chart: carbonChart(variants),
    });
  }
  const budget = result.budget;
  const budgeted = pick(result, ['greedy-spender', 'carboncp-paced']);
  if (budget && budgeted.length === 2) {
    sections.push({
      title: 'Lever: carbon budget (pacing against a greedy spender)',
      caption: `A budget of ${budget.grams} g per ${budget.periodHours} h (${budget.periods} periods). Baseline: greedy-spender spends first-come; carboncp-paced paces the budget over the grid's forecast. Overspend: grams beyond a period's budget, summed over the periods.`,
      table: leverTable(budgeted, budgeted[0]!, {
        columns: ['spent g', 'overspend g', 'periods overspent', 'mean quality'],
        cells: (p) => [budget.policies[p.policy]!.spentG, budget.policies[p.policy]!.overspendG, budget.policies[p.policy]!.periodsOverspent, p.meanQuality ?? '-'],
      }),
      chart: carbonChart(budgeted),
    });
  }
  const sites = result.sites;
  const sited = pick(result, ['single-site', 'carboncp-sites', 'carboncp-sites-equity']);
  if (sites && sited.length >= 2 && sited[0]!.policy === 'single-site') {
    sections.push({
      title: 'Lever: several sites (single site against per-request choice, with and without the equity cap)',
      caption: `Baseline: single-site ran at ${sites.singleSite} (the best in hindsight), another site only while it was down. carboncp-sites chose the site per request by carbon, weighted water and latency; carboncp-sites-equity also capped the worst site's share of the footprint. Lost: requests sent to a site while it was down.`,
      table: leverTable(sited, sited[0]!, {
        columns: ['water L', 'worst site share %', 'on device', 'lost'],
        cells: (p) => [sites.policies[p.policy]!.waterL, 100 * sites.policies[p.policy]!.maxShare, sites.policies[p.policy]!.onDevice, sites.policies[p.policy]!.lost],
      }),
      chart: carbonChart(sited),
    });
  }
  const cap = result.powerCap;
  const capped = pick(result, ['server-uncapped', 'carboncp-power-cap']);
  if (cap && capped.length === 2) {
    sections.push({
      title: 'Lever: GPU power caps on the server (modelled; no GPU ran it here)',
      caption: `Modelled from the published curve '${cap.curve}' (default ${cap.defaultW} W), interpolated between its points. Baseline: server-uncapped, the same decision at the default limit. carboncp-power-cap ran at ${cap.mode === 'auto' ? "the server's own policy (by its grid's intensity and queue)" : `a fixed ${cap.mode} W`}: a mean cap of ${cap.meanCapW.toFixed(0)} W, ${(100 * cap.cappedShare).toFixed(0)}% of its tails under a cap.`,
      table: leverTable(capped, capped[0]!, {
        columns: ['server J', 'server J saved %', 'server g'],
        cells: (p) => [p.serverJ, savedPct(capped[0]!.serverJ, p.serverJ), p.carbonBySide.server],
      }),
      chart: carbonChart(capped),
    });
  }
  return sections;
}
