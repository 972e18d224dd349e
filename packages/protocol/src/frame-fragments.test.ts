import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CarboncpError } from './errors.js';
import { decodeFrame } from './frame-decoder.js';
import { encodeFrame, encodeFrameParts, TENSOR_ALIGNMENT } from './frame-encoder.js';
import { concatParts, decodeFrameFragments, fragmentsOf, sendFrameParts, type FragmentSink } from './frame-fragments.js';
import { randomInt, seededRandom } from './fixtures/samples.js';
import { MessageType, type Message, type WireTensor } from './messages.js';
import { tensorFromArray, tensorToArray } from './tensor-codec.js';

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

  it('corks the stream around the fragments of one message (one write), and uncorks when a send throws', () => {
    const calls: string[] = [];
    const stream = { cork: () => calls.push('cork'), uncork: () => calls.push('uncork') };
    const sink: FragmentSink = { send: (data, { fin }) => calls.push(`send ${data.byteLength}${fin ? ' fin' : ''}`) };
    sendFrameParts(sink, [part(0, 400), part(1, 100_000)], stream);
    sendFrameParts(sink, [part(0, 40), part(1, 100)], stream);
    expect(calls).toEqual(['cork', 'send 400', 'send 100000 fin', 'uncork', 'send 140 fin']);
    calls.length = 0;
    const failing: FragmentSink = {
      send: (data) => {
        calls.push(`send ${data.byteLength}`);
        if (data.byteLength > 1000) throw new Error('socket gone');
      },
    };
    expect(() => sendFrameParts(failing, [part(0, 400), part(1, 100_000)], stream)).toThrow('socket gone');
    expect(calls).toEqual(['cork', 'send 400', 'send 100000', 'uncork']);
  });
});

// ---- decodeFrameFragments ----

/** Element types and a random typed array of each: every wire datatype's decoded view is checked. */
const makers: [WireTensor['datatype'], (random: () => number, n: number) => ArrayBufferView][] = [
  ['FP32', (r, n) => Float32Array.from({ length: n }, () => r() * 8 - 4)],
  ['INT64', (r, n) => BigInt64Array.from({ length: n }, () => BigInt(randomInt(r, 2 ** 31)) * (r() < 0.5 ? -1n : 1n))],
  ['INT32', (r, n) => Int32Array.from({ length: n }, () => randomInt(r, 2 ** 31))],
  ['UINT8', (r, n) => Uint8Array.from({ length: n }, () => randomInt(r, 256))],
  ['INT8', (r, n) => Int8Array.from({ length: n }, () => randomInt(r, 256) - 128)],
  ['BOOL', (r, n) => Uint8Array.from({ length: n }, () => randomInt(r, 2))],
  ['FP16', (r, n) => Uint16Array.from({ length: n }, () => randomInt(r, 0x7c00))],
];

/** A seeded infer request or response of 1-3 tensors, small to large (0 to ~300 KB each). */
function randomMessage(random: () => number, id: number): Message {
  const count = 1 + randomInt(random, 3);
  const tensors = Array.from({ length: count }, (_, k) => {
    const [datatype, make] = makers[randomInt(random, makers.length)];
    const sizes = [0, 1, 3, 17, 1000, 20_000, 70_000];
    const n = sizes[randomInt(random, sizes.length)];
    return tensorFromArray(`t${k}`, make(random, n) as never, [n], datatype);
  });
  if (random() < 0.5) {
    return {
      type: MessageType.InferRequest,
      requestId: id,
      body: { model_name: 'm', plan_id: 'cut-1', plan_digest: 'a'.repeat(64), model_digest: 'b'.repeat(64), inputs: tensors },
    };
  }
  return {
    type: MessageType.InferResponse,
    requestId: id,
    body: { model_name: 'm', plan_id: 'cut-1', outputs: tensors, parameters: { server_ms: 1, queue_ms: 0, batch_size: 1, execution_provider: 'cpu' } },
  };
}

