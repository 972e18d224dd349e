import { describe, expect, it } from 'vitest';
import type { Plan } from '@carboncp/core';
import { isCarboncpError } from '@carboncp/protocol';
import { EXIT } from '../command.js';
import { capture } from '../testing/cli-fixtures.js';
import type { AutoDemoReport } from './demo-auto.js';
import { chooseCuts, command, formatReport, parseDemoArgs, type DemoModelReport } from './demo.js';

const plan = (id: string, kind: Plan['kind'], bytesPerSample: number): Plan => ({
  id, kind, bytesPerSample, crossing: [], headFlops: 0, tailFlops: 0, headParamBytes: 0, tailParamBytes: 0, headOutputs: [], tailOutputs: [], digest: id,
});

describe('carboncp demo flags', () => {
  it('parses every flag and defaults the tolerance by compression', () => {
    expect(parseDemoArgs([])).toMatchObject({ models: ['resnet18', 'ppocr-cls'], runs: 3, compression: 'none', tol: 1e-4, json: false });
    expect(parseDemoArgs(['--model', 'ppocr-cls', '--cuts', 'server, split-3', '--runs', '2', '--compression', 'int8', '--json'])).toMatchObject({
      models: ['ppocr-cls'], cuts: ['server', 'split-3'], runs: 2, compression: 'int8', tol: 0.5, json: true,
    });
    expect(parseDemoArgs(['--tol', '0.01']).tol).toBe(0.01);
  });

  it.each([
    [['--runs', '0'], /--runs must be an integer/],
    [['--compression', 'gzip'], /--compression must be none, fp16 or int8/],
    [['--model'], /--model needs a value/],
    [['--frobnicate'], /unknown option '--frobnicate'/],
    [['--tol', '-1'], /--tol must be a non-negative number/],
  ])('rejects %j', (args, pattern) => {
    let error: unknown;
    try {
      parseDemoArgs(args as string[]);
    } catch (e) {
      error = e;
    }
    expect(isCarboncpError(error, 'CARBONCP_USAGE')).toBe(true);
    expect((error as Error).message).toMatch(pattern);
  });

  it('chooses server, three spread splits that send less than the input, and device', () => {
    const plans = [plan('server', 'server', 1000), ...Array.from({ length: 20 }, (_, i) => plan(`split-${i + 1}`, 'split', i < 4 ? 4000 : 500)), plan('device', 'device', 0)];
    const cuts = chooseCuts(plans);
    expect(cuts[0]).toBe('server');
    expect(cuts.at(-1)).toBe('device');
    expect(cuts).toHaveLength(5);
    for (const id of cuts.slice(1, -1)) expect(Number(id.slice(6))).toBeGreaterThan(4);
  });
});

describe('carboncp demo report', () => {
  const report = (sizes: number[]): DemoModelReport => ({
    model: 'toy',
    file: '/models/toy.onnx',
    inputShapes: { x: [1, 3, 8, 8] },
    inputBytes: 4096,
    splits: sizes.length + 2,
    worthShipping: sizes.map((bytesPerSample, i) => ({ id: `split-${i + 1}`, bytesPerSample })),
    rows: [],
  });

  it('names the cheapest cuts that send less than the input, smallest first, at most six', () => {
    const text = formatReport(report([512, 256, 700, 128, 640, 384, 200, 600]), 1e-4);
    expect(text).toContain(
      '10 split cuts, 8 send less than the input; cheapest: split-4 128 B, split-7 200 B, split-2 256 B, split-6 384 B, split-1 512 B, split-8 600 B, …',
    );
  });

  it('lists them all without an ellipsis when there are few (bytes below 1 KiB as B), and none when no cut is cheaper than the input', () => {
    expect(formatReport(report([3072, 100]), 1e-4)).toContain('2 send less than the input; cheapest: split-2 100 B, split-1 3.0 KiB\n');
    expect(formatReport(report([]), 1e-4)).toMatch(/2 split cuts, 0 send less than the input\n/);
  });
});

describe('carboncp demo run', () => {
  it('serves ppocr-cls, runs the chosen cuts split over ws and matches local inference', async () => {
    const io = capture();
    const code = await command.run(['--model', 'ppocr-cls', '--runs', '1', '--auto-steps', '0', '--json'], io);
    const report = JSON.parse(io.stdout.join('\n')) as { ok: boolean; models: { model: string; splits: number; rows: { cut: string; path: string; maxAbsDiff: number; bytesUp: number }[] }[] };
    expect(code, io.stderr.join('\n')).toBe(EXIT.OK);
    expect(report.ok).toBe(true);
    const [model] = report.models;
    expect(model.model).toBe('ppocr-cls');
    expect(model.splits).toBeGreaterThan(3);
    expect(model.rows.map((r) => r.cut)[0]).toBe('server');
    expect(model.rows.map((r) => r.path)).toEqual(['remote', 'split', 'split', 'split', 'local']);
    for (const row of model.rows) expect(row.maxAbsDiff).toBeLessThanOrEqual(1e-4);
    expect(model.rows[0].bytesUp).toBeGreaterThan(3 * 48 * 192 * 4);
    expect(model.rows.at(-1)?.bytesUp).toBe(0);
  });

  it("auto section: every request decided, on the demo's candidates, with intervals and coverage", async () => {
    const io = capture();
    const code = await command.run(['--model', 'ppocr-cls', '--runs', '1', '--cuts', 'device', '--auto-steps', '4', '--json'], io);
    expect(code, io.stderr.join('\n')).toBe(EXIT.OK);
    const { auto } = JSON.parse(io.stdout.join('\n')) as { auto: AutoDemoReport };
    expect(auto.model).toBe('resnet18');
    expect(auto.candidates).toHaveLength(3);
    expect(auto.candidates[0]).toBe('server/none');
    expect(auto.candidates[2]).toBe('device/none');
    expect(auto.steps).toHaveLength(4);
    for (const step of auto.steps) {
      expect(auto.candidates).toContain(`${step.cut}/none`);
      expect(step.latency.observed).toBeGreaterThan(0);
      expect(step.latency.upper).toBeGreaterThanOrEqual(step.latency.lower);
      expect(step.deviceGPerKwh).toBeGreaterThan(0); // from the GB trace, not the fallback
      expect(step.serverGPerKwh).toBeLessThan(step.deviceGPerKwh); // FR's June grid is cleaner than GB's
    }
    expect(auto.steps.map((s) => s.time)).toEqual(['2022-06-01T00:00:00.000Z', '2022-06-01T01:00:00.000Z', '2022-06-01T02:00:00.000Z', '2022-06-01T03:00:00.000Z']);
    expect(auto.coverage.robust!.latencyMs!.n).toBe(4);
    expect(auto.fellBack).toBe(0);
  });

  it('fails with a bad-input error for an unknown cut', async () => {
    const io = capture();
    await expect(command.run(['--model', 'ppocr-cls', '--cuts', 'split-999999'], io)).rejects.toMatchObject({ code: 'CARBONCP_UNKNOWN_PLAN' });
  });
});
