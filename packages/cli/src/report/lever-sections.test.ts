/**
 * The report's lever sections: each present exactly when its policies ran, its baseline first,
 * and every number in its table the record's (as the report prints it).
 */
import { readFileSync } from 'node:fs';
import type { DecisionCandidate } from '@carboncp/calibrator';
import { parseGpuPowerCapCurves, type SiteSeries } from '@carboncp/carbon';
import { simulate, type SimulationResult } from '@carboncp/sim';
import { describe, expect, it } from 'vitest';
import { HOUR_MS, START, candidate, fixed, handWorld } from '../../../sim/src/sim.test-support.js';
import { formatNumber, renderHtmlReport } from './html-report.js';
import { leverSections, savedPct } from './lever-sections.js';
import { simulationReport } from './simulation-report.js';

const curves = parseGpuPowerCapCurves(JSON.parse(readFileSync(new URL('../../../carbon/data/gpu-power-caps.json', import.meta.url), 'utf8')));
const of = (variant: string, quality: number) => (c: DecisionCandidate): DecisionCandidate => ({ ...c, id: `${c.id}/${variant}`, variant, quality });
const FAMILY = [of('a', 72)(candidate('device/none', 'device', fixed(50), fixed(0), 0)), of('b', 76)(candidate('server/none', 'server', fixed(0), fixed(10), 1000))];
const site = (name: string, intensity: number): SiteSeries => ({ site: name, startMs: START - HOUR_MS, stepMs: HOUR_MS, carbonGPerKwh: Array(6).fill(intensity), wueLPerKwh: Array(6).fill(1), priceUsdPerMwh: Array(6).fill(0) });
const CONTEXT = { model: 'm', device: 'd', deviceZone: 'DEV', serverZone: 'SRV', uplink: 'u', hours: 4, perMinute: 1, sloMs: 200, alpha: 0.1, seed: 1, serverPowerW: 10, headNote: 'heads as profiled', radio: 'wifi', outputNote: 'outputs 0 B' };

const levers = simulate(
  handWorld({
    candidates: FAMILY,
    minQuality: 70,
    budget: { grams: 5e-5, periodHours: 1 },
    powerCap: { curve: curves.curves[0]! },
    serverCarbon: handWorld().deviceCarbon,
    policies: ['best-fixed-variant', 'carboncp-variants', 'greedy-spender', 'carboncp-paced', 'server-uncapped', 'carboncp-power-cap'],
  }),
);
const sited = simulate(handWorld({ sites: [{ series: site('A', 300) }, { series: site('B', 100), rttMs: 10 }], policies: ['single-site', 'carboncp-sites', 'carboncp-sites-equity'] }));

/** The rows of the section's table, as rendered: cells in order, text as the report prints it. */
function renderedRows(html: string, title: string): string[][] {
  const at = html.indexOf(`<h2>${title.replace(/'/g, '&#39;')}</h2>`);
  expect(at, title).toBeGreaterThan(0);
  const table = html.slice(at, html.indexOf('</table>', at));
  return [...table.matchAll(/<tr>(.*?)<\/tr>/g)].map((m) => [...m[1]!.matchAll(/<td>(.*?)<\/td>/g)].map((c) => c[1]!)).filter((r) => r.length > 0);
}

const record = (r: SimulationResult, name: string) => r.policies.find((p) => p.policy === name)!;

describe('the lever sections of the simulate report', () => {
  it('one per lever that ran, none otherwise', () => {
    expect(leverSections(levers).map((s) => s.title.split(' (')[0])).toEqual(['Lever: model variants', 'Lever: carbon budget', 'Lever: GPU power caps on the server']);
    expect(leverSections(sited).map((s) => s.title.split(' (')[0])).toEqual(['Lever: several sites']);
    expect(leverSections(simulate(handWorld({ policies: ['device', 'server', 'oracle'] })))).toEqual([]);
  });

  it('prints each policy\'s record, its baseline first, and what the lever saved against it', async () => {
    const html = await renderHtmlReport(simulationReport(levers, CONTEXT));
    const sections = leverSections(levers);
    const power = renderedRows(html, sections[2]!.title);
    const [free, capped] = [record(levers, 'server-uncapped'), record(levers, 'carboncp-power-cap')];
    expect(power.map((r) => r[0])).toEqual(['server-uncapped', 'carboncp-power-cap']);
    const numbers = [capped.carbonG, savedPct(free.carbonG, capped.carbonG), 100 * capped.sloViolationRate, capped.p95LatencyMs, capped.serverJ, savedPct(free.serverJ, capped.serverJ), capped.carbonBySide.server];
    expect(power[1]).toEqual(['carboncp-power-cap', ...numbers.map(formatNumber)]);
    expect(html).toContain('no GPU ran it here');
    const budget = renderedRows(html, sections[1]!.title);
    expect(budget.map((r) => r[0])).toEqual(['greedy-spender', 'carboncp-paced']);
    for (const row of budget) {
      const spending = levers.budget!.policies[row[0]!]!;
      expect(row.slice(5, 8)).toEqual([spending.spentG, spending.overspendG, spending.periodsOverspent].map(formatNumber));
      expect(row[1]).toBe(formatNumber(record(levers, row[0]!).carbonG));
    }
    const variants = renderedRows(html, sections[0]!.title);
    expect(variants.map((r) => r[0])).toEqual(['best-fixed-variant', 'carboncp-variants']);
    expect(variants[0]![2]).toBe('0');
    expect(variants[1]![2]).toBe(formatNumber(savedPct(record(levers, 'best-fixed-variant').carbonG, record(levers, 'carboncp-variants').carbonG)));
    expect(html).toContain(`ran &#39;${levers.fixedVariant!.variant}&#39;`);
  });

  it('the sites section: water, the worst share and requests lost per policy', async () => {
    const html = await renderHtmlReport(simulationReport(sited, CONTEXT));
    const rows = renderedRows(html, leverSections(sited)[0]!.title);
    expect(rows.map((r) => r[0])).toEqual(['single-site', 'carboncp-sites', 'carboncp-sites-equity']);
    for (const row of rows) {
      const s = sited.sites!.policies[row[0]!]!;
      expect(row.slice(5)).toEqual([s.waterL, 100 * s.maxShare, s.onDevice, s.lost].map(formatNumber));
    }
  });
});
