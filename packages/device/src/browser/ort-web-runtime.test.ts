// OrtWebRuntime's choices that need no browser: provider order and WebGPU adapter detection
// (a stubbed navigator.gpu), the threads rule, and GPU tensors read through toCpu. Sessions on
// WebGPU and WASM run in test/browser (headless chromium).
import * as ort from 'onnxruntime-web';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { OrtWebRuntime } from './ort-web-runtime.js';

afterEach(() => vi.unstubAllGlobals());

describe('OrtWebRuntime', () => {
  it('offers WebGPU only with an adapter, in the configured order, and notes why not', async () => {
    vi.stubGlobal('navigator', { gpu: { requestAdapter: async () => ({ info: { vendor: 'google', architecture: 'swiftshader' } }) } });
    const withAdapter = new OrtWebRuntime();
    expect(await withAdapter.availableProviders()).toEqual(['webgpu', 'wasm']);
    expect(withAdapter.notes).toEqual([{ provider: 'webgpu', ok: true, detail: 'adapter google swiftshader' }]);
    expect(await new OrtWebRuntime({ executionProviders: ['wasm', 'webgpu'] }).availableProviders()).toEqual(['wasm', 'webgpu']);

    vi.stubGlobal('navigator', { gpu: { requestAdapter: async () => null } });
    const noAdapter = new OrtWebRuntime();
    expect(await noAdapter.availableProviders()).toEqual(['wasm']);
    expect(noAdapter.notes[0]).toMatchObject({ provider: 'webgpu', ok: false, detail: 'navigator.gpu.requestAdapter() gave no adapter' });

    vi.stubGlobal('navigator', {});
    const noGpu = new OrtWebRuntime({ executionProviders: ['webgpu'] });
    expect(await noGpu.availableProviders()).toEqual([]);
    await expect(noGpu.load(new Uint8Array([1]), 'm head')).rejects.toMatchObject({ code: 'CARBONCP_BAD_MODEL', message: expect.stringMatching(/navigator\.gpu is missing/) });
  });

  it('refuses unknown providers, and threads where the page is not cross-origin isolated', () => {
    expect(() => new OrtWebRuntime({ executionProviders: [] })).toThrow(/executionProviders/);
    expect(() => new OrtWebRuntime({ executionProviders: ['cuda' as 'wasm'] })).toThrow(/executionProviders/);
    vi.stubGlobal('crossOriginIsolated', false);
    expect(() => new OrtWebRuntime({ numThreads: 2 })).toThrow(/cross-origin isolated/);
    vi.stubGlobal('crossOriginIsolated', true);
    expect(() => new OrtWebRuntime({ numThreads: 2 })).not.toThrow();
    expect(ort.env.wasm.numThreads).toBe(2);
    vi.stubGlobal('crossOriginIsolated', false);
    new OrtWebRuntime();
    expect(ort.env.wasm.numThreads).toBe(1);
  });

  it('describes CPU tensors, refuses GPU ones, and reads GPU ones with getData() in toCpu', async () => {
    const runtime = new OrtWebRuntime({ executionProviders: ['wasm'] });
    const cpu = runtime.tensor('FP32', new Float32Array([1, 2, 3, 4]), [2, 2]);
    expect(runtime.describe(cpu)).toEqual({ datatype: 'FP32', data: new Float32Array([1, 2, 3, 4]) });
    expect(await runtime.toCpu(cpu)).toBe(cpu);
    const gpu = { type: 'float32', dims: [2, 2], location: 'gpu-buffer', getData: async () => new Float32Array([5, 6, 7, 8]) } as unknown as ort.Tensor;
    expect(() => runtime.describe(gpu)).toThrow(/on 'gpu-buffer'/);
    const read = await runtime.toCpu(gpu);
    expect(read.location).toBe('cpu');
    expect(runtime.describe(read)).toEqual({ datatype: 'FP32', data: new Float32Array([5, 6, 7, 8]) });
    expect(() => runtime.describe(new ort.Tensor('float64', new Float64Array(1), [1]))).toThrow(/cannot cross the wire/);
  });
});
