import { describe, expect, it } from 'vitest';
import { Backoff } from './backoff.js';

describe('Backoff', () => {
  it('doubles up to the cap, with each delay between half and all of its ceiling', () => {
    const backoff = new Backoff({ initialMs: 100, maxMs: 1_000, seed: 7 });
    const ceilings = [100, 200, 400, 800, 1_000, 1_000, 1_000];
    for (const ceiling of ceilings) {
      const delay = backoff.next();
      expect(delay).toBeGreaterThanOrEqual(ceiling / 2);
      expect(delay).toBeLessThanOrEqual(ceiling);
    }
  });

  it('is reproducible for a seed and differs across seeds', () => {
    const run = (seed: number) => {
      const b = new Backoff({ initialMs: 50, maxMs: 5_000, seed });
      return Array.from({ length: 6 }, () => b.next());
    };
    expect(run(1)).toEqual(run(1));
    expect(run(1)).not.toEqual(run(2));
  });

  it('starts again from initialMs after reset', () => {
    const backoff = new Backoff({ initialMs: 100, maxMs: 10_000, seed: 3 });
    for (let i = 0; i < 5; i++) backoff.next();
    expect(backoff.attempts).toBe(5);
    backoff.reset();
    expect(backoff.next()).toBeLessThanOrEqual(100);
  });

  it('rejects a nonsensical range', () => {
    expect(() => new Backoff({ initialMs: 0, maxMs: 10 })).toThrow(/initialMs/);
    expect(() => new Backoff({ initialMs: 100, maxMs: 10 })).toThrow(/maxMs/);
  });
});
