import { readFile } from 'node:fs/promises';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ensureModel, getZooModel } from '@carboncp/models';
import { EXIT } from '../command.js';
import { main } from '../main.js';
import { capture, useTempDir } from '../testing/cli-fixtures.js';

const fixtures = fileURLToPath(new URL('../../../carbon/src/fixtures/', import.meta.url));
const EM = join(fixtures, 'electricitymaps-fr-gb-2022-01-24.csv');
const DE = join(fixtures, 'DE.csv'); // Time,Carbon Intensity layout
const tmp = useTempDir('carboncp-cli-simulate-');

async function run(args: string[]) {
  const io = capture();
  const code = await main(['simulate', ...args], io);
  return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n') };
}

describe('carboncp simulate', () => {
  it('prints one record per policy as JSON and writes a self-contained report', async () => {
    const report = join(tmp.path, 'sim.html');
    const { code, out, err } = await run(['--model', 'ppocr-cls', '--device', 'raspberry-pi-4', '--carbon', EM, '--zone', 'GB', '--server-zone', 'FR', '--hours', '2', '--seed', '3', '--json', '--report', report]);
    expect(code, err).toBe(EXIT.OK);
    expect(err).not.toMatch(/\[simulate\] \[#/); // no progress bar in --json runs
    const records = JSON.parse(out) as { policy: string; carbonG: number; sloViolationRate: number; deviceJ: number; regretG: number; coverage: number | null; requests: number }[];
    const names = records.map((r) => r.policy);
    expect(names).toEqual(expect.arrayContaining(['device', 'server', 'oracle', 'carboncp-robust', 'neurosurgeon']));
    const oracle = records.find((r) => r.policy === 'oracle')!;
    for (const r of records) {
      expect(r.requests).toBe(oracle.requests);
      for (const k of ['carbonG', 'sloViolationRate', 'deviceJ', 'regretG'] as const) expect(Number.isFinite(r[k]), `${r.policy} ${k}`).toBe(true);
      // The oracle loses to nobody that met the SLO at least as often.
      if (r.sloViolationRate <= oracle.sloViolationRate) expect(r.carbonG).toBeGreaterThanOrEqual(oracle.carbonG * (1 - 1e-12));
    }
    expect(records.find((r) => r.policy === 'carboncp-robust')!.coverage).not.toBeNull();
    const html = await readFile(report, 'utf8');
    expect((html.match(/<svg/g) ?? []).length).toBe(5);
    expect(html).not.toMatch(/<script/);
  });

  it('reads a Time,Carbon Intensity file with named columns, and is deterministic under a seed', async () => {
    // One profile for both runs: a model profiled twice is measured twice, and differs.
    const profile = join(tmp.path, 'cls.profile.json');
    const profiled = capture();
    const shapes = Object.entries(getZooModel('ppocr-cls').inputShapes ?? {}).flatMap(([name, dims]) => ['--input-shape', `${name}=${dims.join(',')}`]);
    expect(await main(['profile', await ensureModel('ppocr-cls'), ...shapes, '--runs', '3', '--warmup', '1', '--check-cuts', '0', '--out', profile], profiled), profiled.stderr.join('\n')).toBe(EXIT.OK);
    const args = ['--profile', profile, '--device', 'raspberry-pi-4', '--carbon', DE, '--time-col', 'Time', '--value-col', 'Carbon Intensity', '--hours', '1', '--policies', 'device,server,carboncp-robust,oracle', '--seed', '5', '--json'];
    const a = await run(args);
    expect(a.code, a.err).toBe(EXIT.OK);
    const b = await run(args);
    expect(JSON.parse(b.out)).toEqual(JSON.parse(a.out));
    expect((JSON.parse(a.out) as { policy: string }[]).map((r) => r.policy)).toEqual(['device', 'server', 'carboncp-robust', 'oracle']);

    // The radio and the bytes a tail sends back set what offloading costs the device.
    const serverJ = async (extra: string[]) => {
      const r = await run(['--profile', profile, '--device', 'pixel-4', '--carbon', DE, '--time-col', 'Time', '--value-col', 'Carbon Intensity', '--hours', '1', '--policies', 'server', '--seed', '5', '--json', ...extra]);
      expect(r.code, r.err).toBe(EXIT.OK);
      return (JSON.parse(r.out) as { deviceJ: number; requests: number }[])[0]!;
    };
    const lte = await serverJ([]);
    const wifi = await serverJ(['--radio', 'wifi']);
    const wifiBig = await serverJ(['--radio', 'wifi', '--output-bytes', '1000000']);
    // A Wi-Fi burst's tail (~0.1 J) against LTE's (~11 J) per request.
    expect(wifi.deviceJ / wifi.requests).toBeLessThan(1);
    expect(lte.deviceJ / lte.requests).toBeGreaterThan(10);
    expect(wifiBig.deviceJ).toBeGreaterThan(wifi.deviceJ * 1.5);

    // --budget adds the budget policies and each record's spending against it.
    const budgeted = await run(['--profile', profile, '--device', 'pixel-4', '--carbon', DE, '--time-col', 'Time', '--value-col', 'Carbon Intensity', '--hours', '2', '--policies', 'device,carboncp-paced,greedy-spender,oracle', '--radio', 'wifi', '--budget', '0.001/1', '--seed', '5', '--json']);
    expect(budgeted.code, budgeted.err).toBe(EXIT.OK);
    const records = JSON.parse(budgeted.out) as { policy: string; carbonG: number; budget: { spentG: number; overspendG: number; periodsOverspent: number } }[];
    expect(records.map((r) => r.policy)).toEqual(['device', 'carboncp-paced', 'greedy-spender', 'oracle']);
    for (const r of records) {
      expect(r.budget.spentG, r.policy).toBeCloseTo(r.carbonG, 9);
      expect(r.budget.overspendG).toBeGreaterThanOrEqual(0);
      expect(r.budget.periodsOverspent).toBeLessThanOrEqual(2);
    }
    for (const bad of ['0', 'x', '1/0', '1/', '1/2/3']) expect((await run(['--profile', profile, '--device', 'pixel-4', '--carbon', DE, '--budget', bad])).err, bad).toMatch(/--budget must be GRAMS or GRAMS\/HOURS/);

    // --power-cap adds the modelled power-cap policies: the same decision, the server's energy at the cap.
    // Their decision is carboncp-robust's: on a device 400x slower than this machine it offloads
    // whatever this machine's measured speed (on the measured profile it may stay on the device).
    const slow = JSON.parse(readFileSync(profile, 'utf8')) as { plans: { head: Record<string, number> }[] };
    for (const plan of slow.plans) for (const key of ['medianMs', 'p10Ms', 'p90Ms', 'meanMs']) plan.head[key] = plan.head[key]! * 400;
    const slowProfile = join(tmp.path, 'cls-slow-device.profile.json');
    writeFileSync(slowProfile, JSON.stringify(slow));
    const capped = await run(['--profile', slowProfile, '--device', 'pixel-4', '--carbon', DE, '--time-col', 'Time', '--value-col', 'Carbon Intensity', '--hours', '2', '--radio', 'wifi', '--power-cap', '150', '--policies', 'server,server-uncapped,carboncp-power-cap', '--seed', '5', '--json']);
    expect(capped.code, capped.err).toBe(EXIT.OK);
    const [, free, at150] = JSON.parse(capped.out) as { policy: string; serverJ: number }[];
    expect([free!.policy, at150!.policy]).toEqual(['server-uncapped', 'carboncp-power-cap']);
    expect(free!.serverJ).toBeGreaterThan(0);
    expect(at150!.serverJ).toBeLessThan(free!.serverJ);
    expect((await run(['--profile', profile, '--device', 'pixel-4', '--carbon', DE, '--power-cap', 'lots'])).err).toMatch(/--power-cap must be auto, off or a number of watts/);
    expect((await run(['--profile', profile, '--device', 'pixel-4', '--carbon', DE, '--power-cap', 'auto', '--power-cap-curve', 'nope'])).err).toMatch(/is not a published curve/);
  });

  it('prints a table without --json; refuses bad command lines and inputs', async () => {
    const table = await run(['--model', 'ppocr-cls', '--device', 'raspberry-pi-4', '--carbon', EM, '--zone', 'GB', '--hours', '1', '--policies', 'device,oracle']);
    expect(table.code, table.err).toBe(EXIT.OK);
    expect(table.out).toMatch(/^policy +carbon g/m);
    expect(table.out).toMatch(/^oracle /m);
    expect(table.out).toMatch(/outputs 8 B\/sample \(measured\)/); // [N, 2] FP32
    expect((await run(['--model', 'ppocr-cls', '--device', 'pixel-4', '--carbon', EM, '--zone', 'GB', '--radio', '5g'])).err).toMatch(/--radio must be one of/);
    expect((await run(['--model', 'ppocr-cls', '--device', 'pixel-4', '--carbon', EM, '--zone', 'GB', '--output-bytes', '1.5'])).err).toMatch(/--output-bytes must be/);
    expect((await run(['--device', 'raspberry-pi-4', '--carbon', EM])).code).toBe(EXIT.USAGE); // no model or profile
    expect((await run(['--model', 'ppocr-cls', '--device', 'raspberry-pi-4', '--carbon', EM, '--zone', 'GB', '--policies', 'magic'])).err).toMatch(/unknown policy 'magic'/);
    const zone = await run(['--model', 'ppocr-cls', '--device', 'raspberry-pi-4', '--carbon', EM, '--zone', 'XX', '--hours', '1']);
    expect(zone.code).toBe(EXIT.BAD_INPUT);
    expect(zone.err).toMatch(/no rows of zone 'XX'/);
    expect(zone.err).not.toMatch(/profiling/); // the traces are read before the model is profiled
  });
});
