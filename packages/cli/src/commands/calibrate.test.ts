import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '@carboncp/core';
import { EXIT } from '../command.js';
import { main } from '../main.js';
import { capture, useTempDir } from '../testing/cli-fixtures.js';

const tmp = useTempDir('carboncp-cli-calibrate-');

/** A seeded heteroscedastic stream: latency grows with bytes / bandwidth, noise grows with it too. */
async function dataset(name: string, rows = 1500): Promise<string> {
  const random = mulberry32(5);
  const lines = ['bytes,bandwidth,path,totalMs'];
  for (let i = 0; i < rows; i += 1) {
    const bytes = 1000 + random() * 100_000;
    const bandwidth = 1 + random() * 9;
    const transfer = bytes / bandwidth / 1000;
    lines.push(`${bytes},${bandwidth},${random() < 0.5 ? 'wifi' : 'lte'},${5 + transfer + (random() - 0.5) * transfer * 0.5}`);
  }
  const file = join(tmp.path, name);
  await writeFile(file, `${lines.join('\n')}\n`);
  return file;
}

async function run(args: string[]) {
  const io = capture();
  const code = await main(['calibrate', ...args], io);
  return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n') };
}

describe('carboncp calibrate', () => {
  it('prints coverage and mean width as JSON and writes one interval per judged row', async () => {
    const data = await dataset('lat.csv');
    const out = join(tmp.path, 'intervals.csv');
    const { code, out: stdout, err } = await run(['--data', data, '--target', 'totalMs', '--features', 'bytes,bandwidth', '--alpha', '0.1', '--warmup', '300', '--out', out, '--json']);
    expect(code, err).toBe(EXIT.OK);
    const summary = JSON.parse(stdout);
    expect(summary).toMatchObject({ method: 'split', alpha: 0.1, rows: 1200, warmup: 300, skipped: 0, infinite: 0, target: 'totalMs', features: ['bytes', 'bandwidth'] });
    expect(summary.coverage).toBeGreaterThan(0.86);
    expect(summary.coverage).toBeLessThan(0.95);
    const csv = (await readFile(out, 'utf8')).trim().split('\n');
    expect(csv[0]).toBe('row,lower,upper,target');
    expect(csv).toHaveLength(1201);
    // Recompute coverage and width from the file: the printed summary is the file's.
    let covered = 0;
    let width = 0;
    for (const line of csv.slice(1)) {
      const [row, lower, upper, target] = line.split(',').map(Number);
      expect(row).toBeGreaterThan(300);
      if (target! >= lower! && target! <= upper!) covered += 1;
      width += upper! - lower!;
    }
    expect(covered / 1200).toBeCloseTo(summary.coverage, 12);
    expect(width / 1200).toBeCloseTo(summary.meanWidth, 9);
  });

  it('reads JSON Lines telemetry with dotted columns and prints a readable summary', async () => {
    const file = join(tmp.path, 't.jsonl');
    const random = mulberry32(2);
    const lines = Array.from({ length: 400 }, () => JSON.stringify({ totalMs: 10 + random(), footprint: { totalCarbonG: random() * 1e-4 } }));
    await writeFile(file, `${lines.join('\n')}\n`);
    const { code, out, err } = await run(['--data', file, '--target', 'footprint.totalCarbonG', '--features', '', '--warmup', '50']);
    expect(code, err).toBe(EXIT.OK);
    expect(out).toMatch(/method split, alpha 0.1/);
    expect(out).toMatch(/rows judged 350 after 50 warm-up rows \(0 skipped\)/);
    expect(out).toMatch(/coverage \d+\.\d\d%/);
  });

  it('runs every method by name; mondrian bins by a text column', async () => {
    const data = await dataset('methods.csv');
    for (const method of ['split', 'normalized', 'cqr', 'weighted', 'aci', 'dtaci', 'pid']) {
      const { code, out, err } = await run(['--data', data, '--target', 'totalMs', '--features', 'bytes,bandwidth', '--method', method, '--warmup', '300', '--json']);
      expect(code, `${method}: ${err}`).toBe(EXIT.OK);
      const summary = JSON.parse(out);
      expect(summary.method).toBe(method);
      expect(summary.coverage, method).toBeGreaterThan(0.85);
    }
    const mondrian = await run(['--data', data, '--target', 'totalMs', '--features', 'bytes,bandwidth', '--method', 'mondrian', '--bin', 'path', '--warmup', '300', '--json']);
    expect(mondrian.code, mondrian.err).toBe(EXIT.OK);
    expect(JSON.parse(mondrian.out)).toMatchObject({ bin: 'path', bins: 2, rows: 1200 });
    expect((await run(['--data', data, '--target', 'totalMs', '--features', 'bytes', '--method', 'mondrian'])).err).toMatch(/needs --bin/);
  });

  it('exit 2 for a bad command line, 3 for bad input', async () => {
    const data = await dataset('small.csv', 50);
    expect((await run(['--data', data, '--target', 'totalMs'])).code).toBe(EXIT.USAGE);
    expect((await run(['--data', data, '--target', 'totalMs', '--features', 'bytes', '--alpha', '1'])).code).toBe(EXIT.USAGE);
    expect((await run(['--data', data, '--target', 'totalMs', '--features', 'bytes', '--method', 'magic'])).err).toMatch(/--method must be one of split/);
    const missing = await run(['--data', data, '--target', 'nope', '--features', 'bytes']);
    expect(missing.code).toBe(EXIT.BAD_INPUT);
    expect(missing.err).toMatch(/no row of .* has a column 'nope'/);
    expect((await run(['--data', join(tmp.path, 'absent.csv'), '--target', 'y', '--features', 'x'])).code).toBe(EXIT.BAD_INPUT);
    const tooFew = await run(['--data', data, '--target', 'totalMs', '--features', 'bytes', '--warmup', '50']);
    expect(tooFew.code).toBe(EXIT.USAGE);
    expect(tooFew.err).toMatch(/no row left to judge/);
  });

  it('--help lists the methods', async () => {
    const { code, out } = await run(['--help']);
    expect(code).toBe(EXIT.OK);
    expect(out).toMatch(/--method M\s+conformal method \(default split\): split/);
  });
});
