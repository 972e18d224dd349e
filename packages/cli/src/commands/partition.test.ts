import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ModelBuilder, decodeModel } from '@carboncp/core';
import { EXIT } from '../command.js';
import { main } from '../main.js';
import { CLS, capture, useTempDir } from '../testing/cli-fixtures.js';

const tmp = useTempDir('carboncp-cli-partition-');
let residual: string;

beforeAll(async () => {
  residual = join(tmp.path, 'residual.onnx');
  await writeFile(
    residual,
    new ModelBuilder({ name: 'residual' })
      .input('x', 'FP32', ['N', 16])
      .initializer('w0', 'FP32', [16, 4], { seed: 1, std: 0.3 })
      .initializer('w1', 'FP32', [4, 4], { seed: 2, std: 0.3 })
      .node('MatMul', ['x', 'w0'], ['h'])
      .node('Relu', ['h'], ['r'])
      .node('MatMul', ['r', 'w1'], ['m'])
      .node('Add', ['m', 'h'], ['y'])
      .output('y', 'FP32', ['N', 4])
      .toBytes(),
  );
});

describe('carboncp partition', () => {
  it('prints the cut table of a hand-built model with the ratio to the input', async () => {
    const io = capture();
    expect(await main(['partition', residual], io)).toBe(EXIT.OK);
    const text = io.stdout.join('\n');
    expect(text).toContain('input x FP32 [N,16]: 64 bytes per sample');
    const rows = text.split('\n').filter((l) => /^(server|split-\d+|device) /.test(l));
    expect(rows.map((r) => r.split(/\s+/)[0])).toEqual(['server', 'split-1', 'split-2', 'split-3', 'device']);
    // split-1 sends h [N,4]: 16 bytes, a quarter of the input.
    expect(rows[1]).toMatch(/^split-1\s+h\[N,4\]\s+16\s+0\.25x \*/);
    expect(rows[2]).toMatch(/^split-2\s+h\[N,4\] r\[N,4\]\s+32\s+0\.50x \*/);
    expect(io.stderr.join('\n')).toContain('partitioning residual');
  });

  it('--json prints {model, plans} and --max-width limits the cuts', async () => {
    const io = capture();
    expect(await main(['partition', residual, '--json', '--max-width', '1'], io)).toBe(EXIT.OK);
    const doc = JSON.parse(io.stdout.join('\n'));
    expect(doc.model).toMatchObject({ name: 'residual', digest: expect.stringMatching(/^[0-9a-f]{64}$/), inputs: [{ name: 'x', dtype: 'FP32', shape: ['N', 16] }] });
    // split-2 and split-3 send two tensors (the skip connection h and r or m).
    expect(doc.plans.map((p: { id: string }) => p.id)).toEqual(['server', 'split-1', 'device']);
    expect(doc.plans[1]).toMatchObject({ kind: 'split', bytesPerSample: 16, crossing: [{ name: 'h', shape: ['N', 4], source: 'head' }] });
  });

  it('partitions the real PP-OCR classifier at 1x3x48x192', async () => {
    const io = capture();
    expect(await main(['partition', CLS, '--input-shape', 'x=1,3,48,192', '--json', '--max-width', '1'], io)).toBe(EXIT.OK);
    const doc = JSON.parse(io.stdout.join('\n'));
    const server = doc.plans[0];
    expect(server.crossing).toEqual([{ name: 'x', dtype: 'FP32', shape: ['N', 3, 48, 192], bytesPerSample: 3 * 48 * 192 * 4, source: 'input' }]);
    const splits = doc.plans.filter((p: { kind: string }) => p.kind === 'split');
    expect(splits.length).toBeGreaterThan(20);
    expect(splits.every((p: { crossing: unknown[] }) => p.crossing.length === 1)).toBe(true);
    // Some cut sends less than a tenth of the input (the pooled features near the end).
    expect(splits.some((p: { bytesPerSample: number }) => p.bytesPerSample < server.bytesPerSample / 10)).toBe(true);
    const device = doc.plans[doc.plans.length - 1];
    expect(device.headFlops).toBeGreaterThan(1e7);
    expect(device.headFlops).toBe(server.tailFlops);
  });

  it('--at ID --out DIR writes head.onnx, tail.onnx and plan.json', async () => {
    const out = join(tmp.path, 'cls-split');
    const io = capture();
    expect(await main(['partition', CLS, '--input-shape', 'x=1,3,48,192', '--at', 'split-10', '--out', out], io)).toBe(EXIT.OK);
    expect((await readdir(out)).sort()).toEqual(['head.onnx', 'plan.json', 'tail.onnx']);
    const doc = JSON.parse(await readFile(join(out, 'plan.json'), 'utf8'));
    expect(doc.plan.id).toBe('split-10');
    expect(doc.inputShapes).toEqual({ x: [1, 3, 48, 192] });
    const tail = decodeModel(await readFile(join(out, 'tail.onnx')));
    expect(tail.graph!.input.map((i) => i.name)).toEqual(doc.plan.crossing.map((c: { name: string }) => c.name));
    expect(io.stdout.join('\n')).toContain(`wrote ${join(out, 'plan.json')}`);
  });

  it('bad input: garbage, truncated model, missing file, unknown cut, bad shapes (exit 3)', async () => {
    const garbage = join(tmp.path, 'garbage.onnx');
    await writeFile(garbage, 'this is not an onnx model at all');
    const truncated = join(tmp.path, 'truncated.onnx');
    await writeFile(truncated, (await readFile(CLS)).subarray(0, 100_000));
    const cases: [string[], RegExp][] = [
      [['partition', garbage], /CARBONCP_BAD_MODEL/],
      [['partition', truncated], /CARBONCP_BAD_MODEL: .*truncated\.onnx/],
      [['partition', join(tmp.path, 'missing.onnx')], /CARBONCP_NOT_FOUND/],
      [['partition', residual, '--at', 'split-42', '--out', join(tmp.path, 'never')], /CARBONCP_UNKNOWN_PLAN: .*valid ids: server, split-1, split-2, split-3, device/],
      [['partition', CLS, '--input-shape', 'x=1,3,48'], /CARBONCP_BAD_INPUT_SHAPE: input 'x' has rank 4/],
      [['partition', CLS, '--input-shape', 'x=1,1,48,192'], /CARBONCP_BAD_INPUT_SHAPE: .*fixed size 3 in dim 1/],
      [['partition', CLS, '--input-shape', 'image=1,3,48,192'], /CARBONCP_UNKNOWN_INPUT: .*has no input 'image'/],
      [['partition', CLS], /CARBONCP_SHAPE_REQUIRED: .*--input-shape x=1,3,\?,\?/],
    ];
    for (const [args, pattern] of cases) {
      const io = capture();
      expect(await main(args, io), args.join(' ')).toBe(EXIT.BAD_INPUT);
      expect(io.stderr.join('\n')).toMatch(pattern);
      expect(io.stdout).toEqual([]);
    }
    expect((await readdir(tmp.path)).filter((n) => n.startsWith('never') || n.includes('.tmp-'))).toEqual([]);
  });

  it('--out into a path that cannot be written fails and leaves nothing behind', async () => {
    const blocker = join(tmp.path, 'blocker');
    await writeFile(blocker, 'a file where a directory would go');
    const io = capture();
    expect(await main(['partition', residual, '--at', 'split-1', '--out', join(blocker, 'out')], io)).toBe(EXIT.BAD_INPUT);
    expect(io.stderr.join('\n')).toMatch(/CARBONCP_IO: cannot create/);
    expect((await readdir(tmp.path)).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it('bad command lines exit 2; --help prints the usage', async () => {
    for (const args of [['partition'], ['partition', residual, '--bogus'], ['partition', residual, '--at', 'split-1'], ['partition', residual, '--max-width', '0'], ['partition', 'a.onnx', 'b.onnx']]) {
      const io = capture();
      expect(await main(args, io), args.join(' ')).toBe(EXIT.USAGE);
      expect(io.stderr.join('\n')).toMatch(/CARBONCP_USAGE/);
    }
    const io = capture();
    expect(await main(['partition', '--help'], io)).toBe(EXIT.OK);
    expect(io.stdout.join('\n')).toMatch(/^Usage: carboncp partition MODEL/);
  });
});
