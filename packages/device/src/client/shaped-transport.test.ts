import { describe, expect, it } from 'vitest';
import { ManualClock } from './clock.js';
import type { CapacityTrace } from '@carboncp/carbon';
import { ShapedTransport } from './shaped-transport.js';
import type { Transport, TransportConnection } from './types.js';

const trace: CapacityTrace = { startsMs: [0, 100, 200], bps: [8000, 0, 16000], periodMs: 300, source: 'test' }; // 1 B/ms, nothing, 2 B/ms

describe('ShapedTransport', () => {
  it('sends each message up after the link drains it, in order, and copies what it sends', async () => {
    const clock = new ManualClock();
    const sent: { at: number; bytes: number[] }[] = [];
    const inner: Transport = {
      async connect(): Promise<TransportConnection> {
        return { send: (b) => sent.push({ at: clock.now(), bytes: [...b] }), close: () => undefined };
      },
    };
    const shaped = new ShapedTransport(inner, { uplink: trace, oneWayDelayMs: 5, clock });
    const c = await shaped.connect('ws://x', { message: () => undefined, close: () => undefined });
    const first = new Uint8Array(50).fill(1);
    c.send(first);
    first.fill(9); // the caller reuses its buffer
    c.sendParts!([new Uint8Array(30).fill(2), new Uint8Array(20).fill(3)]);
    await clock.advance(54);
    expect(sent).toHaveLength(0);
    await clock.advance(1);
    expect(sent.map((s) => s.at)).toEqual([55]);
    expect(sent[0]!.bytes.every((b) => b === 1)).toBe(true);
    // The second waits for the first: its 50 B from t = 50 take the rest of bin 0, leaving at 100 + 5.
    await clock.advance(200);
    expect(sent.map((s) => s.at)).toEqual([55, 105]);
    // A third from t = 255: 90 B in the 45 ms left of bin 2 (2 B/ms), then the trace loops to
    // bin 0 (1 B/ms) for the last 10 B: 310, +5.
    c.send(new Uint8Array(100));
    await clock.advance(60);
    expect(sent.map((s) => s.at)).toEqual([55, 105, 315]);
    expect(sent[1]!.bytes).toEqual([...new Array(30).fill(2), ...new Array(20).fill(3)]);
  });

  it('close stops what has not left yet', async () => {
    const clock = new ManualClock();
    let sends = 0;
    const inner: Transport = { async connect() { return { send: () => void sends++, close: () => undefined }; } };
    const c = await new ShapedTransport(inner, { uplink: trace, clock }).connect('ws://x', { message: () => undefined, close: () => undefined });
    c.send(new Uint8Array(10));
    c.close();
    await clock.advance(1000);
    expect(sends).toBe(0);
    expect(clock.pending()).toBe(0);
  });

  it('refuses a trace with no capacity', () => {
    const inner: Transport = { connect: async () => ({ send: () => undefined, close: () => undefined }) };
    expect(() => new ShapedTransport(inner, { uplink: { startsMs: [0, 100], bps: [0, 0], periodMs: 200, source: 'dead' } })).toThrow(/capacity trace/);
  });
});
