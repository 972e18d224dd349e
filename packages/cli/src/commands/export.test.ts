/**
 * `carboncp export triton` on the real PP-OCR classifier: every config.pbtxt, read back with a
 * small protobuf-text reader, agrees with what onnxruntime-node reads from the model.onnx beside
 * it (names, types, shapes, batching), and every model.onnx computes the full model's output for
 * its cut. No Triton runs here: the repository is checked against onnxruntime, which is what
 * Triton's onnxruntime backend runs.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { extractPlan, wireTypeOf, type Partition, type Plan } from '@carboncp/core';
import { partitionWithProbe, readModelFile, seededInputs } from '@carboncp/core/node';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../command.js';
import { main } from '../main.js';
import { CLS, capture, useTempDir } from '../testing/cli-fixtures.js';
import { parseExportArgs } from './export.js';
import { formatConfigPbtxt, tritonConfigOf, tritonDataType } from './triton-repository.js';

type Pb = { [key: string]: PbValue[] };
type PbValue = string | number | Pb | PbValue[];

const NUMBER_LISTS = new Set(['dims', 'shape', 'preferred_batch_size']);

/** A protobuf text format reader for what config.pbtxt holds: scalars, [lists], {messages}. */
function parsePbtxt(text: string): Pb {
  const tokens = text.match(/"(?:[^"\\]|\\.)*"|[{}[\]:,]|[^\s{}[\]:,]+/g) ?? [];
  let at = 0;
  const value = (): PbValue => {
    const token = tokens[at++];
    if (token === '{') return message('}');
    if (token === '[') {
      const list: PbValue[] = [];
      while (tokens[at] !== ']') {
        list.push(value());
        if (tokens[at] === ',') at++;
      }
      at++;
      return list;
    }
    if (token.startsWith('"')) return JSON.parse(token) as string;
    return /^-?\d+$/.test(token) ? Number(token) : token;
  };
  const message = (end: string | undefined): Pb => {
    const out: Pb = {};
    while (at < tokens.length && tokens[at] !== end) {
      const key = tokens[at++];
      if (tokens[at] === ':') at++;
      const v = value();
      // A repeated message field written as `field [ {...}, {...} ]` is its elements; a list of
      // numbers (dims, shape, preferred_batch_size) is one value.
      (out[key] ??= []).push(...(Array.isArray(v) && !NUMBER_LISTS.has(key) ? v : [v]));
    }
    at++;
    return out;
  };
  return message(undefined);
}

const tmp = useTempDir('carboncp-cli-export-');
let partition: Partition;
let chosen: Plan[];
const SHAPE = [1, 3, 48, 192];

async function run(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>) {
  return session.run(feeds);
}

