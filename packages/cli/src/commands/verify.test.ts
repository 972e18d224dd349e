import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ModelBuilder } from '@carboncp/core';
import { EXIT } from '../command.js';
import { main } from '../main.js';
import { CLS, capture, useTempDir } from '../testing/cli-fixtures.js';

const tmp = useTempDir('carboncp-cli-verify-');
let branchy: string;

beforeAll(async () => {
  branchy = join(tmp.path, 'branchy.onnx');
  await writeFile(
    branchy,
    new ModelBuilder({ name: 'branchy' })
      .input('x', 'FP32', ['N', 8])
      .initializer('wa', 'FP32', [8, 8], { seed: 3, std: 0.4 })
      .initializer('wb', 'FP32', [8, 8], { seed: 4, std: 0.4 })
      .node('MatMul', ['x', 'wa'], ['a'])
      .node('MatMul', ['x', 'wb'], ['b'])
      .node('Tanh', ['a'], ['ta'])
      .node('Mul', ['ta', 'b'], ['y'])
      .output('y', 'FP32', ['N', 8])
      .toBytes(),
  );
});

describe('carboncp verify', () => {
  it('checks every plan of a hand-built model and prints one line per plan', async () => {
    const io = capture();
    expect(await main(['verify', branchy, '--tol', '1e-5'], io)).toBe(EXIT.OK);
    const lines = io.stdout.join('\n').split('\n');
    const rows = lines.filter((l) => /^(server|split-\d+|device) /.test(l));
    expect(rows.map((r) => r.split(/\s+/)[0])).toEqual(['server', 'split-1', 'split-2', 'split-3', 'device']);
    expect(rows.every((r) => r.endsWith('ok'))).toBe(true);
    expect(io.stderr.filter((l) => /^\[\d\/5\]/.test(l))).toHaveLength(5);
  });

  it('verifies chosen cuts of the real PP-OCR classifier as JSON', async () => {
    const io = capture();
    const code = await main(['verify', CLS, '--input-shape', 'x=1,3,48,192', '--cuts', 'split-1,split-27,split-211', '--seed', '3', '--json'], io);
    expect(code).toBe(EXIT.OK);
    const results = JSON.parse(io.stdout.join('\n'));
    expect(results.map((r: { planId: string }) => r.planId)).toEqual(['split-1', 'split-27', 'split-211']);
    for (const r of results) {
      expect(r.ok).toBe(true);
      expect(r.maxAbsDiff).toBeLessThan(1e-4);
    }
  });

  it('exits 1 when a difference exceeds the tolerance', async () => {
    // RandomUniformLike without a seed draws new numbers in every session: no split can match.
    const noisy = join(tmp.path, 'noisy.onnx');
    await writeFile(
      noisy,
      new ModelBuilder({ name: 'noisy' })
        .input('x', 'FP32', ['N', 8])
        .node('Relu', ['x'], ['r'])
        .node('RandomUniformLike', ['r'], ['noise'])
        .node('Add', ['r', 'noise'], ['y'])
        .output('y', 'FP32', ['N', 8])
        .toBytes(),
    );
    const io = capture();
    expect(await main(['verify', noisy, '--cuts', 'split-1', '--json'], io)).toBe(EXIT.CHECK_FAILED);
    const [result] = JSON.parse(io.stdout.join('\n'));
    expect(result).toMatchObject({ planId: 'split-1', ok: false });
    expect(result.maxAbsDiff).toBeGreaterThan(1e-4);
    const text = capture();
    expect(await main(['verify', noisy, '--cuts', 'split-1'], text)).toBe(EXIT.CHECK_FAILED);
    expect(text.stdout.join('\n')).toMatch(/1 of 1 plans over 0.0001: split-1/);
    expect(text.stderr.join('\n')).toMatch(/\[1\/1\] split-1: max \|diff\| .* OVER TOLERANCE/);
  });

  it('bad flags exit 2, unknown cuts exit 3', async () => {
    for (const args of [['verify'], ['verify', branchy, '--tol', 'abc'], ['verify', branchy, '--tol', '-1'], ['verify', branchy, '--seed', '1.5'], ['verify', branchy, '--cuts', ',']]) {
      const io = capture();
      expect(await main(args, io), args.join(' ')).toBe(EXIT.USAGE);
    }
    const io = capture();
    expect(await main(['verify', branchy, '--cuts', 'split-1,split-9'], io)).toBe(EXIT.BAD_INPUT);
    expect(io.stderr.join('\n')).toMatch(/CARBONCP_UNKNOWN_PLAN: .*'split-9'/);
  });
});