/**
 * `bytes` copied to `offset` bytes into a fresh ArrayBuffer: a receive buffer can start anywhere.
 * A Buffer when `asBuffer` (what ws delivers: its slice() is a view, not a copy).
 */
function placedAt(bytes: Uint8Array, offset: number, asBuffer = false): Uint8Array {
  const backing = new Uint8Array(offset + bytes.byteLength + 5);
  backing.set(bytes, offset);
  return asBuffer ? Buffer.from(backing.buffer, offset, bytes.byteLength) : backing.subarray(offset, offset + bytes.byteLength);
}

/** The frame cut at seeded points (some inside the headers, some inside tensors), each piece at a random offset. */
function randomCuts(frame: Uint8Array, random: () => number): Uint8Array[] {
  const cuts = new Set<number>();
  const count = 1 + randomInt(random, 6);
  for (let i = 0; i < count; i++) cuts.add(random() < 0.3 ? randomInt(random, Math.min(frame.length, 400)) : randomInt(random, frame.length + 1));
  const points = [0, ...[...cuts].sort((a, b) => a - b), frame.length];
  return points.slice(1).map((end, i) => placedAt(frame.subarray(points[i], end), randomInt(random, 16), random() < 0.5));
}

function tensorsOf(message: Message): WireTensor[] {
  if (message.type === MessageType.InferRequest) return message.body.inputs;
  if (message.type === MessageType.InferResponse) return message.body.outputs;
  return [];
}

/** Message with tensor data as hex, so equality ignores which buffer the data live in. */
function comparable(value: unknown): unknown {
  if (value instanceof Uint8Array) return `${value.byteLength} bytes, sha256 ${createHash('sha256').update(value).digest('hex')}`;
  if (Array.isArray(value)) return value.map(comparable);
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, comparable(v)]));
  return value;
}

function expectAligned(message: Message): void {
  for (const tensor of tensorsOf(message)) {
    expect(tensor.data.byteOffset % TENSOR_ALIGNMENT).toBe(0);
    // The view every consumer makes: throws on a misaligned offset even for zero elements.
    expect(() => tensorToArray(tensor)).not.toThrow();
    if (tensor.datatype === 'INT64') expect(() => new BigInt64Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength / 8)).not.toThrow();
    // A plain view, as decodeFrame gives, even out of a Buffer fragment: a consumer's slice()
    // must copy (on a Buffer it is a view, and transferring it detached ws's read buffer).
    expect(Buffer.isBuffer(tensor.data)).toBe(false);
  }
}

function outcome(decode: () => Message): { ok: true; message: unknown } | { ok: false; code: string; message: string; closeCode?: number } {
  try {
    return { ok: true, message: comparable(decode()) };
  } catch (error) {
    expect(error).toBeInstanceOf(CarboncpError);
    const e = error as CarboncpError;
    return { ok: false, code: e.code, message: e.message, closeCode: e.closeCode };
  }
}

describe('encodeFrameParts', () => {
  it('joined, the parts are byte for byte the frame encodeFrame writes (200 seeded messages)', () => {
    const random = seededRandom(61);
    for (let i = 0; i < 200; i++) {
      const message = randomMessage(random, i + 1);
      expect(Buffer.compare(Buffer.from(concatParts(encodeFrameParts(message))), Buffer.from(encodeFrame(message)))).toBe(0);
    }
  });
});

