import { WIRE_ORT_TYPES, ortTypeOf, wireTypeOf } from '@carboncp/core';
import { CarboncpError, type DataType, ErrorCode } from '@carboncp/protocol';
import * as ort from 'onnxruntime-web';
import type { Runtime, RuntimeSession, TensorData } from '../client/types.js';
import { SerialRuns } from '../client/serial-runs.js';

/** The execution providers the browser runtime tries, in the order given. */
export type BrowserExecutionProvider = 'webgpu' | 'wasm';

export interface OrtWebRuntimeOptions {
  /** Providers to try in this order; the first that loads a session runs it. Default ['webgpu', 'wasm']. */
  executionProviders?: readonly BrowserExecutionProvider[];
  /**
   * Where onnxruntime-web's .wasm and .mjs files are served, on the app's own origin (a URL
   * prefix ending in '/', or a map per file: ort.env.wasm.wasmPaths). Default: where the bundler
   * put them (the bundle names them with `new URL(file, import.meta.url)`, which Vite and
   * rolldown emit as assets). Never a CDN unless the app says so.
   */
  wasmPaths?: ort.Env.WasmPrefixOrFilePaths;
  /**
   * WASM threads. Threads need SharedArrayBuffer, which a page has only when cross-origin
   * isolated (COOP + COEP headers): default min(4, hardwareConcurrency) there, 1 elsewhere.
   */
  numThreads?: number;
}

/** What the runtime found out about a provider it tried. */
export interface ProviderNote {
  provider: BrowserExecutionProvider;
  ok: boolean;
  detail: string;
}

/**
 * Runs ONNX bytes with onnxruntime-web in a page, a worker or an Electron renderer: WebGPU where
 * the browser gives an adapter, else WASM (SIMD; multi-threaded when the page is cross-origin
 * isolated). Outputs come back on the CPU (the client sends them); GPU tensors an app passes in
 * are read with `await tensor.getData()` (toCpu). Runs go one after another through one queue
 * (one device, one WASM instance), so each run's time is its computation (runTimed).
 */
export class OrtWebRuntime implements Runtime<ort.Tensor> {
  private readonly providers: readonly BrowserExecutionProvider[];
  private readonly runs = new SerialRuns();
  private usable: Promise<BrowserExecutionProvider[]> | undefined;
  /** Why providers were skipped or chosen, in the order tried (for telemetry and diagnostics). */
  readonly notes: ProviderNote[] = [];

