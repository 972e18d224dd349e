import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ModelBuilder, extractPlan, loadModel, partition, planSetOf } from '@carboncp/core';
import { jsonNumbers, ocrModelPath, partitionWithProbe } from '@carboncp/core/node';
import { isCarboncpError } from '@carboncp/protocol';
import * as ort from 'onnxruntime-node';
import { createClient, type CreateClientOptions } from './create-client.js';

/** No server listens there: every request runs its tail locally (the path is 'local-fallback'). */
const OFFLINE = { server: 'ws://127.0.0.1:9', reconnect: { initialMs: 60_000, maxMs: 60_000 }, keepaliveMs: 0 };
const CLS_SHAPES = { x: [1, 3, 48, 192] };

/** Seeded floats in [-1, 1). */
function seeded(count: number, seed: number): Float32Array {
  let state = seed >>> 0;
  return Float32Array.from({ length: count }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 31 - 1;
  });
}

/**
 * Relu, Sigmoid, then an op of a domain onnxruntime does not know, intermediate values with no
 * declared shapes: partitioning it needs the probe, which cannot load it (CARBONCP_PROBE_FAILED).
 */
function unprobeable(): Uint8Array {
  return new ModelBuilder({ name: 'unprobeable', extraOpsets: { 'example.unknown': 1 } })
    .input('x', 'FP32', ['N', 8])
    .node('Relu', ['x'], ['a'])
    .node('Sigmoid', ['a'], ['b'])
    .node('Frob', ['b'], ['y'], {}, 'frob', 'example.unknown')
    .output('y', 'FP32', ['N', 8])
    .toBytes();
}

const failure = (promise: Promise<unknown>): Promise<unknown> => promise.then(() => undefined, (error: unknown) => error);

