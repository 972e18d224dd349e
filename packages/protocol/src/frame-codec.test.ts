import { describe, expect, it } from 'vitest';
import { decodeFrame } from './frame-decoder.js';
import { encodeFrame, encodeFrameParts, TENSOR_ALIGNMENT } from './frame-encoder.js';
import { FIXED_HEADER_BYTES, MessageType, type InferRequestMessage, type Message } from './messages.js';
import { tensorToArray } from './tensor-codec.js';
import {
  allSamples,
  errorMessage,
  helloMessage,
  inferRequestMessage,
  inferResponseMessage,
  pongMessage,
  readHexFixture,
  toHex,
} from './fixtures/samples.js';

/** Message with tensor data as plain arrays, so deep equality ignores which buffer they live in. */
function comparable(message: Message): unknown {
  return JSON.parse(
    JSON.stringify(message, (_key, value: unknown) =>
      value instanceof Uint8Array ? Array.from(value) : typeof value === 'bigint' ? String(value) : value,
    ),
  );
}

/** A copy of `bytes` placed at `offset` inside a larger buffer. */
function atOffset(bytes: Uint8Array, offset: number): Uint8Array {
  const backing = new Uint8Array(bytes.length + offset + 3);
  backing.set(bytes, offset);
  return backing.subarray(offset, offset + bytes.length);
}

describe('golden fixtures', () => {
  const cases: [string, Message][] = [
    ['hello', helloMessage],
    ['infer-request', inferRequestMessage],
    ['error', errorMessage],
    ['pong', pongMessage],
  ];
  for (const [name, message] of cases) {
    it(`${name} encodes to the committed bytes and decodes back`, () => {
      const fixture = readHexFixture(name);
      expect(toHex(encodeFrame(message))).toBe(toHex(fixture));
      expect(comparable(decodeFrame(fixture))).toEqual(comparable(message));
    });
  }

  it('fixed header fields sit where messages.ts documents them', () => {
    const frame = readHexFixture('infer-request');
    const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
    expect(new TextDecoder().decode(frame.subarray(0, 4))).toBe('CCPW');
    expect(frame[4]).toBe(1);
    expect(frame[5]).toBe(MessageType.InferRequest);
    expect(view.getUint16(6, true)).toBe(0);
    expect(view.getUint32(8, true)).toBe(42);
    const headerLength = view.getUint32(12, true);
    expect((FIXED_HEADER_BYTES + headerLength) % TENSOR_ALIGNMENT).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(frame.subarray(16, 16 + headerLength))) as InferRequestMessage;
    expect(header.inputs.map((t) => t.parameters?.binary_data_size)).toEqual([16, 3]);
    expect(frame.length).toBe(16 + headerLength + 16 + 3);
    const act = new Float32Array(frame.slice(16 + headerLength, 16 + headerLength + 16).buffer);
    expect(Array.from(act)).toEqual([1, -2.5, 0.25, 3]);
  });
});

describe('encodeFrame / decodeFrame', () => {
  it('round-trips every sample message', () => {
    for (const message of allSamples) expect(comparable(decodeFrame(encodeFrame(message)))).toEqual(comparable(message));
  });

  it('decodes from buffers at unaligned byte offsets', () => {
    const frame = encodeFrame(inferResponseMessage);
    for (const offset of [1, 2, 3, 5, 7]) {
      const message = decodeFrame(atOffset(frame, offset));
      if (message.type !== MessageType.InferResponse) throw new Error('wrong type');
      expect(Array.from(tensorToArray(message.body.outputs[0]) as Float32Array)).toEqual([0.5, -0.5]);
      expect(Array.from(tensorToArray(message.body.outputs[1]) as BigInt64Array)).toEqual([7n, -1n]);
    }
  });

  it('returns tensor data as views into the frame, not copies', () => {
    const frame = encodeFrame(inferRequestMessage);
    const message = decodeFrame(frame);
    if (message.type !== MessageType.InferRequest) throw new Error('wrong type');
    const data = message.body.inputs[0].data;
    expect(data.buffer).toBe(frame.buffer);
    frame[data.byteOffset] ^= 0xff;
    expect(data[0]).toBe(frame[data.byteOffset]);
  });

  it('encodeFrameParts concatenate to the same bytes without copying tensors', () => {
    for (const message of allSamples) {
      const parts = encodeFrameParts(message);
      const joined = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let offset = 0;
      for (const part of parts) {
        joined.set(part, offset);
        offset += part.length;
      }
      expect(toHex(joined)).toBe(toHex(encodeFrame(message)));
    }
    const parts = encodeFrameParts(inferRequestMessage);
    if (inferRequestMessage.type !== MessageType.InferRequest) throw new Error('wrong type');
    expect(parts[1]).toBe(inferRequestMessage.body.inputs[0].data);
  });

  it('writes non-ASCII JSON with its UTF-8 byte length', () => {
    const message: Message = {
      type: MessageType.Error,
      requestId: 3,
      body: { code: 'CARBONCP_BUSY', message: 'queue voll — 満杯 🙂 \ud800', request_id: 3 },
    };
    const decoded = decodeFrame(encodeFrame(message));
    // JSON.stringify escapes the lone surrogate, so even it survives the trip.
    expect(decoded.body).toEqual(message.body);
  });

  it('round-trips the largest request id and an empty tensor', () => {
    const message: Message = {
      type: MessageType.InferRequest,
      requestId: 0xffffffff,
      body: {
        model_name: 'm',
        plan_id: 'p',
        plan_digest: 'd',
        model_digest: 'e',
        inputs: [{ name: 'empty', datatype: 'FP32', shape: [0, 3], data: new Uint8Array(0) }],
      },
    };
    const decoded = decodeFrame(encodeFrame(message));
    expect(decoded.requestId).toBe(0xffffffff);
    if (decoded.type !== MessageType.InferRequest) throw new Error('wrong type');
    expect(decoded.body.inputs[0].data.length).toBe(0);
    expect(tensorToArray(decoded.body.inputs[0]).length).toBe(0);
  });

  it('refuses to encode what it would refuse to decode', () => {
    const bad = (body: object, requestId = 1): Message => ({ type: MessageType.InferRequest, requestId, body }) as Message;
    const base = { model_name: 'm', plan_id: 'p', plan_digest: 'd', model_digest: 'e' };
    expect(() => encodeFrame(bad({ ...base, inputs: [{ name: 'x', datatype: 'FP32', shape: [3], data: new Uint8Array(8) }] }))).toThrow(
      /binary_data_size is 8 bytes, but shape \[3\] of FP32 needs 3 x 4 = 12 bytes/,
    );
    expect(() => encodeFrame(bad({ ...base, inputs: [{ name: 'x', datatype: 'FP32', shape: [2], data: [1, 2] }] }))).toThrow(
      /inputs\[0\]\.data must be a Uint8Array/,
    );
    expect(() => encodeFrame(bad({ ...base, inputs: [] }, -1))).toThrow(/requestId must be an integer in 0\.\.4294967295, got -1/);
    expect(() => encodeFrame({ type: 99, requestId: 0, body: {} } as unknown as Message)).toThrow(/unknown message type 99/);
    expect(() => encodeFrame({ type: MessageType.Ping, requestId: 0, body: { t: Number.NaN } })).toThrow(
      /ping\.t must be a finite number, got null/,
    );
  });
});
