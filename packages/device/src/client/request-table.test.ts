import { CarboncpError } from '@carboncp/protocol';
import { describe, expect, it } from 'vitest';
import { RequestTable } from './request-table.js';

describe('RequestTable', () => {
  it('settles each request once: the first of response, timeout or failure wins', async () => {
    const table = new RequestTable<string>();
    const a = table.open(10_000);
    const b = table.open(10_000);
    expect(a.id).not.toBe(b.id);
    expect(table.finish(a.id, { ok: true, value: 'first' })).toBe(true);
    expect(table.finish(a.id, { ok: true, value: 'second' })).toBe(false);
    expect(await a.settled).toEqual({ ok: true, value: 'first' });
    expect(table.failAll(new CarboncpError('CARBONCP_CONNECTION_LOST', 'gone'))).toBe(1);
    const settledB = await b.settled;
    expect(settledB.ok).toBe(false);
    expect(table.size).toBe(0);
    expect(table.late).toBe(1);
  });

  it('times out, then counts the late answer and ignores ids it never issued', async () => {
    const table = new RequestTable<number>();
    const { id, settled } = table.open(5);
    const outcome = await settled;
    expect(outcome.ok).toBe(false);
    if (!outcome.ok) expect(outcome.error.code).toBe('CARBONCP_TIMEOUT');
    expect(table.finish(id, { ok: true, value: 1 })).toBe(false);
    expect(table.finish(987_654, { ok: true, value: 1 })).toBe(false);
    expect(table.late).toBe(1);
  });
});
