import { isCarboncpError } from '@carboncp/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
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
    get running() {
      return open.length;
    },
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

  it('with concurrency 2 runs two batches at once, the next when one ends, and drains after both', async () => {
    const exec = gatedExecutor();
    const queue = new RequestQueue<TestJob>({ maxQueue: 10, batching: false, concurrency: 2, execute: exec.execute });
    for (let i = 1; i <= 3; i++) queue.submit(job(i));
    await tick();
    expect(exec.batches).toEqual([[1], [2]]);
    expect(queue.inFlight).toBe(2);
    expect(queue.depth).toBe(1);
    let drained = false;
    void queue.drain(10_000).then((idle) => {
      drained = idle;
    });
    exec.releaseAll();
    await tick();
    await tick();
    expect(exec.batches).toEqual([[1], [2], [3]]);
    expect(queue.inFlight).toBe(1);
    expect(drained).toBe(false);
    exec.releaseAll();
    await tick();
    expect(drained).toBe(true);
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

  // Every way out of a batch counts its jobs out of inFlight exactly once and frees its slot.
  for (const [how, execute, onError] of [
    ['settles', async () => undefined, undefined],
    ['rejects', async () => Promise.reject(new Error('boom')), () => undefined],
    ['throws synchronously', () => {
      throw new Error('sync boom');
    }, () => undefined],
    ['rejects and onError throws', async () => Promise.reject(new Error('boom')), () => {
      throw new Error('handler boom');
    }],
  ] as const) {
    it(`counts a batch out of inFlight exactly once when execute ${how}`, async () => {
      const ran: number[] = [];
      const queue = new RequestQueue<TestJob>({
        maxQueue: 5,
        batching: false,
        concurrency: 2,
        execute: (jobs) => {
          ran.push(jobs[0].id);
          return (execute as (jobs: TestJob[]) => Promise<void>)(jobs);
        },
        ...(onError ? { onError } : {}),
      });
      for (let id = 1; id <= 4; id++) queue.submit(job(id));
      expect(await queue.drain(1000)).toBe(true);
      expect(ran).toEqual([1, 2, 3, 4]);
      expect(queue.inFlight).toBe(0);
      expect(queue.depth).toBe(0);
      // The slots are free again: another job runs.
      queue.submit(job(5));
      expect(await queue.drain(1000)).toBe(true);
      expect(ran).toEqual([1, 2, 3, 4, 5]);
      expect(queue.inFlight).toBe(0);
    });
  }
});

/**
 * Adaptive batching, deterministic: only setTimeout is faked (the batching window), the queue's
 * clock is a number the test moves, and the gated executor finishes a run when told.
 */
