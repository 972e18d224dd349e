/**
 * LRU cache of tail sessions bounded by an estimate of their memory (the tail model's byte size,
 * which is dominated by weights and is what onnxruntime keeps resident). Sessions are built
 * lazily on first use; concurrent requests for the same key share one build. An evicted session
 * that is still running is released only when its last lease ends, so eviction never pulls a
 * session out from under a running request.
 */
export interface SessionLease<T> {
  readonly value: T;
  /** Ends this lease; the cache may then release the session if it was evicted meanwhile. */
  release(): void;
}

export interface SessionCacheOptions<T> {
  maxBytes: number;
  dispose: (value: T) => Promise<void> | void;
  onEvict?: (key: string, sizeBytes: number) => void;
}

interface Entry<T> {
  key: string;
  sizeBytes: number;
  ready: Promise<T>;
  value?: T;
  leases: number;
  evicted: boolean;
}

export class SessionCache<T> {
  readonly maxBytes: number;
  // Map iteration order is insertion order: re-inserting on use keeps the LRU entry first.
  private readonly entries = new Map<string, Entry<T>>();
  private readonly options: SessionCacheOptions<T>;
  private bytes = 0;
  private disposals: Promise<void>[] = [];

  constructor(options: SessionCacheOptions<T>) {
    if (!(options.maxBytes > 0)) throw new RangeError(`maxBytes must be positive, got ${options.maxBytes}`);
    this.maxBytes = options.maxBytes;
    this.options = options;
  }

  /** Number of cached sessions (built or being built). */
  get size(): number {
    return this.entries.size;
  }

  /** Sum of the byte estimates of the cached sessions. */
  get totalBytes(): number {
    return this.bytes;
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  keys(): string[] {
    return [...this.entries.keys()];
  }

  async acquire(key: string, sizeBytes: number, build: () => Promise<T>): Promise<SessionLease<T>> {
    let entry = this.entries.get(key);
    if (entry) {
      this.entries.delete(key);
      this.entries.set(key, entry);
    } else {
      const created: Entry<T> = { key, sizeBytes, ready: build(), leases: 0, evicted: false };
      entry = created;
      this.entries.set(key, created);
      this.bytes += sizeBytes;
      created.ready.then(
        (value) => {
          created.value = value;
          if (created.evicted && created.leases === 0) this.dispose(created);
        },
        () => {
          // A failed build must not stay cached: the next request retries.
          if (this.entries.get(key) === created) this.remove(created);
        },
      );
      this.evictOverBudget(created);
    }
    entry.leases += 1;
    let value: T;
    try {
      value = await entry.ready;
    } catch (error) {
      entry.leases -= 1;
      throw error;
    }
    const held = entry;
    let released = false;
    return {
      value,
      release: () => {
        if (released) return;
        released = true;
        held.leases -= 1;
        if (held.evicted && held.leases === 0 && held.value !== undefined) this.dispose(held);
      },
    };
  }

  /**
   * Disposes every session (shutdown: not an eviction for room, so no onEvict); waits for running
   * ones to end their leases.
   */
  async clear(): Promise<void> {
    const entries = [...this.entries.values()];
    for (const entry of entries) this.evict(entry, false);
    // Builds still running dispose their session as soon as they finish (see acquire).
    await Promise.allSettled(entries.map((entry) => entry.ready));
    await Promise.allSettled(this.disposals);
  }

  /**
   * Drops every session whose key matches, without onEvict (they are gone, not evicted for room:
   * e.g. the sessions of a worker thread that died). Running ones end their leases first.
   */
  removeWhere(match: (key: string) => boolean): void {
    for (const entry of [...this.entries.values()]) if (match(entry.key)) this.evict(entry, false);
  }

  private evictOverBudget(keep: Entry<T>): void {
    for (const entry of [...this.entries.values()]) {
      if (this.bytes <= this.maxBytes) break;
      if (entry !== keep) this.evict(entry);
    }
  }

  private evict(entry: Entry<T>, notify = true): void {
    this.remove(entry);
    entry.evicted = true;
    if (notify) this.options.onEvict?.(entry.key, entry.sizeBytes);
    if (entry.leases === 0 && entry.value !== undefined) this.dispose(entry);
  }

  private remove(entry: Entry<T>): void {
    if (this.entries.get(entry.key) !== entry) return;
    this.entries.delete(entry.key);
    this.bytes -= entry.sizeBytes;
  }

  private dispose(entry: Entry<T>): void {
    const value = entry.value as T;
    entry.value = undefined;
    const done = Promise.resolve()
      .then(() => this.options.dispose(value))
      .catch(() => undefined);
    this.disposals.push(done);
    void done.then(() => {
      this.disposals = this.disposals.filter((d) => d !== done);
    });
  }
}
