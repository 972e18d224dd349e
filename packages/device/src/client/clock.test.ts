import { describe, expect, it } from 'vitest';
import { ManualClock } from './clock.js';

describe('ManualClock', () => {
  it('fires due timers in order of due time, then creation, each at its due time; cleared ones never', async () => {
    const clock = new ManualClock(100);
    const fired: [string, number][] = [];
    const at = (label: string) => () => fired.push([label, clock.now()]);
    clock.setTimeout(at('c'), 30);
    clock.setTimeout(at('a'), 10);
    clock.setTimeout(at('b'), 10);
    const cleared = clock.setTimeout(at('never'), 5);
    clock.setTimeout(at('later'), 31);
    clock.clearTimeout(cleared);
    await clock.advance(30);
    expect(fired).toEqual([['a', 110], ['b', 110], ['c', 130]]);
    expect(clock.now()).toBe(130);
    expect(clock.pending()).toBe(1);
    await clock.advance(1);
    expect(fired.at(-1)).toEqual(['later', 131]);
  });

  it('a timer set by a firing timer (or by a promise it settles) fires within the same advance when due', async () => {
    const clock = new ManualClock();
    const fired: number[] = [];
    clock.setTimeout(() => {
      void Promise.resolve().then(() => clock.setTimeout(() => fired.push(clock.now()), 5));
    }, 5);
    await clock.advance(9);
    expect(fired).toEqual([]);
    await clock.advance(1);
    expect(fired).toEqual([10]);
  });

  it('busy() moves time without firing; the next advance fires what fell due, late', async () => {
    const clock = new ManualClock();
    const fired: number[] = [];
    clock.setTimeout(() => fired.push(clock.now()), 3);
    clock.busy(10);
    expect(fired).toEqual([]);
    await clock.advance(0);
    expect(fired).toEqual([10]);
  });

  it('counts timers that would keep a process alive apart from unref ones; epochMs follows now', () => {
    const clock = new ManualClock(0, 1_000_000);
    clock.setTimeout(() => {}, 1, { unref: true });
    clock.setTimeout(() => {}, 1);
    expect(clock.pending()).toBe(2);
    expect(clock.pending(true)).toBe(1);
    clock.busy(5);
    expect(clock.epochMs()).toBe(1_000_005);
  });
});
