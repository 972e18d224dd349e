/**
 * Test helpers around the gated test worker (test-tail-worker.ts): servers whose tail worker
 * acts on marker values, and the SharedArrayBuffer gate that holds a run inside the worker
 * until the test lets it go (ordering, not timing).
 */
import { tensorFromArray, tensorToArray, type WireTensor } from '@carboncp/protocol';
import { startServer, type CarboncpServer, type ServerOptions } from '../index.js';
import { CLS_INPUT_SHAPES, CLS_PATH } from './fixtures.js';

const TEST_ENTRY = new URL('./test-tail-worker.ts', import.meta.url);

/** Starts PP-OCR classifier servers on the test worker; `closeAll` in afterEach. */
export function gatedServers() {
  const servers: CarboncpServer[] = [];
  const logs: string[] = [];
  return {
    logs,
    async start(options: Partial<ServerOptions> = {}, gate?: SharedArrayBuffer): Promise<CarboncpServer> {
      const server = await startServer(
        { models: [CLS_PATH], inputShapes: CLS_INPUT_SHAPES, port: 0, executor: 'worker', log: (line) => logs.push(line), ...options },
        { tailWorkerEntry: TEST_ENTRY, tailWorkerData: gate },
      );
      servers.push(server);
      return server;
    },
    async closeAll(): Promise<void> {
      for (const server of servers.splice(0)) await server.close({ drainMs: 2000 });
      logs.length = 0;
    },
  };
}

/** The split plan's inputs with the first value replaced by a marker of the test worker. */
export function marked(sample: WireTensor[], marker: number): WireTensor[] {
  const [t] = sample;
  const values = Float32Array.from(tensorToArray(t) as Float32Array);
  values[0] = marker;
  return [tensorFromArray(t.name, values, [...t.shape])];
}

/** Atomics.waitAsync (Node 16+), absent from the TypeScript lib this repository targets. */
const waitAsync = (Atomics as unknown as {
  waitAsync(cells: Int32Array, index: number, value: number): { async: false; value: string } | { async: true; value: Promise<string> };
}).waitAsync;

/** Resolves once the test worker reports that it is blocked on the gate (it notifies gate[1]). */
export async function untilBlocked(cells: Int32Array): Promise<void> {
  while (Atomics.load(cells, 1) !== 1) {
    const waiting = waitAsync(cells, 1, 0);
    if (waiting.async) await waiting.value;
  }
}

export function openGate(cells: Int32Array): void {
  Atomics.store(cells, 0, 1);
  Atomics.notify(cells, 0);
}
