import type { SimulationResult } from '@carboncp/sim';
import type { SimulationContext } from '../commands/simulate.js';
import type { HtmlReport } from './html-report.js';
import { leverSections } from './lever-sections.js';

const WIDTH = 900;
const HEIGHT = 260;
const CARBONCP = 'carboncp-robust';

/** The simulate report: the charts the issue asks for, from the result's per-step series. */
export function simulationReport(result: SimulationResult, c: SimulationContext): HtmlReport {
  const steps = result.steps;
  const time = (t: number) => new Date(t).toISOString();
  const intensity = steps.flatMap((s) => [
    { time: time(s.time), series: `device grid (${c.deviceZone})`, gPerKwh: s.deviceIntensity },
    { time: time(s.time), series: `server grid (${c.serverZone})`, gPerKwh: s.serverIntensity },
  ]);
  const featured = result.policies.some((p) => p.policy === CARBONCP) ? CARBONCP : result.policies[0]?.policy;
  const chosen = steps.map((s) => {
    const p = s.policies.find((q) => q.policy === featured)!;
    return { time: time(s.time), cut: p.candidate, gPerKwh: s.deviceIntensity };
  });
  const perPolicy = (value: (p: SimulationResult['steps'][number]['policies'][number]) => number | null) =>
    steps.flatMap((s) => s.policies.map((p) => ({ time: time(s.time), policy: p.policy, value: value(p) })).filter((d) => d.value !== null));
  const x = { field: 'time', type: 'temporal' as const, title: 'time (UTC)' };
  const fixed = result.policies.filter((p) => p.policy === 'device' || p.policy === 'server');
  const bestFixed = fixed.length ? Math.min(...fixed.map((p) => p.carbonG)) : Number.NaN;
  return {
    title: `carboncp simulate: ${c.model} on ${c.device}`,
    subtitle: [
      `${result.requests} requests over ${c.hours} h at ${c.perMinute}/min; SLO ${c.sloMs} ms, alpha ${c.alpha}, seed ${c.seed}.`,
      `Grids: device ${c.deviceZone}, server ${c.serverZone}. Uplink: ${c.uplink} (${c.radio} radio). Server: ${c.serverPowerW} W per tail. ${c.headNote}; ${c.outputNote}.`,
      'Every policy met the same requests and the same true outcomes; the oracle knew them in advance.',
    ],
    table: {
      columns: ['policy', 'carbon g', 'device g', 'network g', 'server g', 'vs best fixed %', 'SLO violations %', 'device J', 'battery drain %', 'regret %', 'coverage %', 'p95 latency ms'],
      rows: result.policies.map((p) => [
        p.policy,
        p.carbonG,
        p.carbonBySide.device,
        p.carbonBySide.network,
        p.carbonBySide.server,
        Number.isFinite(bestFixed) ? (100 * (bestFixed - p.carbonG)) / bestFixed : '-',
        100 * p.sloViolationRate,
        p.deviceJ,
        p.batteryDrainPct ?? '-',
        p.regretPct,
        p.coverage === null ? '-' : 100 * p.coverage,
        p.p95LatencyMs,
      ]),
    },
    sections: [
      {
        title: 'Carbon intensity, and the cut carboncp chose',
        caption: `Lines: the two grids' intensity. Points: the candidate ${featured} chose at each sampled request, on the device grid's line.`,
        chart: {
          width: WIDTH,
          height: HEIGHT,
          layer: [
            { data: { values: intensity }, mark: 'line', encoding: { x, y: { field: 'gPerKwh', type: 'quantitative', title: 'gCO2e/kWh' }, color: { field: 'series', type: 'nominal', title: 'grid' } } },
            { data: { values: chosen }, mark: { type: 'point', filled: true, size: 25 }, encoding: { x, y: { field: 'gPerKwh', type: 'quantitative' }, shape: { field: 'cut', type: 'nominal', title: 'chosen' } } },
          ],
          resolve: { scale: { color: 'independent' } },
        },
      },
      {
        title: 'Cumulative carbon per policy',
        chart: { width: WIDTH, height: HEIGHT, data: { values: perPolicy((p) => p.cumulativeCarbonG) }, mark: 'line', encoding: { x, y: { field: 'value', type: 'quantitative', title: 'g CO2e since the start' }, color: { field: 'policy', type: 'nominal' } } },
      },
      {
        title: 'Latency against the SLO',
        caption: `Each sampled request's true latency per policy; the rule is the ${c.sloMs} ms SLO.`,
        chart: {
          width: WIDTH,
          height: HEIGHT,
          layer: [
            { data: { values: perPolicy((p) => p.latencyMs) }, mark: { type: 'point', size: 10 }, encoding: { x, y: { field: 'value', type: 'quantitative', title: 'latency (ms)', scale: { type: 'log' } }, color: { field: 'policy', type: 'nominal' } } },
            { data: { values: [{ slo: c.sloMs }] }, mark: { type: 'rule', color: 'black', strokeDash: [4, 4] }, encoding: { y: { field: 'slo', type: 'quantitative' } } },
          ],
        },
      },
      {
        title: 'Interval coverage over time',
        caption: `Share of requests so far whose true latency fell inside the interval predicted for the chosen candidate (carboncp modes); the target is ${(100 * (1 - c.alpha)).toFixed(0)}%.`,
        chart: {
          width: WIDTH,
          height: HEIGHT,
          layer: [
            { data: { values: perPolicy((p) => p.cumulativeCoverage) }, mark: 'line', encoding: { x, y: { field: 'value', type: 'quantitative', title: 'coverage', scale: { domain: [0.5, 1] } }, color: { field: 'policy', type: 'nominal' } } },
            { data: { values: [{ target: 1 - c.alpha }] }, mark: { type: 'rule', color: 'black', strokeDash: [4, 4] }, encoding: { y: { field: 'target', type: 'quantitative' } } },
          ],
        },
      },
      {
        title: 'Battery',
        caption: 'Charge after each sampled request, per policy (the device charges while plugged in).',
        chart: { width: WIDTH, height: HEIGHT, data: { values: perPolicy((p) => p.batteryPercent) }, mark: 'line', encoding: { x, y: { field: 'value', type: 'quantitative', title: 'battery %' }, color: { field: 'policy', type: 'nominal' } } },
      },
      ...leverSections(result),
    ],
  };
}
