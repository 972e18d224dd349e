/**
 * A tail worker entry for tests: the real worker (tail-worker.ts) plus a listener that runs first
 * and acts on runs whose first crossing value is a marker:
 * - EXIT_MARKER: process.exit(7) inside the worker;
 * - THROW_MARKER: an uncaught error in the worker;
 * - GATE_MARKER: blocks the worker thread (as a long tail would) until the test opens the gate,
 *   a SharedArrayBuffer passed as workerData.data: the worker sets gate[1] = 1 when it blocks,
 *   the test sets gate[0] = 1 and notifies to let the run go on.
 * - SWALLOW_MARKER: the run happens, but its reply is dropped on the way back (a reply that
 *   never comes, as when Node drops a message).
 * With a gate of 3 or more cells, gate[2] counts the 'close' messages the worker receives (the
 * pool asks a worker to end itself rather than terminating it). With 4 or more, a worker started
 * while gate[3] is 1 fails to start (so a replacement cannot take a dead worker's slot), and one
 * started while gate[3] is 2 hangs before it is ready until gate[3] changes (and is notified).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { ToWorker } from '../tail-worker-protocol.js';
import { EXIT_MARKER, GATE_MARKER, SWALLOW_MARKER, THROW_MARKER } from './worker-markers.js';

const gate = (workerData as { data?: SharedArrayBuffer }).data;

function firstValue(message: Extract<ToWorker, { type: 'run' }>): number {
  const data = message.feeds[0]?.data;
  if (!data || data.byteLength < 4) return Number.NaN;
  return new DataView(data.buffer, data.byteOffset, 4).getFloat32(0, true);
}

if (gate && gate.byteLength >= 16) {
  const cells = new Int32Array(gate);
  if (Atomics.load(cells, 3) === 1) throw new Error('test worker: refusing to start');
  // gate[3] = 2: the worker hangs while starting (never says 'ready') until the test sets it back.
  Atomics.wait(cells, 3, 2, 60_000);
}

/** Ids of runs whose reply is to be dropped. */
const swallowed = new Set<number>();
const post = parentPort!.postMessage.bind(parentPort!);
parentPort!.postMessage = (message: { type?: string; id?: number }, transfer?: readonly ArrayBuffer[]) => {
  if (message?.type === 'reply' && message.id !== undefined && swallowed.delete(message.id)) return;
  post(message, transfer as ArrayBuffer[]);
};

parentPort!.on('message', (message: ToWorker) => {
  if (message.type === 'close' && gate && gate.byteLength >= 12) Atomics.add(new Int32Array(gate), 2, 1);
  if (message.type !== 'run') return;
  const marker = firstValue(message);
  if (marker === SWALLOW_MARKER) swallowed.add(message.id);
  if (marker === EXIT_MARKER) process.exit(7);
  if (marker === THROW_MARKER) throw new Error('test worker: deliberate uncaught error');
  if (marker === GATE_MARKER && gate) {
    const cells = new Int32Array(gate);
    Atomics.store(cells, 1, 1);
    Atomics.notify(cells, 1);
    Atomics.wait(cells, 0, 0, 60_000);
  }
});

await import('../tail-worker.js');
