import { mkdtemp, readdir, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCarboncpError } from '@carboncp/protocol';
import { ModelBuilder } from '../onnx/model-builder.js';
import { decodeModel, encodeModel } from '../onnx/proto.js';
import { loadModel, type LoadedModel } from '../model/load-model.js';
import { extractPlan, getPlan, partition } from '../partition.js';
import type { Partition } from '../plan/plan-types.js';
import { partitionWithProbe } from './partition-with-probe.js';
import { ocrModelPath } from './ocr-model-path.js';
import { seededInputs } from './seeded-inputs.js';
import { writePlanFiles } from './plan-files.js';

async function codeOf(promise: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (error) {
    return isCarboncpError(error) ? error.code : `not a CarboncpError: ${String(error)}`;
  }
  return undefined;
}

let dir: string;
let cls: LoadedModel;
let small: Partition;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'carboncp-bad-input-'));
  cls = await loadModel(await readFile(ocrModelPath('ch_ppocr_mobile_v2.0_cls_infer.onnx')), 'cls');
  const model = new ModelBuilder({ name: 'small' })
    .input('x', 'FP32', ['N', 4])
    .initializer('w', 'FP32', [4, 4], { seed: 1, std: 1 })
    .node('MatMul', ['x', 'w'], ['h'])
    .node('Tanh', ['h'], ['y'])
    .output('y', 'FP32', ['N', 4])
    .toBytes();
  small = await partitionWithProbe(await loadModel(model, 'small'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('bad input gets a CarboncpError with a clear code', () => {
  it('not ONNX, or truncated', async () => {
    expect(await codeOf(loadModel(new TextEncoder().encode('{"this": "is json"}')))).toBe('CARBONCP_BAD_MODEL');
    expect(await codeOf(loadModel(new Uint8Array(0)))).toBe('CARBONCP_BAD_MODEL');
    for (const fraction of [0.1, 0.5, 0.97]) {
      expect(await codeOf(loadModel(cls.bytes.subarray(0, Math.floor(cls.bytes.length * fraction))))).toBe('CARBONCP_BAD_MODEL');
    }
  });

  it('a graph that reads an undefined name or writes one twice', async () => {
    const model = decodeModel(small.model.bytes);
    model.graph!.node[1].input[0] = 'nowhere';
    const error = await partition(await loadModel(encodeModel(model))).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'CARBONCP_BAD_MODEL', message: expect.stringContaining("'nowhere'") });
  });

  it('unknown plan id', () => {
    expect(() => extractPlan(small, 'split-7')).toThrow(expect.objectContaining({ code: 'CARBONCP_UNKNOWN_PLAN' }));
    expect(() => getPlan(small, 'cloud')).toThrow(/valid ids: server, split-1, device/);
  });

  it('input shapes that do not fit the model, or name no input', async () => {
    expect(await codeOf(partition(cls, { inputShapes: { x: [1, 3, 48] } }))).toBe('CARBONCP_BAD_INPUT_SHAPE');
    expect(await codeOf(partition(cls, { inputShapes: { x: [1, 4, 48, 192] } }))).toBe('CARBONCP_BAD_INPUT_SHAPE');
    expect(await codeOf(partition(cls, { inputShapes: { x: [1, 3, 0, 192] } }))).toBe('CARBONCP_BAD_INPUT_SHAPE');
    expect(await codeOf(partition(cls, { inputShapes: { x: [1, 3, 4.5, 192] } }))).toBe('CARBONCP_BAD_INPUT_SHAPE');
    expect(await codeOf(partition(cls, { inputShapes: { image: [1, 3, 48, 192] } }))).toBe('CARBONCP_UNKNOWN_INPUT');
    const message = await partition(cls, { inputShapes: { x: [1, 4, 48, 192] } }).catch((e: Error) => e.message);
    expect(message).toContain('fixed size 3 in dim 1');
    // Symbolic H and W cannot be probed without a size.
    expect(await codeOf(partitionWithProbe(cls))).toBe('CARBONCP_SHAPE_REQUIRED');
    expect(await codeOf(() => seededInputs(cls, undefined, 1))).toBe('CARBONCP_SHAPE_REQUIRED');
  });

  it('bad options', async () => {
    expect(await codeOf(partition(small.model, { maxWidth: 0 }))).toBe('CARBONCP_INVALID_ARGUMENT');
  });
});

describe('writePlanFiles', () => {
  it('writes head.onnx, tail.onnx and plan.json and leaves no temporary files', async () => {
    const out = join(dir, 'nested', 'split-1');
    const written = await writePlanFiles(out, small, 'split-1', { inputShapes: { x: [1, 4] } });
    expect((await readdir(out)).sort()).toEqual(['head.onnx', 'plan.json', 'tail.onnx']);
    expect(await readdir(join(dir, 'nested'))).toEqual(['split-1']);
    const doc = JSON.parse(await readFile(written.planJson, 'utf8'));
    expect(doc.plan).toEqual(getPlan(small, 'split-1'));
    expect(doc.model).toMatchObject({ name: 'small', digest: small.model.digest });
    expect(doc.inputShapes).toEqual({ x: [1, 4] });
    const { head, tail } = extractPlan(small, 'split-1');
    expect(Buffer.compare(await readFile(written.head!), Buffer.from(head!))).toBe(0);
    expect(Buffer.compare(await readFile(written.tail!), Buffer.from(tail!))).toBe(0);
    // The 'server' plan has no head.
    const server = await writePlanFiles(join(dir, 'server'), small, 'server');
    expect(server.head).toBeUndefined();
    expect((await readdir(join(dir, 'server'))).sort()).toEqual(['plan.json', 'tail.onnx']);
  });

  it('an unwritable or non-empty target fails and leaves nothing behind', async () => {
    const file = join(dir, 'a-file');
    await writeFile(file, 'x');
    expect(await codeOf(writePlanFiles(join(file, 'out'), small, 'split-1'))).toBe('CARBONCP_IO');
    expect(await codeOf(writePlanFiles(file, small, 'split-1'))).toBe('CARBONCP_BAD_OUTPUT');
    const full = join(dir, 'full');
    await mkdir(full);
    await writeFile(join(full, 'keep.txt'), 'mine');
    expect(await codeOf(writePlanFiles(full, small, 'split-1'))).toBe('CARBONCP_BAD_OUTPUT');
    expect(await readdir(full)).toEqual(['keep.txt']);
    expect(await codeOf(writePlanFiles(join(dir, 'never'), small, 'split-9'))).toBe('CARBONCP_UNKNOWN_PLAN');
    const left = (await readdir(dir)).filter((name) => name.includes('.tmp-') || name === 'never');
    expect(left).toEqual([]);
  });

  it('an empty existing directory is filled', async () => {
    const empty = join(dir, 'empty');
    await mkdir(empty);
    await writePlanFiles(empty, small, 'device');
    expect((await readdir(empty)).sort()).toEqual(['head.onnx', 'plan.json']);
  });
});