describe('RequestQueue adaptive batching', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  function setup(maxBatch: number, windowMs: number, maxQueue = 64) {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const clock = { t: 1000 };
    const exec = gatedExecutor();
    const queue = new RequestQueue<TestJob>({ maxQueue, batching: { maxBatch, windowMs }, execute: exec.execute, now: () => clock.t });
    const submit = (id: number, key = 'p', samples = 1) => {
      queue.submit({ id, batchKey: key, samples, enqueuedAt: clock.t });
    };
    /** Lets the queue take what is waiting (its runs start on the next check phases). */
    const settle = async () => {
      for (let i = 0; i < 4; i++) await tick();
    };
    return { clock, exec, queue, submit, settle };
  }

  it('dispatches a lone request at once, however long the window, again and again', async () => {
    const { exec, submit, settle } = setup(16, 60_000);
    for (let round = 1; round <= 3; round++) {
      submit(round);
      await settle();
      expect(exec.batches.at(-1)).toEqual([round]);
      exec.releaseAll();
      await settle();
    }
    expect(exec.batches).toEqual([[1], [2], [3]]);
  });

  it('runs the requests that arrived during a run together on the next run, without waiting', async () => {
    const { exec, submit, settle } = setup(16, 60_000);
    submit(1);
    await settle();
    submit(2);
    submit(3);
    submit(4);
    await settle();
    expect(exec.batches).toEqual([[1]]); // one run at a time
    exec.releaseAll();
    await settle();
    expect(exec.batches).toEqual([[1], [2, 3, 4]]);
  });

  it('respects maxBatch in samples and keeps later requests for the next run', async () => {
    const { exec, queue, submit, settle } = setup(3, 60_000);
    submit(1);
    await settle();
    submit(2);
    submit(3, 'p', 2);
    submit(4);
    submit(5);
    submit(6, 'p', 3);
    await settle();
    exec.releaseAll();
    await settle();
    expect(exec.batches).toEqual([[1], [2, 3]]);
    expect(queue.depth).toBe(3);
    exec.releaseAll();
    await settle();
    expect(exec.batches).toEqual([[1], [2, 3], [4, 5]]);
    exec.releaseAll();
    await settle();
    expect(exec.batches).toEqual([[1], [2, 3], [4, 5], [6]]);
  });

  it('batches each plan separately, in order of the oldest waiting request', async () => {
    const { exec, submit, settle } = setup(16, 60_000);
    submit(1, 'a');
    await settle();
    submit(2, 'b');
    submit(3, 'a');
    submit(4, 'b');
    submit(5, 'a');
    await settle();
    exec.releaseAll();
    await settle();
    expect(exec.batches).toEqual([[1], [2, 4]]);
    exec.releaseAll();
    await settle();
    expect(exec.batches).toEqual([[1], [2, 4], [3, 5]]);
  });

  it('never batches jobs without a key', async () => {
    const { exec, queue, settle } = setup(16, 60_000);
    queue.submit(job(1, null));
    queue.submit(job(2, null));
    await settle();
    exec.releaseAll();
    await settle();
    expect(exec.batches).toEqual([[1], [2]]);
  });

  it('keeps the queue bound: CARBONCP_BUSY once maxQueue requests wait behind a run', async () => {
    const { exec, queue, submit, settle } = setup(16, 60_000, 2);
    submit(1);
    await settle();
    submit(2);
    submit(3);
    let error: unknown;
    try {
      submit(4);
    } catch (e) {
      error = e;
    }
    expect(isCarboncpError(error, 'CARBONCP_BUSY')).toBe(true);
    expect(queue.depth).toBe(2);
    exec.releaseAll();
    await settle();
    expect(exec.batches).toEqual([[1], [2, 3]]);
    submit(4);
    submit(5);
    expect(queue.depth).toBe(2);
  });

  /** Four closed-loop clients: A ran alone, B, C, D came during its run and ran together. */
  async function splitClients(windowMs: number) {
    const s = setup(16, windowMs);
    s.submit(1);
    await s.settle();
    s.submit(2);
    s.submit(3);
    s.submit(4);
    s.exec.releaseAll();
    await s.settle();
    expect(s.exec.batches).toEqual([[1], [2, 3, 4]]);
    s.clock.t += 5;
    s.submit(5); // A is back while B, C and D run
    s.clock.t += 5; // their run takes longer than the window
    s.exec.releaseAll();
    await s.settle();
    return s;
  }

  it('when more are known to be coming, the idle executor waits for them, not for the window', async () => {
    const { exec, submit, settle } = await splitClients(60_000);
    expect(exec.batches).toHaveLength(2); // A waits: B, C and D were answered together and come back
    submit(6);
    await settle();
    expect(exec.batches).toHaveLength(2);
    submit(7); // completes the expected three; 8, read in the same loop turn, joins
    submit(8);
    await settle();
    expect(exec.batches).toEqual([[1], [2, 3, 4], [5, 6, 7, 8]]);
    // From now on the four stay together.
    exec.releaseAll();
    await settle();
    for (const id of [9, 10, 11]) submit(id);
    await settle();
    expect(exec.batches).toHaveLength(3);
    submit(12);
    await settle();
    expect(exec.batches.at(-1)).toEqual([9, 10, 11, 12]);
  });

  it('waits at most windowMs from when the executor became idle, then lowers its expectation', async () => {
    const { clock, exec, submit, settle } = await splitClients(2);
    submit(6);
    await settle();
    vi.advanceTimersByTime(1);
    await settle();
    expect(exec.batches).toHaveLength(2);
    vi.advanceTimersByTime(1); // D and C never come
    await settle();
    expect(exec.batches).toEqual([[1], [2, 3, 4], [5, 6]]);
    exec.releaseAll();
    await settle();
    // Two were answered: when both are back they run without waiting for the window.
    clock.t += 0.5;
    submit(7);
    await settle();
    expect(exec.batches).toHaveLength(3);
    submit(8);
    await settle();
    expect(exec.batches.at(-1)).toEqual([7, 8]);
  });

  it('does not wait when the previous batch finished longer than windowMs before the request', async () => {
    const { clock, exec, submit, settle } = setup(16, 2);
    submit(1);
    await settle();
    submit(2);
    submit(3);
    exec.releaseAll();
    await settle();
    exec.releaseAll();
    await settle();
    expect(exec.batches).toEqual([[1], [2, 3]]);
    clock.t += 10; // long after: not in lock step with the batch of two
    submit(4);
    await settle();
    expect(exec.batches).toEqual([[1], [2, 3], [4]]);
  });

  it('windowMs 0 never waits: closed-loop clients stay split', async () => {
    const { exec } = await splitClients(0);
    expect(exec.batches).toEqual([[1], [2, 3, 4], [5]]);
  });

  it('close() ends a wait for company and runs what is waiting', async () => {
    const s = await splitClients(60_000);
    expect(s.exec.batches).toHaveLength(2);
    s.queue.close();
    await s.settle();
    expect(s.exec.batches).toEqual([[1], [2, 3, 4], [5]]);
    s.exec.releaseAll();
    expect(await s.queue.drain(1000)).toBe(true);
  });
});
