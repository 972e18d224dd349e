// Test entry of WorkerRuntime (excluded from the build): the real head worker, plus faults
// chosen by a run's first input value: -12345 ends the thread (as a crash would), -777 is a
// gate: the input lives in a SharedArrayBuffer whose last int32 cell the thread sets (and notifies) once the run is on it, and which then
// waits on the cell before it until the test stores 1 there; the run then goes on as usual.
// The real worker handles each message in a later microtask, so this listener, called in the
// same dispatch, acts before the run starts.
import { parentPort } from 'node:worker_threads';
import './head-worker.js';

parentPort?.on('message', (message) => {
  if (message.op !== 'run') return;
  const first = Object.values(message.feeds)[0];
  const value = first?.data?.[0];
  if (value === -12345) process.exit(7);
  if (value === -777 && first.data.buffer instanceof SharedArrayBuffer) {
    const cells = new Int32Array(first.data.buffer);
    Atomics.store(cells, cells.length - 1, 1);
    Atomics.notify(cells, cells.length - 1);
    Atomics.wait(cells, cells.length - 2, 0);
    // onnxruntime is given a copy in a plain ArrayBuffer, as for any other run.
    first.data = first.data.slice();
  }
});
