/** Messages between WorkerRuntime (main thread) and head-worker.js (its thread). */

/** A tensor as it crosses the thread boundary: onnxruntime's type name, dims and a typed array. */
export interface WireTensor {
  type: string;
  dims: readonly number[];
  data: ArrayBufferView;
}

export type ToHeadWorker =
  | { op: 'load'; id: number; bytes: Uint8Array }
  | { op: 'run'; id: number; session: number; feeds: Record<string, WireTensor> }
  | { op: 'release'; id: number; session: number }
  /** Release every session and exit, after the calls posted before it (no reply). */
  | { op: 'end'; id: number };

export type FromHeadWorker =
  | { id: number; ok: true; session: number; inputNames: string[]; outputNames: string[] }
  | { id: number; ok: true; outputs: Record<string, WireTensor> }
  | { id: number; ok: true }
  | { id: number; ok: false; error: { message: string } };
