/**
 * Entry of a tail worker thread (the 'worker' executor): owns onnxruntime sessions built from the
 * tail model bytes the main thread sends once per session, and runs batches on them. A run blocks
 * this thread, not the server's event loop. Outputs go back transferred, not copied; a failure of
 * a run goes back as a reply, so only a real crash (the thread exiting) costs the main thread
 * anything, and it handles that (tail-worker-pool.ts).
 */
import { parentPort } from 'node:worker_threads';
import { createSession } from '@carboncp/core/node';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import type * as ort from 'onnxruntime-node';
import { runTail, toRunError } from './tail-run.js';
import { buffersOf, type FromWorker, type ToWorker } from './tail-worker-protocol.js';

const port = parentPort;
if (!port) throw new Error('tail-worker.js runs as a worker thread (node:worker_threads), not as a script');

const sessions = new Map<number, ort.InferenceSession>();

function reply(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  try {
    port!.postMessage(message, transfer);
  } catch {
    // onnxruntime may hand out an output buffer that cannot be detached: send it copied.
    port!.postMessage(message);
  }
}

async function handle(message: ToWorker): Promise<void> {
  if (message.type === 'release') {
    const session = sessions.get(message.sessionId);
    sessions.delete(message.sessionId);
    await session?.release();
    return;
  }
  try {
    if (message.type === 'close') {
      const open = [...sessions.values()];
      sessions.clear();
      await Promise.allSettled(open.map((session) => session.release()));
      reply({ type: 'reply', id: message.id, ok: true, value: null });
      port!.close();
      return;
    }
    if (message.type === 'open') {
      const started = performance.now();
      const opened = await createSession(message.tail, { executionProviders: message.executionProviders, log: () => undefined });
      sessions.set(message.sessionId, opened.session);
      reply({ type: 'reply', id: message.id, ok: true, value: { provider: opened.provider, ms: performance.now() - started } });
      return;
    }
    const session = sessions.get(message.sessionId);
    if (!session) throw new CarboncpError(ErrorCode.INTERNAL, `tail worker has no session ${message.sessionId} for ${message.spec.planKey}`);
    const result = await runTail(session, message.spec, message.feeds, message.samples);
    const outputs = result.outcomes.flatMap((outcome) => ('outputs' in outcome ? outcome.outputs : []));
    reply({ type: 'reply', id: message.id, ok: true, value: result }, buffersOf(outputs));
  } catch (error) {
    reply({ type: 'reply', id: message.id, ok: false, error: toRunError(error) });
  }
}

port.on('message', (message: ToWorker) => {
  void handle(message);
});
port.postMessage({ type: 'ready' } satisfies FromWorker);
