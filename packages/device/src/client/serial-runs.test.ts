import { describe, expect, it } from 'vitest';
import { SerialRuns } from './serial-runs.js';

describe('SerialRuns', () => {
  it('starts each task after the one before it settles, in call order, and a failure does not stop the rest', async () => {
    const runs = new SerialRuns();
    const started: string[] = [];
    let release!: () => void;
    let fail!: (e: Error) => void;
    const first = runs.run(() => {
      started.push('first');
      return new Promise<string>((resolve) => (release = () => resolve('a')));
    });
    const second = runs.run(() => {
      started.push('second');
      return new Promise<string>((_, reject) => (fail = reject));
    });
    const third = runs.run(async () => {
      started.push('third');
      return 'c';
    });
    await Promise.resolve();
    await Promise.resolve();
    expect(started).toEqual(['first']);
    release();
    expect((await first).result).toBe('a');
    await Promise.resolve();
    expect(started).toEqual(['first', 'second']);
    fail(new Error('boom'));
    await expect(second).rejects.toThrow('boom');
    const last = await third;
    expect(last.result).toBe('c');
    expect(started).toEqual(['first', 'second', 'third']);
    expect(last.ms).toBeGreaterThanOrEqual(0);
  });
});