describe('createClient({ plans })', () => {
  it('builds the client from `partition --json` output: the probed plans and halves, the same answers as a client that probed', async () => {
    const bytes = new Uint8Array(await readFile(ocrModelPath('ch_ppocr_mobile_v2.0_cls_infer.onnx')));
    const probed = await partitionWithProbe(await loadModel(bytes, 'cls'), { inputShapes: CLS_SHAPES });
    // What `carboncp partition --json` prints (no inputShapes in it: the client gives them).
    const plans = JSON.stringify(planSetOf(probed), jsonNumbers, 2);
    const fromPlans = await createClient({ ...OFFLINE, model: bytes, modelName: 'cls', inputShapes: CLS_SHAPES, plans });
    const fromProbe = await createClient({ ...OFFLINE, model: bytes, modelName: 'cls', inputShapes: CLS_SHAPES });
    try {
      expect(fromPlans.plans).toEqual(probed.plans);
      expect(fromPlans.plans).toEqual(fromProbe.plans);
      const splits = probed.plans.filter((plan) => plan.kind === 'split');
      const x = new ort.Tensor('float32', seeded(3 * 48 * 192, 11), [1, 3, 48, 192]);
      for (const plan of [splits[0], splits[Math.floor(splits.length / 2)], splits[splits.length - 1]]) {
        const a = extractPlan(fromPlans.partition, plan.id);
        const b = extractPlan(probed, plan.id);
        expect(Buffer.from(a.head!).equals(Buffer.from(b.head!)) && Buffer.from(a.tail!).equals(Buffer.from(b.tail!)), plan.id).toBe(true);
        const got = await fromPlans.infer({ x }, { cut: plan.id });
        const want = await fromProbe.infer({ x }, { cut: plan.id });
        expect(got.telemetry.path).toBe('local-fallback');
        for (const [name, tensor] of Object.entries(want.outputs)) {
          expect(Array.from(got.outputs[name].data as Float32Array), `${plan.id} ${name}`).toEqual(Array.from(tensor.data as Float32Array));
        }
      }
    } finally {
      await fromPlans.close();
      await fromProbe.close();
    }
  });

  it('runs no probe: a model the probe cannot load gets a client from its plan JSON, and none without', async () => {
    const bytes = unprobeable();
    const withoutPlans = await failure(createClient({ ...OFFLINE, model: bytes }));
    expect(isCarboncpError(withoutPlans, 'CARBONCP_PROBE_FAILED'), String(withoutPlans)).toBe(true);
    const made = await partition(await loadModel(bytes, 'unprobeable'));
    const client = await createClient({ ...OFFLINE, model: bytes, plans: JSON.parse(JSON.stringify(planSetOf(made), jsonNumbers)) });
    try {
      expect(client.partition.model.name).toBe('unprobeable'); // bytes and no modelName: the JSON's model name
      expect(client.plans.map((plan) => plan.id)).toEqual(made.plans.map((plan) => plan.id));
      const head = extractPlan(client.partition, 'split-2').head!;
      expect(Buffer.from(head).equals(Buffer.from(extractPlan(made, 'split-2').head!))).toBe(true);
    } finally {
      await client.close();
    }
  });

  it("a plan.json's one plan is the client's default cut", async () => {
    const bytes = new Uint8Array(await readFile(ocrModelPath('ch_ppocr_mobile_v2.0_cls_infer.onnx')));
    const probed = await partitionWithProbe(await loadModel(bytes, 'cls'), { inputShapes: CLS_SHAPES });
    const split = probed.plans.filter((plan) => plan.kind === 'split')[5];
    const planJson = JSON.stringify({ ...planSetOf(probed), plans: undefined, plan: split, inputShapes: CLS_SHAPES, files: {} }, jsonNumbers);
    const client = await createClient({ ...OFFLINE, model: bytes, plans: planJson });
    try {
      expect(client.plans).toEqual([split]);
      const { telemetry } = await client.infer({ x: new ort.Tensor('float32', seeded(3 * 48 * 192, 2), [1, 3, 48, 192]) });
      expect(telemetry.planId).toBe(split.id);
    } finally {
      await client.close();
    }
  });

  it('refuses plan JSON for other model bytes or that does not parse, and options that contradict it', async () => {
    const bytes = unprobeable();
    const json = JSON.stringify(planSetOf(await partition(await loadModel(bytes, 'unprobeable'))), jsonNumbers);
    const other = new ModelBuilder({ name: 'other' }).input('x', 'FP32', ['N', 8]).node('Relu', ['x'], ['y']).output('y', 'FP32', ['N', 8]).toBytes();
    const cases: [CreateClientOptions, string, RegExp][] = [
      [{ ...OFFLINE, model: other, plans: json }, 'CARBONCP_DIGEST_MISMATCH', /plan JSON is for model 'unprobeable'/],
      [{ ...OFFLINE, model: bytes, plans: '{"model":' }, 'CARBONCP_BAD_PLAN_JSON', /does not parse/],
      [{ ...OFFLINE, model: bytes, plans: json, partition: { maxWidth: 2 } }, 'CARBONCP_INVALID_ARGUMENT', /partition options and plans exclude each other/],
      [{ ...OFFLINE, model: bytes, plans: json, budget: { grams: 1, period: '1h' } }, 'CARBONCP_INVALID_ARGUMENT', /budget needs a calibrator/],
      [{ ...OFFLINE, model: bytes, plans: json, budget: { grams: 1, period: 'soon' } }, 'CARBONCP_INVALID_ARGUMENT', /budget.period must be milliseconds > 0 or a duration/],
      [
        { ...OFFLINE, model: bytes, plans: JSON.stringify({ ...JSON.parse(json), inputShapes: { x: [1, 8] } }), inputShapes: { x: [2, 8] } },
        'CARBONCP_INVALID_ARGUMENT',
        /inputShapes \{"x":\[2,8\]\} differ from those the plans were sized for/,
      ],
    ];
    for (const [options, code, pattern] of cases) {
      const error = await failure(createClient(options));
      expect(isCarboncpError(error, code), String(error)).toBe(true);
      expect((error as Error).message).toMatch(pattern);
    }
  });

  it('passes the network estimate options through to the client (a bad one is refused by its name)', async () => {
    const bytes = unprobeable();
    const json = JSON.stringify(planSetOf(await partition(await loadModel(bytes, 'unprobeable'))), jsonNumbers);
    const error = await failure(createClient({ ...OFFLINE, model: bytes, plans: json, network: { rttHalfLifeMs: -1 } }));
    expect(isCarboncpError(error, 'CARBONCP_INVALID_ARGUMENT'), String(error)).toBe(true);
    expect((error as Error).message).toMatch(/network\.rttHalfLifeMs must be a positive number/);
    const probeError = await failure(createClient({ ...OFFLINE, model: bytes, plans: json, networkProbe: { nonsense: 1 } as never }));
    expect(isCarboncpError(probeError, 'CARBONCP_INVALID_ARGUMENT'), String(probeError)).toBe(true);
    expect((probeError as Error).message).toMatch(/networkProbe\.nonsense is not an option/);
  });
});
