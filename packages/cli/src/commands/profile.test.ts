import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ModelBuilder, profileFromJson, sha256Hex } from '@carboncp/core';
import { EXIT } from '../command.js';
import { main } from '../main.js';
import { capture, useTempDir } from '../testing/cli-fixtures.js';

const tmp = useTempDir('carboncp-cli-profile-');
let chain: string;
let bytes: Uint8Array;

beforeAll(async () => {
  chain = join(tmp.path, 'chain.onnx');
  bytes = new ModelBuilder({ name: 'chain' })
    .input('x', 'FP32', ['N', 64])
    .initializer('w1', 'FP32', [64, 64], { seed: 1, std: 0.2 })
    .initializer('w2', 'FP32', [64, 64], { seed: 2, std: 0.2 })
    .node('MatMul', ['x', 'w1'], ['a'])
    .node('Tanh', ['a'], ['b'])
    .node('MatMul', ['b', 'w2'], ['y'])
    .output('y', 'FP32', ['N', 64])
    .toBytes();
  await writeFile(chain, bytes);
});

describe('carboncp profile', () => {
  it('writes a profile of every plan that the reader accepts for this model only', async () => {
    const out = join(tmp.path, 'chain.profile.json');
    const io = capture();
    const code = await main(['profile', chain, '--input-shape', 'x=8,64', '--runs', '4', '--warmup', '1', '--threads', '1', '--check-cuts', '2', '--check-runs', '2', '--out', out, '--json'], io);
    expect(code).toBe(EXIT.OK);
    const text = await readFile(out, 'utf8');
    expect(JSON.parse(io.stdout.join('\n'))).toEqual(JSON.parse(text));
    const profile = profileFromJson(text, { modelDigest: await sha256Hex(bytes) });
    expect(profile.plans.map((p) => p.id)).toEqual(['server', 'split-1', 'split-2', 'device']);
    expect(profile.inputShapes).toEqual({ x: [8, 64] });
    expect(profile.method.runs).toBe(4);
    expect(profile.plans.find((p) => p.id === 'split-1')!.head.n).toBe(4);
    expect(profile.segmentCheck!.gaps).toHaveLength(4);
    expect(() => profileFromJson(text, { modelDigest: '0'.repeat(64) })).toThrow(/not for sha256 000000000000/);
  });

  it('prints a table with the check by default', async () => {
    const io = capture();
    expect(await main(['profile', chain, '--runs', '2', '--warmup', '0', '--check-cuts', '1', '--check-runs', '1'], io)).toBe(EXIT.OK);
    const text = io.stdout.join('\n');
    expect(text).toMatch(/^server\s+-\s+\d+\.\d\d \[/m);
    expect(text).toMatch(/^device\s+\d+\.\d\d \[.*\]\s+-$/m);
    expect(text).toMatch(/check \(1 paired runs per half\): median \|gap\| \d+\.\d%/);
  });

  it('refuses bad flags with exit 2', async () => {
    for (const args of [['--runs', '0'], ['--ep', 'tpu'], ['--opt-level', 'max'], ['--threads', 'x'], []]) {
      const io = capture();
      expect(await main(['profile', ...(args.length ? [chain, ...args] : [])], io), args.join(' ')).toBe(EXIT.USAGE);
    }
  });
});