describe('decodeFrameFragments', () => {
  it('decodes what sendFrameParts sends to what decodeFrame gives for the joined frame, a large tensor without a copy', () => {
    const random = seededRandom(7);
    let uncopied = 0;
    for (let i = 0; i < 150; i++) {
      const message = randomMessage(random, i + 1);
      const fragments = fragmentsOf(encodeFrameParts(message)).map((f) => placedAt(f, 0));
      const decoded = decodeFrameFragments(fragments);
      expect(comparable(decoded)).toEqual(comparable(decodeFrame(encodeFrame(message))));
      expectAligned(decoded);
      // A tensor that is a fragment of its own is a view of that fragment's memory.
      for (const tensor of tensorsOf(decoded)) {
        const own = fragments.find((f) => f.byteLength === tensor.data.byteLength && f.buffer === tensor.data.buffer);
        if (tensor.data.byteLength >= 64 * 1024) {
          expect(own).toBeDefined();
          uncopied++;
        }
      }
    }
    expect(uncopied).toBeGreaterThan(20);
  });

  it('agrees with decodeFrame on frames cut anywhere, each piece at any offset, and lands every tensor 8-byte aligned', () => {
    const random = seededRandom(11);
    for (let i = 0; i < 300; i++) {
      const message = randomMessage(random, i + 1);
      const frame = encodeFrame(message);
      const pieces = randomCuts(frame, random);
      if (random() < 0.2) pieces.splice(randomInt(random, pieces.length + 1), 0, new Uint8Array(0));
      const decoded = decodeFrameFragments(pieces);
      expect(comparable(decoded)).toEqual(comparable(decodeFrame(frame)));
      expectAligned(decoded);
      // The pieces are left as they were: views only, and copies where needed.
      expect(Buffer.compare(Buffer.from(concatParts(pieces.filter((p) => p.byteLength > 0))), Buffer.from(frame))).toBe(0);
    }
  });

  it('aligns the tensors of a single buffer that starts at an odd offset (a slice of a socket read)', () => {
    const random = seededRandom(5);
    for (let offset = 0; offset < 16; offset++) {
      const message = randomMessage(random, offset + 1);
      const frame = placedAt(encodeFrame(message), offset, offset % 2 === 0);
      for (const input of [frame, [frame]]) {
        const decoded = decodeFrameFragments(input);
        expect(comparable(decoded)).toEqual(comparable(decodeFrame(frame)));
        expectAligned(decoded);
      }
    }
  });

  it('refuses a damaged frame with exactly the error decodeFrame gives (1,000 seeded mutations, any cuts)', () => {
    const random = seededRandom(23);
    let refused = 0;
    for (let i = 0; i < 1000; i++) {
      const frame = encodeFrame(randomMessage(random, i + 1)).slice();
      const headerEnd = 16 + new DataView(frame.buffer).getUint32(12, true);
      const kind = randomInt(random, 4);
      let damaged: Uint8Array = frame;
      if (kind === 0) for (let k = 0; k < 1 + randomInt(random, 3); k++) frame[randomInt(random, Math.min(frame.length, headerEnd + 8))] = randomInt(random, 256);
      else if (kind === 1) damaged = frame.subarray(0, randomInt(random, frame.length));
      else if (kind === 2) damaged = concatParts([frame, new Uint8Array(1 + randomInt(random, 9)).fill(2)]);
      else frame[headerEnd + randomInt(random, Math.max(1, frame.length - headerEnd))] = 2 + randomInt(random, 250); // BOOL data
      const expected = outcome(() => decodeFrame(damaged));
      const actual = outcome(() => decodeFrameFragments(randomCuts(damaged, random)));
      expect(actual).toEqual(expected);
      if (!expected.ok) refused++;
    }
    expect(refused).toBeGreaterThan(500);
  });

  it('refuses an oversized message before reading it, and anything that is not bytes', () => {
    const frame = encodeFrame(randomMessage(seededRandom(3), 1));
    const half = frame.length >> 1;
    expect(() => decodeFrameFragments([frame.subarray(0, half), frame.subarray(half)], { maxPayload: frame.length - 1 })).toThrow(
      expect.objectContaining({ code: 'CARBONCP_PAYLOAD_TOO_LARGE' }),
    );
    expect(() => decodeFrameFragments([frame, 'text' as unknown as Uint8Array])).toThrow(
      expect.objectContaining({ code: 'CARBONCP_BAD_FRAME', message: expect.stringMatching(/fragment 1 of a frame must be a Uint8Array/) }),
    );
    expect(() => decodeFrameFragments([])).toThrow(expect.objectContaining({ code: 'CARBONCP_BAD_FRAME' }));
  });
});
