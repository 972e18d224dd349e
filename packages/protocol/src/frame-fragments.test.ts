import { describe, expect, it } from 'vitest';
import { fragmentsOf, sendFrameParts, type FragmentSink } from './frame-fragments.js';

/** Deterministic bytes: part k holds (k * 31 + i) & 0xff. */
function part(k: number, length: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (k * 31 + i) & 0xff);
}

function concat(parts: readonly Uint8Array[]): number[] {
  return parts.flatMap((p) => Array.from(p));
}

function recordingSink() {
  const sent: { data: Uint8Array; fin: boolean; binary: boolean }[] = [];
  const sink: FragmentSink = { send: (data, options) => sent.push({ data, ...options }) };
  return { sent, sink };
}

describe('fragmentsOf', () => {
  it('joins a small message into one fragment', () => {
    const parts = [part(0, 300), part(1, 1000), part(2, 12)];
    const fragments = fragmentsOf(parts, 4096);
    expect(fragments).toHaveLength(1);
    expect(concat(fragments)).toEqual(concat(parts));
  });

  it('sends a large tensor as its own fragment, without copying it, and joins the small runs around it', () => {
    const big = part(1, 5000);
    const parts = [part(0, 200), big, part(2, 100), part(3, 50)];
    const fragments = fragmentsOf(parts, 4096);
    expect(fragments.map((f) => f.byteLength)).toEqual([200, 5000, 150]);
    expect(fragments[0]).toBe(parts[0]); // a run of one is not copied either
    expect(fragments[1]).toBe(big);
    expect(concat(fragments)).toEqual(concat(parts));
  });

  it('closes a run of small parts once it reaches the threshold', () => {
    const parts = [part(0, 3000), part(1, 3000), part(2, 10)];
    const fragments = fragmentsOf(parts, 4096);
    expect(fragments.map((f) => f.byteLength)).toEqual([6000, 10]);
    expect(concat(fragments)).toEqual(concat(parts));
  });
});

describe('sendFrameParts', () => {
  it('sends a small frame as one final binary message', () => {
    const { sent, sink } = recordingSink();
    sendFrameParts(sink, [part(0, 100), part(1, 200)]);
    expect(sent.map((s) => [s.data.byteLength, s.binary, s.fin])).toEqual([[300, true, true]]);
  });

  it('sends a large frame as fragments, only the last one final', () => {
    const { sent, sink } = recordingSink();
    const parts = [part(0, 400), part(1, 100_000), part(2, 70_000)];
    sendFrameParts(sink, parts);
    expect(sent.map((s) => [s.data.byteLength, s.binary, s.fin])).toEqual([
      [400, true, false],
      [100_000, true, false],
      [70_000, true, true],
    ]);
    expect(sent[1].data).toBe(parts[1]);
  });
});
