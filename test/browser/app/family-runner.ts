// A model family in the page (createClient({ family }) of @carboncp/device/browser), driven by the
// browser tests (window.carboncpFamily): one client per variant over onnxruntime-web, one decision
// over them, results as plain data.
import { createClient, type BrowserFamilyClientOptions, type RequestTelemetry } from '@carboncp/device/browser';
import * as ort from 'onnxruntime-web';
import jsepMjs from 'onnxruntime-web/ort-wasm-simd-threaded.jsep.mjs?url';
import jsepWasm from 'onnxruntime-web/ort-wasm-simd-threaded.jsep.wasm?url';
import type { CutResult } from './split-runner.js';

export interface FamilyRunConfig extends Pick<BrowserFamilyClientOptions, 'family' | 'models' | 'server' | 'calibrator' | 'budget' | 'executionProviders'> {
  /** Every request: a fixed { variant, cut }, or cut 'auto' with its options. */
  requests: { variant?: string; cut: string; minQuality?: number }[];
  inputs: Record<string, { data: number[]; dims: number[] }>;
}

export interface FamilyRunReport {
  results: (CutResult & { telemetry: RequestTelemetry })[];
  connected: boolean;
  /** The variants the client offers (those given a model). */
  variants: string[];
}

/** Opens a family client, runs every request in order with the given inputs, closes it. */
export async function runFamily(config: FamilyRunConfig): Promise<FamilyRunReport> {
  const client = await createClient({
    family: config.family,
    // Plan JSON paths are relative to the page (a URL does not cross into the page: strings do).
    models: Object.fromEntries(Object.entries(config.models).map(([name, source]) => [name, { ...source, plans: new URL(source.plans as string, location.href) }])),
    server: config.server,
    wasmPaths: { wasm: jsepWasm, mjs: jsepMjs },
    reconnect: { initialMs: 50, maxMs: 200, seed: 1 },
    timeoutMs: 20_000,
    ...(config.executionProviders ? { executionProviders: config.executionProviders } : {}),
    ...(config.calibrator ? { calibrator: config.calibrator } : {}),
    ...(config.budget ? { budget: config.budget } : {}),
  });
  try {
    const connected = await client.ready(5_000).then(() => true, () => false);
    const feeds = Object.fromEntries(
      Object.entries(config.inputs).map(([name, { data, dims }]) => [name, new ort.Tensor('float32', Float32Array.from(data), dims)]),
    );
    const results: FamilyRunReport['results'] = [];
    for (const { variant, cut, minQuality } of config.requests) {
      const { outputs, telemetry } = await client.infer(feeds, { cut, ...(variant !== undefined ? { variant } : {}), ...(minQuality !== undefined ? { minQuality } : {}) });
      const plain = Object.fromEntries(Object.entries(outputs).map(([name, tensor]) => [name, { dims: [...tensor.dims], data: Array.from(tensor.data as Float32Array) }]));
      results.push({ cut, outputs: plain, telemetry });
    }
    return { results, connected, variants: client.members.map((m) => m.variant.name) };
  } finally {
    await client.close();
  }
}
