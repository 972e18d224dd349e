// Test entry of WorkerRuntime (excluded from the build): the real head worker, plus two faults
// chosen by a run's first input value: -12345 ends the thread (as a crash would), -54321 spins
// for ever (a run that never finishes). The real worker handles each message in a later
// microtask, so this listener, called in the same dispatch, acts before the run starts.
import { parentPort } from 'node:worker_threads';
import './head-worker.js';

parentPort?.on('message', (message) => {
  if (message.op !== 'run') return;
  const first = Object.values(message.feeds)[0]?.data?.[0];
  if (first === -12345) process.exit(7);
  if (first === -54321) for (;;);
});
