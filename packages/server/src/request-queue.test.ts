import { isCarboncpError } from '@carboncp/protocol';
import { describe, expect, it } from 'vitest';
import { RequestQueue, type QueuedJob } from './request-queue.js';

interface TestJob extends QueuedJob {
  id: number;
}

function job(id: number, batchKey: string | null = 'p', samples = 1): TestJob {
  return { id, batchKey, samples, enqueuedAt: performance.now() };
}

/** An executor whose batches finish only when the test says so. */
function gatedExecutor() {
  const batches: number[][] = [];
  let open: (() => void)[] = [];
  return {
    batches,
    execute: (jobs: TestJob[]) =>
      new Promise<void>((resolve) => {
        batches.push(jobs.map((j) => j.id));
        open.push(resolve);
      }),
    releaseAll() {
      const gates = open;
      open = [];
      for (const g of gates) g();
    },
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('RequestQueue', () => {
  it('runs jobs one at a time in order without batching', async () => {
    const exec = gatedExecutor();
    const queue = new RequestQueue<TestJob>({ maxQueue: 10, batching: false, execute: exec.execute });
    for (let i = 1; i <= 3; i++) queue.submit(job(i));
    await tick();
    expect(exec.batches).toEqual([[1]]);
    expect(queue.inFlight).toBe(1);
    expect(queue.depth).toBe(2);
    for (let i = 0; i < 3; i++) {
      exec.releaseAll();
      await tick();
      await tick();
    }
    expect(exec.batches).toEqual([[1], [2], [3]]);
    expect(await queue.drain(1000)).toBe(true);
  });

  it('refuses with CARBONCP_BUSY when max-queue jobs are waiting', async () => {
    const exec = gatedExecutor();
    const queue = new RequestQueue<TestJob>({ maxQueue: 2, batching: false, execute: exec.execute });
    queue.submit(job(1)); // starts running at once: not counted as waiting
    await tick();
    queue.submit(job(2));
    queue.submit(job(3));
    let error: unknown;
    try {
      queue.submit(job(4));
    } catch (e) {
      error = e;
    }
    expect(isCarboncpError(error, 'CARBONCP_BUSY')).toBe(true);
    expect((error as Error).message).toMatch(/2 requests are queued \(max-queue 2\)/);
    exec.releaseAll();
    await tick();
    await tick();
    queue.submit(job(5)); // room again
    expect(queue.depth).toBe(2);
  });

  it('batches jobs with the same key up to maxBatch samples, keeping other keys apart', async () => {
    const exec = gatedExecutor();
    const queue = new RequestQueue<TestJob>({
      maxQueue: 20,
      batching: { maxBatch: 3, windowMs: 50 },
      execute: exec.execute,
    });
    queue.submit(job(1, 'a'));
    queue.submit(job(2, 'b'));
    queue.submit(job(3, 'a'));
    queue.submit(job(4, null));
    queue.submit(job(5, 'a', 2)); // would make 4 samples: left for a later batch
    queue.submit(job(6, 'a'));
    await tick();
    expect(exec.batches).toEqual([[1, 3, 6]]);
    for (let i = 0; i < 4; i++) {
      exec.releaseAll();
      await new Promise((resolve) => setTimeout(resolve, 60));
    }
    expect(exec.batches).toEqual([[1, 3, 6], [2], [4], [5]]);
  });

  it('waits up to the window for company, then runs a partial batch', async () => {
    const exec = gatedExecutor();
    const queue = new RequestQueue<TestJob>({
      maxQueue: 20,
      batching: { maxBatch: 8, windowMs: 30 },
      execute: exec.execute,
    });
    queue.submit(job(1));
    await tick();
    expect(exec.batches).toEqual([]); // still waiting for company
    queue.submit(job(2));
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(exec.batches).toEqual([[1, 2]]);
    exec.releaseAll();
    expect(await queue.drain(1000)).toBe(true);
  });

  it('refuses new jobs after close() but drains queued ones', async () => {
    const exec = gatedExecutor();
    const queue = new RequestQueue<TestJob>({ maxQueue: 5, batching: false, execute: exec.execute });
    queue.submit(job(1));
    queue.submit(job(2));
    queue.close();
    expect(() => queue.submit(job(3))).toThrow(/shutting down/);
    const drained = queue.drain(1000);
    for (let i = 0; i < 3; i++) {
      await tick();
      exec.releaseAll();
      await tick();
    }
    expect(await drained).toBe(true);
    expect(exec.batches).toEqual([[1], [2]]);
  });

  it('drain() reports false when the timeout passes first', async () => {
    const exec = gatedExecutor();
    const queue = new RequestQueue<TestJob>({ maxQueue: 5, batching: false, execute: exec.execute });
    queue.submit(job(1));
    expect(await queue.drain(20)).toBe(false);
    exec.releaseAll();
    expect(await queue.drain(1000)).toBe(true);
  });

  it('reports an executor failure and keeps going', async () => {
    const failures: number[][] = [];
    const ran: number[] = [];
    const queue = new RequestQueue<TestJob>({
      maxQueue: 5,
      batching: false,
      execute: async (jobs) => {
        ran.push(jobs[0].id);
        if (jobs[0].id === 1) throw new Error('boom');
      },
      onError: (_e, jobs) => failures.push(jobs.map((j) => j.id)),
    });
    queue.submit(job(1));
    queue.submit(job(2));
    expect(await queue.drain(1000)).toBe(true);
    expect(ran).toEqual([1, 2]);
    expect(failures).toEqual([[1]]);
  });

  it('rejects invalid options with a clear error', () => {
    const execute = async () => undefined;
    expect(() => new RequestQueue({ maxQueue: 0, batching: false, execute })).toThrow(/maxQueue must be a positive integer, got 0/);
    expect(() => new RequestQueue({ maxQueue: 1, batching: { maxBatch: 0, windowMs: 1 }, execute })).toThrow(/maxBatch/);
    expect(() => new RequestQueue({ maxQueue: 1, batching: { maxBatch: 2, windowMs: -1 }, execute })).toThrow(/windowMs/);
  });
});