  constructor(private readonly options: OrtWebRuntimeOptions = {}) {
    this.providers = options.executionProviders ?? ['webgpu', 'wasm'];
    if (this.providers.length === 0 || this.providers.some((p) => p !== 'webgpu' && p !== 'wasm')) {
      throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `executionProviders must list 'webgpu' and/or 'wasm', got ${JSON.stringify(this.providers)}`);
    }
    configureWasm(options);
  }

  /** The providers this browser offers, in the configured order (WebGPU only with an adapter). */
  availableProviders(): Promise<BrowserExecutionProvider[]> {
    this.usable ??= this.findProviders();
    return this.usable;
  }

  private async findProviders(): Promise<BrowserExecutionProvider[]> {
    const found: BrowserExecutionProvider[] = [];
    for (const provider of this.providers) {
      if (provider === 'wasm') {
        found.push(provider);
        continue;
      }
      const detail = await webgpuAdapter();
      this.notes.push({ provider, ok: detail.ok, detail: detail.detail });
      if (detail.ok) found.push(provider);
    }
    return found;
  }

  private async enqueue(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>): Promise<{ outputs: Record<string, ort.Tensor>; computeMs: number }> {
    const { result, ms } = await this.runs.run(() => session.run(feeds) as Promise<Record<string, ort.Tensor>>);
    return { outputs: result, computeMs: ms };
  }

  async load(bytes: Uint8Array, label: string): Promise<RuntimeSession<ort.Tensor>> {
    for (const provider of await this.availableProviders()) {
      let session: ort.InferenceSession;
      try {
        session = await ort.InferenceSession.create(bytes, { executionProviders: [provider] });
      } catch (error) {
        // The next provider may load it; the note says why this one did not.
        this.notes.push({ provider, ok: false, detail: `${label}: ${(error as Error).message}` });
        continue;
      }
      return {
        inputNames: session.inputNames,
        outputNames: session.outputNames,
        executionProvider: provider,
        run: async (feeds) => (await this.enqueue(session, feeds)).outputs,
        runTimed: (feeds) => this.enqueue(session, feeds),
        release: () => session.release(),
      };
    }
    const why = this.notes.filter((note) => !note.ok).map((note) => `${note.provider}: ${note.detail}`);
    throw new CarboncpError(ErrorCode.BAD_MODEL, `onnxruntime-web cannot load ${label} with any of ${this.providers.join(', ')}: ${why.join('; ')}`);
  }

  tensor(datatype: DataType, data: TensorData, dims: number[]): ort.Tensor {
    const type = ortTypeOf(datatype);
    if (!type) throw new CarboncpError(ErrorCode.BAD_TENSOR, `datatype ${datatype} has no onnxruntime equivalent`);
    return new ort.Tensor(type, data as ort.Tensor.DataTypeMap[typeof type], dims);
  }

  describe(tensor: ort.Tensor): { datatype: DataType; data: TensorData } {
    if (typeof tensor !== 'object' || tensor === null || !('type' in tensor)) {
      throw new CarboncpError(ErrorCode.BAD_TENSOR, `expected an onnxruntime Tensor, got ${ArrayBuffer.isView(tensor) ? 'a typed array (wrap it in new ort.Tensor(type, data, dims))' : String(tensor)}`);
    }
    const datatype = wireTypeOf(tensor.type);
    if (!datatype) throw new CarboncpError(ErrorCode.BAD_TENSOR, `tensor type '${tensor.type}' cannot cross the wire (supported: ${WIRE_ORT_TYPES.join(', ')})`);
    if (tensor.location !== undefined && tensor.location !== 'cpu' && tensor.location !== 'cpu-pinned') {
      throw new CarboncpError(ErrorCode.BAD_TENSOR, `tensor data is on '${tensor.location}': read it with toCpu() first`);
    }
    return { datatype, data: tensor.data as TensorData };
  }

  /** A GPU tensor (location 'gpu-buffer' or 'ml-tensor') downloaded into a CPU one; others as they are. */
  async toCpu(tensor: ort.Tensor): Promise<ort.Tensor> {
    if (typeof tensor !== 'object' || tensor === null || tensor.location === undefined || tensor.location === 'cpu' || tensor.location === 'cpu-pinned') return tensor;
    const data = await tensor.getData();
    return new ort.Tensor(tensor.type, data as ort.Tensor.DataTypeMap[ort.Tensor.Type], tensor.dims);
  }
}

/** Sets onnxruntime-web's WASM environment once, before the first session. */
function configureWasm(options: OrtWebRuntimeOptions): void {
  if (options.wasmPaths !== undefined) ort.env.wasm.wasmPaths = options.wasmPaths;
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
  const cores = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 1;
  const threads = options.numThreads ?? (isolated ? Math.min(4, cores) : 1);
  if (threads > 1 && !isolated) {
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `numThreads ${threads} needs a cross-origin isolated page (COOP: same-origin, COEP: require-corp); this one is not`);
  }
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.simd = true;
}

async function webgpuAdapter(): Promise<{ ok: boolean; detail: string }> {
  const gpu = (globalThis as { navigator?: { gpu?: { requestAdapter(): Promise<{ info?: { vendor?: string; architecture?: string } } | null> } } }).navigator?.gpu;
  if (!gpu) return { ok: false, detail: 'navigator.gpu is missing (no WebGPU in this browser, or not a secure context)' };
  try {
    const adapter = await gpu.requestAdapter();
    if (!adapter) return { ok: false, detail: 'navigator.gpu.requestAdapter() gave no adapter' };
    const info = adapter.info;
    return { ok: true, detail: `adapter ${info?.vendor ?? '?'} ${info?.architecture ?? ''}`.trim() };
  } catch (error) {
    return { ok: false, detail: `requestAdapter failed: ${(error as Error).message}` };
  }
}
