import { describe, expect, it } from 'vitest';
import { DEFAULTS, resolveOptions, type ServerOptions } from './options.js';

const base: ServerOptions = { models: ['m.onnx'] };

function refusal(options: Partial<ServerOptions>): string {
  try {
    resolveOptions({ ...base, ...options });
  } catch (error) {
    expect(error).toMatchObject({ code: 'CARBONCP_INVALID_ARGUMENT' });
    return (error as Error).message;
  }
  throw new Error(`resolveOptions accepted ${JSON.stringify(options)}`);
}

describe('resolveOptions: every server option checked in one place', () => {
  it('fills the defaults', () => {
    const resolved = resolveOptions(base);
    expect(resolved).toMatchObject({
      host: DEFAULTS.host,
      port: DEFAULTS.port,
      maxQueue: 256,
      maxQueuePerConnection: 64,
      maxConnections: 1024,
      maxConnectionsPerAddress: 1024,
      idleTimeoutMs: 60_000,
      tailTimeoutMs: 60_000,
      openMetrics: false,
      executor: 'worker',
      workers: 1,
      batching: false,
    });
  });

  it('refuses what the queue, the worker pool and the CLI used to check again', () => {
    expect(refusal({ maxQueue: 0 })).toMatch(/maxQueue must be a positive integer, got 0/);
    expect(refusal({ batching: { maxBatch: 0, windowMs: 1 } })).toMatch(/batching.maxBatch must be a positive integer/);
    expect(refusal({ batching: { maxBatch: 2, windowMs: -1 } })).toMatch(/batching.windowMs must be a finite number >= 0/);
    expect(refusal({ workers: 0 })).toMatch(/workers must be a positive integer/);
    expect(refusal({ executor: 'main', workers: 2 })).toMatch(/applies to executor 'worker' only/);
    expect(refusal({ port: 70000 })).toMatch(/port must be an integer in 0..65535/);
    expect(refusal({ token: '' })).toMatch(/token must be a non-empty string/);
    expect(refusal({ maxQueue: 4, maxQueuePerConnection: 5 })).toMatch(/maxQueuePerConnection \(5\) must be at most maxQueue \(4\)/);
  });

  it('checks the bounds added for the wedge and the idle policy', () => {
    expect(refusal({ tailTimeoutMs: 0 })).toMatch(/tailTimeoutMs must be a positive integer, got 0/);
    expect(refusal({ idleTimeoutMs: -1 })).toMatch(/idleTimeoutMs must be an integer >= 0, got -1/);
    expect(resolveOptions({ ...base, idleTimeoutMs: 0 }).idleTimeoutMs).toBe(0);
    expect(refusal({ maxConnectionsPerAddress: 0 })).toMatch(/maxConnectionsPerAddress must be a positive integer/);
    expect(refusal({ maxConnections: 4, maxConnectionsPerAddress: 5 })).toMatch(/maxConnectionsPerAddress \(5\) must be at most maxConnections \(4\)/);
    expect(resolveOptions({ ...base, maxConnections: 8 }).maxConnectionsPerAddress).toBe(8);
    expect(refusal({ openMetrics: 'yes' as never })).toMatch(/openMetrics must be a boolean/);
  });
});