/** The values at the plan's cut for these model inputs: the head's outputs (or the inputs themselves). */
async function cutValues(plan: Plan, feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>> {
  const { head } = extractPlan(partition, plan, ['head']);
  if (!head) return feeds;
  const session = await ort.InferenceSession.create(head);
  try {
    return { ...feeds, ...(await run(session, feeds)) };
  } finally {
    await session.release();
  }
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

beforeAll(async () => {
  partition = await partitionWithProbe(await readModelFile(CLS), { inputShapes: { x: SHAPE } });
  const splits = partition.plans.filter((p) => p.kind === 'split');
  chosen = [partition.plans.find((p) => p.kind === 'server')!, splits[0], splits[Math.floor(splits.length / 2)], splits[splits.length - 1]];
});

describe('carboncp export triton', () => {
  it('writes config.pbtxt and 1/model.onnx per plan, agreeing with onnxruntime and with the full model', async () => {
    const repo = join(tmp.path, 'repo');
    const io = capture();
    const code = await main(['export', 'triton', '--model', CLS, '--input-shape', `x=${SHAPE.join(',')}`, '--cuts', chosen.map((p) => p.id).join(','), '--out', repo], io);
    expect(code, io.stderr.join('\n')).toBe(EXIT.OK);
    const names = chosen.map((p) => (p.kind === 'server' ? partition.model.name : `${partition.model.name}.tail.${p.id}`));
    expect((await readdir(repo)).sort()).toEqual([...names].sort());
    expect(io.stdout).toHaveLength(chosen.length);

    const feeds = seededInputs(partition.model, { x: [2, 3, 48, 192] }, 5);
    const fullSession = await ort.InferenceSession.create(partition.model.bytes);
    const full = await run(fullSession, feeds);
    await fullSession.release();
    const outputName = partition.model.outputs[0].name;

    for (const [i, plan] of chosen.entries()) {
      const dir = join(repo, names[i]);
      expect((await readdir(join(dir, '1')))).toEqual(['model.onnx']);
      const config = parsePbtxt(await readFile(join(dir, 'config.pbtxt'), 'utf8'));
      expect(config.name).toEqual([names[i]]);
      expect(config.platform).toEqual(['onnxruntime_onnx']);
      const session = await ort.InferenceSession.create(await readFile(join(dir, '1', 'model.onnx')));
      try {
        const inputs = config.input as Pb[];
        const outputs = config.output as Pb[];
        expect(inputs.map((t) => t.name[0])).toEqual([...session.inputNames]);
        expect(outputs.map((t) => t.name[0])).toEqual([...session.outputNames]);
        expect(inputs.map((t) => t.name[0]).sort()).toEqual(plan.crossing.map((c) => c.name).sort());
        const maxBatch = (config.max_batch_size as number[])[0];
        // Every tail of this model carries the batch first: batched, with dynamic batching.
        expect(maxBatch).toBe(8);
        expect((config.dynamic_batching as Pb[])[0]).toEqual({ preferred_batch_size: [[2, 4, 8]], max_queue_delay_microseconds: [100] });
        const metadata = [...session.inputMetadata, ...session.outputMetadata];
        const configured = [...inputs, ...outputs];
        metadata.forEach((meta, k) => {
          if (!meta.isTensor) throw new Error(`${meta.name} is not a tensor`);
          expect(configured[k].data_type).toEqual([tritonDataType(wireTypeOf(meta.type)!)]);
          expect(typeof meta.shape[0]).toBe('string');
          expect(configured[k].dims).toEqual([meta.shape.slice(1).map((d) => (typeof d === 'number' ? d : -1))]);
        });
        // A batch of 2 through the tail equals the full model's output for the same 2 samples.
        const values = await cutValues(plan, feeds);
        const tailFeeds = Object.fromEntries(session.inputNames.map((name) => [name, values[name]]));
        for (const [name, tensor] of Object.entries(tailFeeds)) {
          const dims = (configured.find((t) => t.name[0] === name)!.dims[0] as number[]);
          expect(tensor.dims.slice(1).every((d, j) => dims[j] === -1 || dims[j] === d), name).toBe(true);
        }
        const result = await run(session, tailFeeds);
        expect(result[outputName].dims[0]).toBe(2);
        expect(maxAbsDiff(result[outputName].data as Float32Array, full[outputName].data as Float32Array), plan.id).toBeLessThan(1e-4);
      } finally {
        await session.release();
      }
    }
  });

  it('refuses a device plan, an unknown plan, a non-empty directory and bad flags with the right exit codes', async () => {
    const repo = join(tmp.path, 'repo');
    const base = ['export', 'triton', '--model', CLS, '--input-shape', `x=${SHAPE.join(',')}`];
    const device = capture();
    expect(await main([...base, '--cuts', 'device', '--out', join(tmp.path, 'd')], device)).toBe(EXIT.BAD_INPUT);
    expect(device.stderr.join('\n')).toMatch(/no tail/);
    expect(await main([...base, '--cuts', 'split-99999', '--out', join(tmp.path, 'u')], capture())).toBe(EXIT.BAD_INPUT);
    const full = capture();
    expect(await main([...base, '--cuts', 'server', '--out', repo], full)).toBe(EXIT.BAD_INPUT);
    expect(full.stderr.join('\n')).toMatch(/not empty/);
    expect(await main(['export', 'onnx', '--model', CLS, '--out', 'x'], capture())).toBe(EXIT.USAGE);
    expect(await main(['export', 'triton', '--out', 'x'], capture())).toBe(EXIT.USAGE);
    expect(() => parseExportArgs(['triton', '--model', 'm', '--out', 'o', '--max-batch', '4', '--preferred-batch', '8'])).toThrow(/exceeds --max-batch 4/);
    expect(parseExportArgs(['triton', '--model', 'm', '--out', 'o', '--max-batch', '0']).batching).toEqual({ maxBatch: 0, preferred: [], maxQueueDelayUs: 100 });
  });

  it('turns batching off with --max-batch 0: max_batch_size 0, full dims, no dynamic_batching', async () => {
    const repo = join(tmp.path, 'unbatched');
    expect(await main(['export', 'triton', '--model', CLS, '--input-shape', `x=${SHAPE.join(',')}`, '--cuts', chosen[2].id, '--max-batch', '0', '--out', repo], capture())).toBe(EXIT.OK);
    const name = `${partition.model.name}.tail.${chosen[2].id}`;
    const config = parsePbtxt(await readFile(join(repo, name, 'config.pbtxt'), 'utf8'));
    expect(config.max_batch_size).toEqual([0]);
    expect(config.dynamic_batching).toBeUndefined();
    const dims = (config.input as Pb[])[0].dims[0] as number[];
    expect(dims[0]).toBe(-1);
    expect(dims).toHaveLength(chosen[2].crossing.find((c) => c.name === (config.input as Pb[])[0].name[0])!.shape!.length);
  });

  it('writes configs of hand-given tensors: batch-only tensors reshaped, a fixed first dim unbatched, Triton type names', () => {
    const batching = { maxBatch: 4, preferred: [2, 4], maxQueueDelayUs: 50 };
    const batched = tritonConfigOf('m.tail.split-1', {
      inputs: [{ name: 'h', dtype: 'FP16', shape: ['N', 8, 'W'] }],
      outputs: [{ name: 'score', dtype: 'FP32', shape: ['N'] }, { name: 'ok', dtype: 'BOOL', shape: ['N', 1] }],
    }, batching);
    const text = formatConfigPbtxt(batched);
    const config = parsePbtxt(text);
    expect(config.max_batch_size).toEqual([4]);
    expect((config.input as Pb[])[0]).toEqual({ name: ['h'], data_type: ['TYPE_FP16'], dims: [[8, -1]] });
    expect((config.output as Pb[])[0]).toEqual({ name: ['score'], data_type: ['TYPE_FP32'], dims: [[1]], reshape: [{ shape: [[]] }] });
    expect((config.output as Pb[])[1]).toEqual({ name: ['ok'], data_type: ['TYPE_BOOL'], dims: [[1]] });
    expect((config.dynamic_batching as Pb[])[0]).toEqual({ preferred_batch_size: [[2, 4]], max_queue_delay_microseconds: [50] });
    const fixed = tritonConfigOf('m', { inputs: [{ name: 'x', dtype: 'INT64', shape: [1, 'T'] }], outputs: [{ name: 'y', dtype: 'BYTES', shape: ['N'] }] }, batching);
    expect(fixed).toMatchObject({ maxBatchSize: 0, inputs: [{ dataType: 'TYPE_INT64', dims: [1, -1] }], outputs: [{ dataType: 'TYPE_STRING', dims: [-1] }] });
    expect(fixed.dynamicBatching).toBeUndefined();
    expect(() => tritonDataType('COMPLEX64')).toThrow(/no Triton type/);
    expect(() => tritonConfigOf('bad name', { inputs: [], outputs: [] }, batching)).toThrow(/cannot name a Triton model/);
  });
});
