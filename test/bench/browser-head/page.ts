// The browser side of test/bench/browser-head.mjs: loads each head with the SDK's own
// onnxruntime-web runtime (OrtWebRuntime) on one provider and times its runs (runTimed: the
// run alone, outputs read back to the CPU as the client needs them to send).
import { OrtWebRuntime, type BrowserExecutionProvider } from '@carboncp/device/browser';
import * as ort from 'onnxruntime-web';
import jsepWasm from 'onnxruntime-web/ort-wasm-simd-threaded.jsep.wasm?url';

export interface HeadBenchConfig {
  heads: { cut: string; url: string }[];
  inputs: Record<string, { data: number[]; dims: number[] }>;
  provider: BrowserExecutionProvider;
  runs: number;
  warmup: number;
}

export interface HeadBenchResult {
  cut: string;
  provider: string | undefined;
  loadMs: number;
  timesMs: number[];
}

async function benchHeads(config: HeadBenchConfig): Promise<HeadBenchResult[]> {
  const runtime = new OrtWebRuntime({ executionProviders: [config.provider], wasmPaths: { wasm: jsepWasm } });
  const tensors = Object.fromEntries(Object.entries(config.inputs).map(([name, t]) => [name, new ort.Tensor('float32', Float32Array.from(t.data), t.dims)]));
  const results: HeadBenchResult[] = [];
  for (const head of config.heads) {
    const bytes = new Uint8Array(await (await fetch(head.url)).arrayBuffer());
    const started = performance.now();
    const session = await runtime.load(bytes, head.cut);
    const loadMs = performance.now() - started;
    const feeds = Object.fromEntries(session.inputNames.map((name) => [name, tensors[name]]));
    for (let i = 0; i < config.warmup; i++) await session.run(feeds);
    const timesMs: number[] = [];
    for (let i = 0; i < config.runs; i++) timesMs.push((await session.runTimed!(feeds)).computeMs);
    await session.release();
    results.push({ cut: head.cut, provider: session.executionProvider, loadMs, timesMs });
  }
  return results;
}

(window as unknown as { benchHeads: typeof benchHeads }).benchHeads = benchHeads;
