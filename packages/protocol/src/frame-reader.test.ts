import { describe, expect, it } from 'vitest';
import { CarboncpError } from './errors.js';
import { encodeFrame } from './frame-encoder.js';
import { FrameReader } from './frame-reader.js';
import { MessageType, type Message } from './messages.js';
import { tensorFromArray, tensorToArray } from './tensor-codec.js';
import { allSamples, inferRequestMessage, randomInt, seededRandom } from './fixtures/samples.js';

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function comparable(messages: Message[]): unknown {
  return JSON.parse(
    JSON.stringify(messages, (_key, value: unknown) =>
      value instanceof Uint8Array ? Array.from(value) : typeof value === 'bigint' ? String(value) : value,
    ),
  );
}

/** Several frames back to back, including one with a tensor bigger than typical chunks. */
function stream(): { bytes: Uint8Array; messages: Message[] } {
  const random = seededRandom(7);
  const big = new Float32Array(3000).map(() => random() * 2 - 1);
  const bigRequest: Message = {
    type: MessageType.InferRequest,
    requestId: 77,
    body: { model_name: 'm', plan_id: 'p', plan_digest: 'd', model_digest: 'e', inputs: [tensorFromArray('big', big, [3, 1000])] },
  };
  const messages = [...allSamples, bigRequest, ...allSamples];
  return { bytes: concat(messages.map(encodeFrame)), messages };
}

describe('FrameReader', () => {
  it('reassembles frames fed byte by byte', () => {
    const { bytes, messages } = stream();
    const reader = new FrameReader();
    const out: Message[] = [];
    for (let i = 0; i < bytes.length; i++) out.push(...reader.push(bytes.subarray(i, i + 1)));
    expect(comparable(out)).toEqual(comparable(messages));
    expect(reader.bufferedBytes).toBe(0);
  });

  it('reassembles frames from seeded random chunkings', () => {
    const { bytes, messages } = stream();
    for (let seed = 1; seed <= 20; seed++) {
      const random = seededRandom(seed);
      const reader = new FrameReader();
      const out: Message[] = [];
      let offset = 0;
      while (offset < bytes.length) {
        // Mix tiny chunks with ones spanning several frames.
        const size = random() < 0.5 ? 1 + randomInt(random, 20) : 1 + randomInt(random, 20_000);
        // Copy each chunk to an odd offset so nothing downstream can rely on alignment.
        const chunk = new Uint8Array(size + 1).subarray(1);
        const piece = bytes.subarray(offset, offset + size);
        chunk.set(piece);
        out.push(...reader.push(chunk.subarray(0, piece.length)));
        offset += size;
      }
      expect(comparable(out)).toEqual(comparable(messages));
    }
  });

  it('returns every frame of a single chunk, as views into it', () => {
    const { bytes, messages } = stream();
    const out = new FrameReader().push(bytes);
    expect(out.length).toBe(messages.length);
    const request = out[1];
    if (request.type !== MessageType.InferRequest) throw new Error('wrong type');
    expect(request.body.inputs[0].data.buffer).toBe(bytes.buffer);
    expect(Array.from(tensorToArray(request.body.inputs[0]) as Float32Array)).toEqual([1, -2.5, 0.25, 3]);
  });

  it('waits on an incomplete frame and keeps the partial bytes', () => {
    const frame = encodeFrame(inferRequestMessage);
    const reader = new FrameReader();
    expect(reader.push(frame.subarray(0, frame.length - 1))).toEqual([]);
    expect(reader.bufferedBytes).toBe(frame.length - 1);
    expect(reader.push(frame.subarray(frame.length - 1)).map((m) => m.requestId)).toEqual([42]);
  });

  it('refuses an oversize frame as soon as its header arrives, before its tensors', () => {
    const big: Message = {
      type: MessageType.InferRequest,
      requestId: 1,
      body: {
        model_name: 'm',
        plan_id: 'p',
        plan_digest: 'd',
        model_digest: 'e',
        inputs: [tensorFromArray('x', new Float32Array(1000), [1000])],
      },
    };
    const frame = encodeFrame(big);
    const reader = new FrameReader({ maxPayload: 2000 });
    const headerEnd = frame.length - 4000;
    let error: unknown;
    try {
      reader.push(frame.subarray(0, headerEnd));
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(CarboncpError);
    expect((error as CarboncpError).code).toBe('CARBONCP_PAYLOAD_TOO_LARGE');
    expect((error as CarboncpError).closeCode).toBe(1009);
    expect((error as CarboncpError).message).toBe(`frame is ${frame.length} bytes, over the limit of 2000 bytes`);
    expect(reader.bufferedBytes).toBe(0);
    expect(() => reader.push(new Uint8Array(1))).toThrow(/frame reader failed earlier and cannot resynchronise/);
  });

  it('refuses a huge declared JSON header before buffering it', () => {
    const reader = new FrameReader({ maxHeaderBytes: 1024 });
    const fixed = new Uint8Array([0x43, 0x43, 0x50, 0x57, 1, 6, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f]);
    expect(() => reader.push(fixed)).toThrow(/JSON header is 2147483647 bytes, over the limit of 1024 bytes/);
  });

  it('reports bad magic in the middle of a stream', () => {
    const frame = encodeFrame(allSamples[0]);
    const garbage = new TextEncoder().encode('GET / HTTP/1.1\r\n\r\n');
    const reader = new FrameReader();
    expect(reader.push(frame).length).toBe(1);
    expect(() => reader.push(garbage)).toThrow(/bad magic/);
  });
});

describe('FrameReader views', () => {
  it('hands out plain Uint8Array tensor views from Buffer chunks at odd offsets, readable as arrays', () => {
    const values = Float32Array.from({ length: 6 }, (_, i) => i - 2.5);
    const frame = encodeFrame({
      type: MessageType.InferRequest,
      requestId: 3,
      body: { model_name: 'm', plan_id: 'p', plan_digest: 'd', model_digest: 'd', inputs: [tensorFromArray('x', values, [2, 3])] },
    });
    // Two frames in one Buffer chunk after 1 stray-offset byte, as a socket read would deliver them.
    const chunk = Buffer.alloc(1 + 2 * frame.length);
    chunk.set(frame, 1);
    chunk.set(frame, 1 + frame.length);
    const reader = new FrameReader();
    const messages = reader.push(chunk.subarray(1));
    expect(messages.length).toBe(2);
    for (const message of messages) {
      if (message.type !== MessageType.InferRequest) throw new Error('expected an infer request');
      const data = message.body.inputs[0].data;
      expect(Object.getPrototypeOf(data)).toBe(Uint8Array.prototype);
      expect(data.buffer).toBe(chunk.buffer);
      expect(Array.from(tensorToArray(message.body.inputs[0]) as Float32Array)).toEqual(Array.from(values));
    }
  });
});
