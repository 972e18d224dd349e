import type { Clock } from './clock.js';
import type { Runtime, RuntimeSession, RuntimeTensor } from './types.js';

/**
 * The client's loaded sessions, one per distinct model bytes ('device' and 'server' share the
 * whole model's). A load that fails is forgotten, so the next request retries it.
 */
export class SessionCache<T extends RuntimeTensor> {
  private readonly sessions = new WeakMap<Uint8Array, Promise<RuntimeSession<T>>>();
  private readonly loaded = new Set<Promise<RuntimeSession<T>>>();

  constructor(
    private readonly runtime: Runtime<T>,
    private readonly modelName: string,
  ) {}

  get(bytes: Uint8Array, label: string): Promise<RuntimeSession<T>> {
    let session = this.sessions.get(bytes);
    if (!session) {
      const loading = this.runtime.load(bytes, `${this.modelName} ${label}`);
      session = loading;
      this.sessions.set(bytes, loading);
      this.loaded.add(loading);
      loading.catch(() => {
        this.sessions.delete(bytes);
        this.loaded.delete(loading);
      });
    }
    return session;
  }

  /** Releases every session that loaded (after the requests using them have finished). */
  async releaseAll(): Promise<void> {
    const sessions = await Promise.allSettled([...this.loaded]);
    await Promise.allSettled(sessions.flatMap((result) => (result.status === 'fulfilled' ? [result.value.release()] : [])));
  }
}

/**
 * Runs a session and says how long it computed: the runtime's own figure when it has runTimed
 * (which leaves out waiting behind other runs), otherwise the whole call on the client's clock.
 */
export async function runMeasured<T extends RuntimeTensor>(
  session: RuntimeSession<T>,
  feeds: Record<string, T>,
  clock: Clock,
): Promise<{ outputs: Record<string, T>; computeMs: number }> {
  if (session.runTimed) return session.runTimed(feeds);
  const started = clock.now();
  const outputs = await session.run(feeds);
  return { outputs, computeMs: clock.now() - started };
}
