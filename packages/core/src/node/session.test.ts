import { readFile, writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { isCarboncpError } from '@carboncp/protocol';
import { createSession, cudaProviderLibrary } from './session.js';
import { readModelFile } from './read-model.js';
import { ocrModelPath } from './ocr-model-path.js';

const CLS = ocrModelPath('ch_ppocr_mobile_v2.0_cls_infer.onnx');

describe('readModelFile', () => {
  it('reads a real model, names it after the file and lists its inputs and outputs', async () => {
    const model = await readModelFile(CLS);
    expect(model.name).toBe('ch_ppocr_mobile_v2.0_cls_infer');
    expect(model.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(model.inputs.map((i) => i.name)).toEqual(['x']);
    expect(model.inputs[0].dtype).toBe('FP32');
    expect(model.inputs[0].shape).toHaveLength(4);
    expect(model.inputs[0].shape[1]).toBe(3);
    expect(model.outputs).toHaveLength(1);
  });
  it('says CARBONCP_NOT_FOUND for a missing file and CARBONCP_BAD_MODEL for garbage and truncation', async () => {
    await expect(readModelFile('/nonexistent/model.onnx')).rejects.toMatchObject({ code: 'CARBONCP_NOT_FOUND' });
    const dir = await mkdtemp(join(tmpdir(), 'carboncp-read-'));
    try {
      await writeFile(join(dir, 'garbage.onnx'), 'definitely not a protobuf \u0000\u00ff');
      await expect(readModelFile(join(dir, 'garbage.onnx'))).rejects.toMatchObject({ code: 'CARBONCP_BAD_MODEL' });
      const bytes = await readFile(CLS);
      await writeFile(join(dir, 'truncated.onnx'), bytes.subarray(0, Math.floor(bytes.length / 2)));
      const error = await readModelFile(join(dir, 'truncated.onnx')).catch((e: unknown) => e);
      expect(isCarboncpError(error, 'CARBONCP_BAD_MODEL')).toBe(true);
      expect((error as Error).message).toContain('truncated.onnx');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('createSession', () => {
  it('falls back from cuda to cpu where no CUDA provider is present, and says so', async () => {
    const bytes = await readFile(CLS);
    const logs: string[] = [];
    const { session, provider } = await createSession(bytes, { executionProviders: ['cuda', 'cpu'], log: (m) => logs.push(m) });
    const expected = cudaProviderLibrary() ? 'cuda' : 'cpu';
    expect(provider).toBe(expected);
    expect(logs.at(-1)).toBe(`execution provider: ${expected}`);
    const x = new ort.Tensor('float32', new Float32Array(3 * 48 * 192).fill(0.5), [1, 3, 48, 192]);
    const out = await session.run({ x });
    expect(out[session.outputNames[0]].dims).toEqual([1, 2]);
    await session.release();
  });
  it('fails with CARBONCP_SESSION when no provider can open the bytes', async () => {
    await expect(createSession(new Uint8Array([1, 2, 3]), { executionProviders: ['cpu'] })).rejects.toMatchObject({ code: 'CARBONCP_SESSION' });
  });
});
