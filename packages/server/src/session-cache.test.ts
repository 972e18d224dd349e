import { describe, expect, it } from 'vitest';
import { SessionCache } from './session-cache.js';

function makeCache(maxBytes: number) {
  const disposed: string[] = [];
  const evicted: string[] = [];
  const cache = new SessionCache<string>({
    maxBytes,
    dispose: (value) => {
      disposed.push(value);
    },
    onEvict: (key) => evicted.push(key),
  });
  return { cache, disposed, evicted };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('SessionCache', () => {
  it('builds a session once and reuses it', async () => {
    const { cache } = makeCache(100);
    let builds = 0;
    const build = async () => `s${++builds}`;
    const [a, b] = await Promise.all([cache.acquire('k', 10, build), cache.acquire('k', 10, build)]);
    expect(a.value).toBe('s1');
    expect(b.value).toBe('s1');
    expect(builds).toBe(1);
    a.release();
    b.release();
    const c = await cache.acquire('k', 10, build);
    expect(c.value).toBe('s1');
    expect(cache.size).toBe(1);
    expect(cache.totalBytes).toBe(10);
  });

  it('evicts the least recently used sessions to stay under the byte bound', async () => {
    const { cache, disposed, evicted } = makeCache(25);
    for (const key of ['a', 'b']) (await cache.acquire(key, 10, async () => key)).release();
    // Touch 'a' so that 'b' becomes the least recently used.
    (await cache.acquire('a', 10, async () => 'unused')).release();
    (await cache.acquire('c', 10, async () => 'c')).release();
    await flush();
    expect(evicted).toEqual(['b']);
    expect(disposed).toEqual(['b']);
    expect(cache.keys().sort()).toEqual(['a', 'c']);
    expect(cache.totalBytes).toBe(20);
  });

  it('keeps a single session larger than the bound, evicting all others', async () => {
    const { cache, evicted } = makeCache(25);
    (await cache.acquire('small', 10, async () => 'small')).release();
    const big = await cache.acquire('big', 40, async () => 'big');
    expect(big.value).toBe('big');
    expect(evicted).toEqual(['small']);
    expect(cache.keys()).toEqual(['big']);
    big.release();
  });

  it('disposes an evicted session only after its last lease ends', async () => {
    const { cache, disposed } = makeCache(15);
    const running = await cache.acquire('a', 10, async () => 'a');
    (await cache.acquire('b', 10, async () => 'b')).release();
    await flush();
    expect(cache.has('a')).toBe(false);
    expect(disposed).toEqual([]);
    running.release();
    await flush();
    expect(disposed).toEqual(['a']);
  });

  it('does not cache a failed build, and retries next time', async () => {
    const { cache } = makeCache(100);
    await expect(
      cache.acquire('k', 10, async () => {
        throw new Error('bad model');
      }),
    ).rejects.toThrow('bad model');
    await flush();
    expect(cache.size).toBe(0);
    expect(cache.totalBytes).toBe(0);
    const lease = await cache.acquire('k', 10, async () => 'ok');
    expect(lease.value).toBe('ok');
  });

  it('clear() disposes everything, including a session still being built, and reports no eviction', async () => {
    const { cache, disposed, evicted } = makeCache(100);
    (await cache.acquire('a', 10, async () => 'a')).release();
    let finish: (value: string) => void = () => undefined;
    const pending = cache.acquire('b', 10, () => new Promise<string>((resolve) => (finish = resolve)));
    const cleared = cache.clear();
    finish('b');
    (await pending).release();
    await cleared;
    await flush();
    expect(disposed.sort()).toEqual(['a', 'b']);
    expect(evicted).toEqual([]);
    expect(cache.size).toBe(0);
  });
});
