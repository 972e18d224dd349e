// @ts-check
// The thread of WorkerRuntime (worker-runtime.ts): loads onnxruntime sessions and runs them off
// the caller's event loop. Plain JavaScript on purpose: a worker thread does not inherit a test
// runner's TypeScript transform, so the same file runs from src/ (tests) and dist/ (tsc copies it
// with allowJs), with no loader hooks. It imports nothing of carboncp: messages in, messages out
// (see worker-protocol.ts); the main thread turns failures into coded errors.
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';

if (!parentPort) throw new Error('head-worker.js runs as a worker thread (see WorkerRuntime)');
const port = parentPort;

/** @type {{ intraOpNumThreads?: number, allowSpinning?: boolean }} */
const options = workerData?.options ?? {};
/** @type {Map<number, ort.InferenceSession>} */
const sessions = new Map();
let nextSession = 1;

/** @param {unknown} error */
function describe(error) {
  return { message: error instanceof Error ? error.message : String(error) };
}

/**
 * The output's bytes go back without a copy when the tensor owns its whole buffer (the usual
 * case for onnxruntime-node's CPU outputs); otherwise the view is copied into a buffer of its own.
 * @param {ort.Tensor} tensor
 */
function ownedData(tensor) {
  const data = /** @type {ArrayBufferView} */ (tensor.data);
  if (data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && data.buffer instanceof ArrayBuffer) return data;
  return /** @type {ArrayBufferView} */ (/** @type {any} */ (data).slice());
}

/** @param {any} message */
async function handle(message) {
  const { id } = message;
  try {
    if (message.op === 'load') {
      const session = await ort.InferenceSession.create(message.bytes, {
        executionProviders: ['cpu'],
        ...(options.intraOpNumThreads ? { intraOpNumThreads: options.intraOpNumThreads } : {}),
        extra: { session: { intra_op: { allow_spinning: options.allowSpinning ? '1' : '0' } } },
      });
      const session_id = nextSession++;
      sessions.set(session_id, session);
      port.postMessage({ id, ok: true, session: session_id, inputNames: session.inputNames, outputNames: session.outputNames });
    } else if (message.op === 'run') {
      const session = sessions.get(message.session);
      if (!session) throw new Error(`no session ${message.session} in this worker`);
      /** @type {Record<string, ort.Tensor>} */
      const feeds = {};
      for (const [name, t] of Object.entries(message.feeds)) feeds[name] = new ort.Tensor(t.type, t.data, t.dims);
      const results = await session.run(feeds);
      /** @type {Record<string, { type: string, dims: readonly number[], data: ArrayBufferView }>} */
      const outputs = {};
      /** @type {ArrayBuffer[]} */
      const transfer = [];
      for (const [name, tensor] of Object.entries(results)) {
        const data = ownedData(tensor);
        outputs[name] = { type: tensor.type, dims: tensor.dims, data };
        if (!transfer.includes(/** @type {ArrayBuffer} */ (data.buffer))) transfer.push(/** @type {ArrayBuffer} */ (data.buffer));
      }
      try {
        port.postMessage({ id, ok: true, outputs }, transfer);
      } catch {
        port.postMessage({ id, ok: true, outputs }); // a buffer that cannot be transferred is copied
      }
    } else if (message.op === 'release') {
      const session = sessions.get(message.session);
      sessions.delete(message.session);
      await session?.release();
      port.postMessage({ id, ok: true });
    } else if (message.op === 'end') {
      // Retired (see HeadThread.retire): reached only once the calls before it have returned,
      // so the thread ends outside any onnxruntime call.
      await Promise.allSettled([...sessions.values()].map((session) => session.release()));
      sessions.clear();
      process.exit(0);
    } else {
      throw new Error(`unknown op ${JSON.stringify(message.op)}`);
    }
  } catch (error) {
    port.postMessage({ id, ok: false, error: describe(error) });
  }
}

// One call at a time, in order: onnxruntime-node runs a session on its calling thread, so runs
// cannot overlap here anyway, and a load is done before the runs that were posted after it.
let chain = Promise.resolve();
port.on('message', (message) => {
  chain = chain.then(() => handle(message));
});
