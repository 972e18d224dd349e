/**
 * Messages between the server's main thread and a tail worker (see tail-worker.ts and
 * tail-worker-pool.ts). Every request carries an id; the worker answers each with a reply of the
 * same id, in the order it finishes them (it runs one at a time).
 */
import type { ExecutionProvider } from '@carboncp/core/node';
import type { WireTensor } from '@carboncp/protocol';
import type { RunError, TailRunResult, TailRunSpec } from './tail-run.js';

export type ToWorker =
  /** Builds a session from tail model bytes; the reply's value is an OpenedSession. */
  | { type: 'open'; id: number; sessionId: number; planKey: string; tail: Uint8Array; executionProviders: ExecutionProvider[] }
  /** Runs a batch on an open session; the reply's value is a TailRunResult. */
  | { type: 'run'; id: number; sessionId: number; spec: TailRunSpec; feeds: WireTensor[]; samples: number[] }
  /** Releases a session; no reply. */
  | { type: 'release'; sessionId: number }
  /**
   * Releases every session, replies, then closes the port so the thread ends by itself:
   * terminating a thread while onnxruntime is inside a call can abort the whole process.
   */
  | { type: 'close'; id: number };

export interface OpenedSession {
  provider: ExecutionProvider;
  ms: number;
}

export type FromWorker =
  /** Sent once the worker's modules (onnxruntime included) are loaded. */
  | { type: 'ready' }
  | { type: 'reply'; id: number; ok: true; value: OpenedSession | TailRunResult | null }
  | { type: 'reply'; id: number; ok: false; error: RunError };

/** The ArrayBuffers under these tensors, each once: what a postMessage can transfer. */
export function buffersOf(tensors: Iterable<WireTensor>): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const tensor of tensors) {
    // An empty buffer gains nothing by a transfer, and a detached one (which reads as empty)
    // would make postMessage drop the whole message without a word.
    if (tensor.data.buffer instanceof ArrayBuffer && tensor.data.buffer.byteLength > 0) buffers.add(tensor.data.buffer);
  }
  return [...buffers];
}

/** A request that gets a reply, before the pool gives it an id. */
export type WorkerCall = Extract<ToWorker, { type: 'open' | 'run' | 'close' }> extends infer M ? (M extends { id: number } ? Omit<M, 'id'> : never) : never;
