// The page's split inference, used by the example UI (main.ts) and driven by the browser tests
// (window.carboncpSplit): one client over onnxruntime-web, results as plain data.
import { createClient, sampleBrowserContext, type BrowserClient, type CalibratorOptions, type BrowserContext, type BrowserExecutionProvider, type ProviderNote, type RequestTelemetry } from '@carboncp/device/browser';
import * as ort from 'onnxruntime-web';
// Vite emits the runtime's wasm and its loader as assets of this app and gives their URLs: the
// page loads them from its own origin (no CDN). The default onnxruntime-web build (WebGPU + WASM)
// uses the jsep pair; the loader (.mjs) is also what its WASM threads start as workers (without
// it they would start the app's own bundle, which is no worker script).
import jsepMjs from 'onnxruntime-web/ort-wasm-simd-threaded.jsep.mjs?url';
import jsepWasm from 'onnxruntime-web/ort-wasm-simd-threaded.jsep.wasm?url';

export interface RunConfig {
  model: string;
  plans: string;
  modelName: string;
  server: string;
  providers?: BrowserExecutionProvider[];
  cuts: string[];
  /** Inputs by name: data (float32) and dims; the same for every cut. */
  inputs: Record<string, { data: number[]; dims: number[] }>;
  /** The cut the client's default policy takes for cut 'auto'. */
  defaultCut?: string;
  /** Asks the server's context (carbon) before running. */
  askContext?: boolean;
  /** Decide cut 'auto' by carbon (createClient's calibrator; plain data: it crosses into the page). */
  calibrator?: CalibratorOptions;
}

export interface CutResult {
  cut: string;
  outputs: Record<string, { dims: number[]; data: number[] }>;
  telemetry: RequestTelemetry;
}

export interface RunReport {
  results: CutResult[];
  notes: ProviderNote[];
  context: BrowserContext;
  connected: boolean;
  isSecureContext: boolean;
  crossOriginIsolated: boolean;
  /** onnxruntime-web's WASM threads as the runtime set them. */
  wasmThreads: number | undefined;
}

/** Opens a client, runs every cut once with the given inputs, closes it. */
export async function runCuts(config: RunConfig, onResult?: (result: CutResult) => void): Promise<RunReport> {
  const client: BrowserClient = await createClient({
    model: config.model,
    plans: new URL(config.plans, location.href),
    modelName: config.modelName,
    server: config.server,
    wasmPaths: { wasm: jsepWasm, mjs: jsepMjs },
    reconnect: { initialMs: 50, maxMs: 200, seed: 1 },
    timeoutMs: 20_000,
    ...(config.providers ? { executionProviders: config.providers } : {}),
    ...(config.defaultCut ? { defaultCut: config.defaultCut } : {}),
    ...(config.calibrator ? { calibrator: config.calibrator } : {}),
  });
  try {
    const connected = await client.ready(3_000).then(() => true, () => false);
    if (connected && config.askContext) await client.serverContext();
    const feeds = Object.fromEntries(
      Object.entries(config.inputs).map(([name, { data, dims }]) => [name, new ort.Tensor('float32', Float32Array.from(data), dims)]),
    );
    const results: CutResult[] = [];
    for (const cut of config.cuts) {
      const { outputs, telemetry } = await client.infer(feeds, { cut });
      const plain = Object.fromEntries(
        Object.entries(outputs).map(([name, tensor]) => [name, { dims: [...tensor.dims], data: Array.from(tensor.data as Float32Array) }]),
      );
      const result = { cut, outputs: plain, telemetry };
      onResult?.(result);
      results.push(result);
    }
    return {
      results,
      notes: [...client.webRuntime.notes],
      context: await sampleBrowserContext(client),
      connected,
      isSecureContext,
      crossOriginIsolated,
      wasmThreads: ort.env.wasm.numThreads,
    };
  } finally {
    await client.close();
  }
}
