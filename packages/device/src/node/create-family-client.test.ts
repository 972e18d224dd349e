import { describe, expect, it } from 'vitest';
import type { ModelFamily } from '@carboncp/core';
import { ocrModelPath } from '@carboncp/core/node';
import { ErrorCode } from '@carboncp/protocol';
import { createClient } from './create-client.js';

/** No server listens there: a family built offline runs every variant locally. */
const OFFLINE = { server: 'ws://127.0.0.1:9', reconnect: { initialMs: 60_000, maxMs: 60_000 }, keepaliveMs: 0 };
const declared = (value: number) => ({ value, source: 'create-family-client.test.ts fixture', kind: 'declared' as const });
const FAMILY: ModelFamily = {
  name: 'ocr-cls',
  task: 'text direction classification, 1x3x48x192',
  qualityMetric: 'fixture score',
  variants: [
    { name: 'a', model: 'ppocr-cls-a', quality: declared(50) },
    { name: 'b', model: 'ppocr-cls-b', quality: declared(70) },
  ],
};

describe('createClient({ family })', () => {
  it('refuses what cannot make a family client, before loading anything', async () => {
    const reject = (options: Record<string, unknown>, message: RegExp) =>
      expect(createClient({ family: FAMILY, models: {}, ...OFFLINE, ...options } as never)).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT, message: expect.stringMatching(message) });
    await reject({}, /has no servable variant: models gives none of a, b/);
    await reject({ models: { c: 'c.onnx' } }, /family 'ocr-cls' has no variant 'c'/);
    await reject({ models: { a: 'a.onnx' }, budget: { grams: 1, periodMs: 3_600_000 } }, /budget needs a calibrator/);
    await reject({ models: { a: 'a.onnx' }, budget: { grams: 1, periodMs: '1h' } }, /budget.period must be milliseconds > 0 or a duration/);
    // Sites and equity are checked as for one model, before any variant loads.
    const twoSites = [{ name: 'x', url: 'ws://127.0.0.1:9' }, { name: 'y', url: 'ws://127.0.0.1:10' }];
    await reject({ models: { a: 'a.onnx' }, servers: twoSites }, /server and servers exclude each other/);
    await reject({ models: { a: 'a.onnx' }, server: undefined, servers: [twoSites[0], { ...twoSites[1], name: 'x' }] }, /servers\[1\]\.name must be a non-empty name no other site has/);
    await reject({ models: { a: 'a.onnx' }, server: undefined, servers: twoSites, equity: { maxShare: 0.6 } }, /equity prices the sites in the calibrated decision: it needs a calibrator/);
    await reject({ models: { a: 'a.onnx' }, equity: { maxShare: 0.6 } }, /equity prices the sites in the calibrated decision: it needs a calibrator/);
    await reject({ models: { a: 'a.onnx' }, equity: { maxShare: 0.6 }, calibrator: { deviceProfile: 'raspberry-pi-4' } }, /equity caps the worst site's share: it needs servers with at least two sites/);
    await expect(createClient({ family: { ...FAMILY, variants: [] }, models: {}, ...OFFLINE } as never)).rejects.toMatchObject({ code: ErrorCode.BAD_MODEL_FAMILY });
  });

  it('offline, each variant runs locally at its default cut; without a calibrator, the best quality that meets the floor', async () => {
    const path = ocrModelPath('ch_ppocr_mobile_v2.0_cls_infer.onnx');
    const family = await createClient({ family: FAMILY, models: { a: { model: path, modelName: 'cls-a' }, b: { model: path, modelName: 'cls-b' } }, ...OFFLINE, inputShapes: { x: [1, 3, 48, 192] }, defaultCut: 'device', intraOpNumThreads: 1 });
    try {
      expect(Object.keys(family.clients)).toEqual(['a', 'b']);
      const { Tensor } = await import('onnxruntime-node');
      const x = new Tensor('float32', new Float32Array(3 * 48 * 192).fill(0.25), [1, 3, 48, 192]);
      const best = await family.infer({ x });
      expect(best.telemetry).toMatchObject({ planId: 'device', path: 'local', variant: { name: 'b', model: 'cls-b', quality: 70 } });
      expect(best.telemetry.budget).toBeUndefined();
      const floor = await family.infer({ x }, { variant: 'a' });
      expect(floor.telemetry.variant).toMatchObject({ name: 'a', model: 'cls-a', quality: 50 });
      // The same bytes under two names: the same answer.
      const [out] = Object.values(best.outputs);
      const [again] = Object.values(floor.outputs);
      expect(Array.from(again!.data as Float32Array)).toEqual(Array.from(out!.data as Float32Array));
      await expect(family.infer({ x }, { minQuality: 71 })).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT });
      expect(family.budgetState()).toBeUndefined();
    } finally {
      await family.close();
    }
  });
});
