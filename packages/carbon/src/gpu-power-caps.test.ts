import { readFileSync } from 'node:fs';
import { isCarboncpError } from '@carboncp/protocol';
import { describe, expect, it } from 'vitest';
import { parseGpuPowerCapCurves, powerCapEffect, type PowerCapCurve } from './gpu-power-caps.js';

const raw = JSON.parse(readFileSync(new URL('../data/gpu-power-caps.json', import.meta.url), 'utf8')) as Record<string, any>;

function code(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    return isCarboncpError(error) ? error.code : String(error);
  }
  return undefined;
}

describe('GPU power cap curves (data/gpu-power-caps.json)', () => {
  it('reads the shipped curves, each point sourced, the baseline first', () => {
    const doc = parseGpuPowerCapCurves(raw);
    expect(doc.curves.map((c) => c.id)).toEqual(['v100-language-model-training-mcdonald-2022', 'rtx-5060-ti-llm-decode-inventivehq']);
    const v100 = doc.curves[0];
    expect(v100.points.map((p) => [p.capW.value, p.timeRatio.value, p.energyRatio.value])).toEqual([
      [250, 1, 1],
      [150, 1.068, 0.863],
    ]);
    // The derived ratios are what their `how` says, from the published percentages and rows.
    expect(v100.points[1].timeRatio.value).toBeCloseTo(1 + 0.068, 12);
    expect(v100.points[1].energyRatio.value).toBeCloseTo(1 - 0.137, 12);
    const rtx = doc.curves[1].points;
    expect(rtx[1].energyRatio.value).toBeCloseTo((159.3 * 81.2) / (172.7 * 81.4), 5);
    expect(rtx[2].timeRatio.value).toBeCloseTo(81.2 / 80.4, 5);
    expect(rtx[2].energyRatio.value).toBeCloseTo((147.2 * 81.2) / (172.7 * 80.4), 5);
    for (const curve of doc.curves) for (const p of curve.points) for (const q of [p.capW, p.timeRatio, p.energyRatio]) expect(q.source.length).toBeGreaterThan(10);
  });

  it('gives the published point, or linear between two, and never extrapolates', () => {
    const v100 = parseGpuPowerCapCurves(raw).curves[0] as PowerCapCurve;
    expect(powerCapEffect(v100, 150)).toEqual({ timeRatio: 1.068, energyRatio: 0.863, how: 'published point at 150 W' });
    expect(powerCapEffect(v100, 250)).toMatchObject({ timeRatio: 1, energyRatio: 1 });
    // 200 W is halfway: (1 + 1.068) / 2 and (1 + 0.863) / 2.
    const mid = powerCapEffect(v100, 200);
    expect(mid.timeRatio).toBeCloseTo(1.034, 12);
    expect(mid.energyRatio).toBeCloseTo(0.9315, 12);
    expect(mid.how).toBe('linear between the published points at 150 and 250 W (a model)');
    expect(code(() => powerCapEffect(v100, 100))).toBe('CARBONCP_INVALID_ARGUMENT');
    expect(code(() => powerCapEffect(v100, 300))).toBe('CARBONCP_INVALID_ARGUMENT');
    const unknown = structuredClone(v100);
    unknown.points[1].timeRatio = { value: null, unit: 'ratio', kind: 'unknown', source: 'nobody printed it' };
    expect(code(() => powerCapEffect(unknown, 150))).toBe('CARBONCP_DEVICE_PROFILE_INCOMPLETE');
  });

  it('refuses a curve that breaks the rules, naming the field', () => {
    const broken = (mutate: (doc: Record<string, any>) => void): string => {
      const doc = structuredClone(raw);
      mutate(doc);
      try {
        parseGpuPowerCapCurves(doc);
      } catch (error) {
        expect(isCarboncpError(error, 'CARBONCP_BAD_DEVICE_PROFILE')).toBe(true);
        return (error as Error).message;
      }
      return 'accepted';
    };
    expect(broken((d) => (d.curves[0].points[1].energyRatio.source = 'x'))).toMatch(/curves\[0\]\.points\[1\]\.energyRatio\.source must be a string of at least 10 characters/);
    expect(broken((d) => delete d.curves[0].points[1].timeRatio.how)).toMatch(/curves\[0\]\.points\[1\]\.timeRatio\.how/);
    expect(broken((d) => (d.curves[0].points[0].timeRatio.value = 1.1))).toMatch(/curves\[0\]\.points\[0\] must be the baseline: the default limit \(250 W\) with both ratios 1/);
    expect(broken((d) => d.curves[1].points.reverse())).toMatch(/curves\[1\]\.points\[0\] must be the baseline/);
    expect(broken((d) => (d.curves[1].points[2].capW.value = 170))).toMatch(/curves\[1\]\.points\[2\]\.capW must be below the cap before it/);
    expect(broken((d) => (d.curves[1].id = d.curves[0].id))).toMatch(/curves\[1\]\.id '.*' appears twice/);
    expect(broken((d) => (d.curves[0].points[1].capW.unit = 'kW'))).toMatch(/capW\.unit must be 'W'/);
    expect(broken((d) => (d.schemaVersion = 2))).toMatch(/schemaVersion must be 1/);
    expect(broken((d) => (d.curves[0].extra = 1))).toMatch(/curves\[0\]\.extra is not a known field/);
  });
});

describe('loadGpuPowerCapCurves (node)', () => {
  it('reads the shipped file, and refuses a missing one', async () => {
    const { loadGpuPowerCapCurves } = await import('./node/gpu-power-caps-file.js');
    const shipped = await loadGpuPowerCapCurves();
    expect(shipped.curves.map((c) => c.id)).toEqual(raw.curves.map((c: { id: string }) => c.id));
    await expect(loadGpuPowerCapCurves('/nonexistent/gpu-power-caps.json')).rejects.toThrow(/cannot read GPU power-cap curves/);
  });
});
