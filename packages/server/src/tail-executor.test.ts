/**
 * The bounds and the answer-once rule of the tail executor and the main-thread backend, with
 * fake backends, fake repliers and fake timers: every job of a batch is answered exactly once,
 * whatever the backend does, and a run that never settles ends at tail-timeout-ms.
 */
import type { WireTensor } from '@carboncp/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { InferJob, JobReplier } from './infer-job.js';
import { LatencyWindow } from './latency-window.js';
import { MainThreadBackend } from './main-thread-backend.js';
import { createMetrics } from './metrics.js';
import type { ServedModel } from './model-registry.js';
import { TailExecutor, TailStageError, type TailBackend, type TailRequest } from './tail-executor.js';
import type { TailRunResult } from './tail-run.js';

afterEach(() => {
  vi.useRealTimers();
});

/** A replier that records every answer, optionally throwing on the first. */
function recorder(throwFirst = false) {
  const answers: { requestId: number; kind: 'response' | 'error'; code?: string }[] = [];
  let thrown = false;
  const replier: JobReplier = {
    open: true,
    sendResponse(requestId) {
      answers.push({ requestId, kind: 'response' });
      if (throwFirst && !thrown) {
        thrown = true;
        throw new Error('send failed');
      }
    },
    sendError(requestId, code) {
      answers.push({ requestId, kind: 'error', code });
    },
  };
  return { answers, replier };
}

const tensor: WireTensor = { name: 'h', datatype: 'FP32', shape: [1, 2], data: new Uint8Array(8) };
const model = { name: 'm', loaded: { bytes: new Uint8Array(1) } } as unknown as ServedModel;
const plan = { id: 'split-1', crossing: [{ name: 'h' }], tailOutputs: ['y'], tailParamBytes: 4 } as unknown as InferJob['plan'];

function jobs(replier: JobReplier, count: number): InferJob[] {
  return Array.from({ length: count }, (_, i) => ({
    batchKey: 'k',
    samples: 1,
    enqueuedAt: 0,
    replier,
    requestId: i + 1,
    bodyId: undefined,
    model,
    plan,
    planKey: 'm/split-1',
    inputs: [tensor],
    receivedAt: performance.now(),
    timeoutMs: undefined,
  }));
}

function executor(run: TailBackend['run']): { executor: TailExecutor; logs: string[] } {
  const logs: string[] = [];
  const metrics = createMetrics({ queueDepth: () => 0, inFlight: () => 0, sessionCacheEntries: () => 0, sessionCacheBytes: () => 0, connections: () => 0 });
  const backend: TailBackend = { run, canRun: () => true, close: async () => undefined };
  return { executor: new TailExecutor({ backend, metrics, latency: new LatencyWindow(), log: (line) => logs.push(line) }), logs };
}

const output = (): WireTensor => ({ name: 'y', datatype: 'FP32', shape: [1, 1], data: new Uint8Array(4) });

describe('TailExecutor answers every job exactly once', () => {
  it('when the backend returns fewer outcomes than jobs', async () => {
    const { answers, replier } = recorder();
    const result: TailRunResult = { outcomes: [{ outputs: [output()], batchSize: 2 }], runs: [], notes: [] };
    const { executor: ex, logs } = executor(async () => ({ result, provider: 'cpu' }));
    await ex.execute(jobs(replier, 2));
    expect(answers).toEqual([
      { requestId: 1, kind: 'response' },
      { requestId: 2, kind: 'error', code: 'CARBONCP_INTERNAL' },
    ]);
    expect(logs).toEqual([]);
  });

  it('when sending one answer throws: the others are still answered, none twice', async () => {
    const { answers, replier } = recorder(true);
    const result: TailRunResult = { outcomes: [0, 1, 2].map(() => ({ outputs: [output()], batchSize: 3 })), runs: [], notes: [] };
    const { executor: ex, logs } = executor(async () => ({ result, provider: 'cpu' }));
    await ex.execute(jobs(replier, 3));
    expect(answers.map((a) => a.requestId)).toEqual([1, 2, 3]);
    expect(logs.some((line) => /answering request 1 failed: send failed/.test(line))).toBe(true);
  });

  it('when the backend throws: every job gets the stage error code, once', async () => {
    const { answers, replier } = recorder();
    const { executor: ex } = executor(async () => {
      throw new TailStageError('the tail of m/split-1 did not finish within 5 ms (tail-timeout-ms)', new Error('no answer'), 'CARBONCP_TIMEOUT');
    });
    await ex.execute(jobs(replier, 2));
    expect(answers).toEqual([
      { requestId: 1, kind: 'error', code: 'CARBONCP_TIMEOUT' },
      { requestId: 2, kind: 'error', code: 'CARBONCP_TIMEOUT' },
    ]);
  });

  it('never rejects, even when the result is malformed', async () => {
    const { answers, replier } = recorder();
    const { executor: ex } = executor(async () => ({ result: { outcomes: null, runs: [], notes: [] } as unknown as TailRunResult, provider: 'cpu' }));
    await expect(ex.execute(jobs(replier, 2))).resolves.toBeUndefined();
    expect(answers.map((a) => [a.requestId, a.code])).toEqual([
      [1, 'CARBONCP_INTERNAL'],
      [2, 'CARBONCP_INTERNAL'],
    ]);
  });
});

describe('MainThreadBackend bound', () => {
  it('ends a run whose session never opens at tail-timeout-ms with CARBONCP_TIMEOUT (fake timers)', async () => {
    vi.useFakeTimers();
    const backend = new MainThreadBackend({ sessionCacheBytes: 1 << 20, executionProviders: ['cpu'], log: () => undefined, onSessionProvider: () => undefined, callTimeoutMs: 5000 });
    backend.sessions.acquire = () => new Promise(() => undefined);
    const request = { planKey: 'm/split-1', spec: { planKey: 'm/split-1', crossing: ['h'], tailOutputs: ['y'] }, sizeBytes: 4, tailBytes: () => new Uint8Array(), feeds: [tensor], samples: [1] } as TailRequest;
    let settled: unknown;
    const running = backend.run(request).then(
      () => (settled = 'resolved'),
      (error: unknown) => (settled = error),
    );
    await vi.advanceTimersByTimeAsync(4999);
    expect(settled).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    await running;
    expect(settled).toBeInstanceOf(TailStageError);
    expect(settled).toMatchObject({ code: 'CARBONCP_TIMEOUT', message: expect.stringMatching(/did not finish within 5000 ms \(tail-timeout-ms\)/) });
  });
});
