import { WIRE_ORT_TYPES, ortTypeOf, wireTypeOf } from '@carboncp/core/node';
import { CarboncpError, type DataType, ErrorCode } from '@carboncp/protocol';
import * as ort from 'onnxruntime-node';
import type { Runtime, RuntimeSession, TensorData } from '../client/types.js';
import { SerialRuns } from '../client/serial-runs.js';

export interface OrtRuntimeOptions {
  /** Threads per session (onnxruntime's intraOpNumThreads); default: onnxruntime's choice. */
  intraOpNumThreads?: number;
  /**
   * Let idle onnxruntime worker threads busy-wait for the next run (onnxruntime's default).
   * Default false here: on a device, spinning burns energy and steals the cores that the rest of
   * the app (and, in the demo, the server's tail) needs between requests.
   */
  allowSpinning?: boolean;
}

/**
 * Runs ONNX bytes with onnxruntime-node on the CPU (an edge device has no server GPU).
 *
 * onnxruntime-node computes a run synchronously on the JavaScript thread (its run() defers to
 * setImmediate, then blocks), so concurrent runs execute one after another anyway. This runtime
 * makes that order explicit: its runs (over all its sessions) go through one queue, each started
 * when the previous has finished. So a run's measured time is its computation alone (runTimed),
 * the time spent behind other runs is known to be waiting, and the event loop gets a turn between
 * runs (responses are read while heads are queued).
 */
export class OrtRuntime implements Runtime<ort.Tensor> {
  private readonly runs = new SerialRuns();

  constructor(private readonly options: OrtRuntimeOptions = {}) {}

  private async enqueue(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>): Promise<{ outputs: Record<string, ort.Tensor>; computeMs: number }> {
    const { result, ms } = await this.runs.run(() => session.run(feeds) as Promise<Record<string, ort.Tensor>>);
    return { outputs: result, computeMs: ms };
  }

  async load(bytes: Uint8Array, label: string): Promise<RuntimeSession<ort.Tensor>> {
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(bytes, {
        executionProviders: ['cpu'],
        ...(this.options.intraOpNumThreads ? { intraOpNumThreads: this.options.intraOpNumThreads } : {}),
        extra: { session: { intra_op: { allow_spinning: this.options.allowSpinning ? '1' : '0' } } },
      });
    } catch (error) {
      throw new CarboncpError(ErrorCode.BAD_MODEL, `onnxruntime cannot load ${label}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    return {
      inputNames: session.inputNames,
      outputNames: session.outputNames,
      run: async (feeds) => (await this.enqueue(session, feeds)).outputs,
      runTimed: (feeds) => this.enqueue(session, feeds),
      release: () => session.release(),
      executionProvider: 'cpu',
    };
  }

  tensor(datatype: DataType, data: TensorData, dims: number[]): ort.Tensor {
    const type = ortTypeOf(datatype);
    if (!type) throw new CarboncpError(ErrorCode.BAD_TENSOR, `datatype ${datatype} has no onnxruntime equivalent`);
    return new ort.Tensor(type, data as ort.Tensor.DataTypeMap[typeof type], dims);
  }

  describe(tensor: ort.Tensor): { datatype: DataType; data: TensorData } {
    if (!(tensor instanceof ort.Tensor) && (typeof tensor !== 'object' || tensor === null || !('type' in tensor))) {
      throw new CarboncpError(ErrorCode.BAD_TENSOR, `expected an onnxruntime Tensor, got ${describeValue(tensor)}`);
    }
    const datatype = wireTypeOf(tensor.type);
    if (!datatype) {
      throw new CarboncpError(
        ErrorCode.BAD_TENSOR,
        `tensor type '${tensor.type}' cannot cross the wire (supported: ${WIRE_ORT_TYPES.join(', ')})`,
      );
    }
    if (tensor.location !== undefined && tensor.location !== 'cpu') {
      throw new CarboncpError(ErrorCode.BAD_TENSOR, `tensor data is on '${tensor.location}', the device client needs CPU tensors`);
    }
    return { datatype, data: tensor.data as TensorData };
  }
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name} (wrap it in new ort.Tensor(type, data, dims))`;
  return typeof value;
}
