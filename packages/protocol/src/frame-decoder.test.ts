import { describe, expect, it } from 'vitest';
import { CarboncpError } from './errors.js';
import { decodeFrame } from './frame-decoder.js';
import { encodeFrame } from './frame-encoder.js';
import { FIXED_HEADER_BYTES, MessageType, PROTOCOL_VERSION } from './messages.js';
import { inferRequestMessage, pingBytes } from './fixtures/samples.js';

/** Builds a frame by hand, so the header can say anything. */
function rawFrame(type: number, header: string, tail: Uint8Array = new Uint8Array(0), requestId = 9): Uint8Array {
  const json = new TextEncoder().encode(header);
  const frame = new Uint8Array(FIXED_HEADER_BYTES + json.length + tail.length);
  const view = new DataView(frame.buffer);
  frame.set([0x43, 0x43, 0x50, 0x57, PROTOCOL_VERSION, type, 0, 0]);
  view.setUint32(8, requestId, true);
  view.setUint32(12, json.length, true);
  frame.set(json, FIXED_HEADER_BYTES);
  frame.set(tail, FIXED_HEADER_BYTES + json.length);
  return frame;
}

function inferHeader(inputs: unknown[]): string {
  return JSON.stringify({ model_name: 'm', plan_id: 'p', plan_digest: 'd', model_digest: 'e', inputs });
}

function tensor(shape: unknown, size: unknown, datatype = 'FP32'): unknown {
  return { name: 'x', datatype, shape, parameters: { binary_data_size: size } };
}

function rejection(bytes: Uint8Array, options?: { maxPayload?: number; maxHeaderBytes?: number; maxTensors?: number }): CarboncpError {
  try {
    decodeFrame(bytes, options);
  } catch (error) {
    if (error instanceof CarboncpError) return error;
    throw error;
  }
  throw new Error('decodeFrame accepted the frame');
}

describe('decodeFrame rejects bad input', () => {
  it('wrong magic', () => {
    const frame = pingBytes();
    frame[0] = 0x48; // "H", as an HTTP request would start
    const error = rejection(frame);
    expect(error.code).toBe('CARBONCP_BAD_FRAME');
    expect(error.closeCode).toBe(1002);
    expect(error.message).toMatch(/bad magic 0x57504348 .*expected "CCPW"/);
  });

  it('wrong version', () => {
    const frame = pingBytes();
    frame[4] = 2;
    const error = rejection(frame);
    expect(error.code).toBe('CARBONCP_UNSUPPORTED_VERSION');
    expect(error.closeCode).toBe(1002);
    expect(error.message).toBe('protocol version 2 is not supported; this peer speaks version 1');
  });

  it('unknown message type and reserved flags', () => {
    const unknown = pingBytes();
    unknown[5] = 0;
    expect(rejection(unknown).message).toBe('unknown message type 0 (known: 1..7)');
    unknown[5] = 8;
    expect(rejection(unknown).message).toBe('unknown message type 8 (known: 1..7)');
    const flagged = pingBytes();
    flagged[6] = 1;
    expect(rejection(flagged).message).toMatch(/reserved flags must be 0 .* got 0x1/);
  });

  it('frame shorter than the fixed header', () => {
    const error = rejection(pingBytes().subarray(0, 15));
    expect(error.code).toBe('CARBONCP_BAD_FRAME');
    expect(error.message).toBe('frame is 15 bytes, shorter than the 16-byte fixed header');
  });

  it('header length past the end', () => {
    const frame = pingBytes();
    new DataView(frame.buffer).setUint32(12, 1000, true);
    const error = rejection(frame);
    expect(error.code).toBe('CARBONCP_BAD_FRAME');
    expect(error.message).toMatch(/JSON header length 1000 runs past the end of the \d+-byte frame/);
    expect(error.details).toMatchObject({ requestId: 0 });
  });

  it('invalid JSON and invalid UTF-8', () => {
    const error = rejection(rawFrame(MessageType.Ping, '{"t": 1'));
    expect(error.code).toBe('CARBONCP_BAD_FRAME');
    expect(error.message).toMatch(/JSON header \(7 bytes\) is not valid UTF-8 JSON/);
    expect(error.cause).toBeInstanceOf(SyntaxError);
    const latin1 = rawFrame(MessageType.Ping, '{"t": 1}');
    latin1[FIXED_HEADER_BYTES + 2] = 0xff;
    expect(rejection(latin1).message).toMatch(/not valid UTF-8 JSON/);
  });

  it('JSON that is not an object', () => {
    expect(rejection(rawFrame(MessageType.Ping, '[1,2]')).message).toBe('JSON header must be an object, got an array');
    expect(rejection(rawFrame(MessageType.Ping, 'null')).message).toBe('JSON header must be an object, got null');
    expect(rejection(rawFrame(MessageType.Ping, '"t"')).message).toBe('JSON header must be an object, got a string');
  });

  it('missing or mistyped fields', () => {
    expect(rejection(rawFrame(MessageType.Ping, '{}')).message).toBe('ping.t must be a finite number, got undefined');
    const pong = rejection(rawFrame(MessageType.Pong, '{"t":1,"queue_depth":-1,"in_flight":0,"tail_ms":{}}'));
    expect(pong.message).toBe('pong.queue_depth must be an integer >= 0, got -1');
    const hello = rejection(rawFrame(MessageType.Hello, '{"protocol_version":1,"client":"c","models":[{"name":"m"}]}'));
    expect(hello.message).toBe('hello.models[0].digest must be a string, got undefined');
    const compression = rejection(
      rawFrame(MessageType.InferRequest, inferHeader([]).replace(/}$/, ',"parameters":{"compression":"zip"}}')),
    );
    expect(compression.message).toBe('infer request.parameters.compression must be one of none, fp16, int8, got "zip"');
  });

  it('binary_data_size that does not match the shape', () => {
    const error = rejection(rawFrame(MessageType.InferRequest, inferHeader([tensor([2, 3], 20)]), new Uint8Array(20)));
    expect(error.code).toBe('CARBONCP_BAD_TENSOR');
    expect(error.closeCode).toBe(1002);
    expect(error.details).toMatchObject({ requestId: 9, type: MessageType.InferRequest });
    expect(error.message).toBe('inputs[0] ("x"): binary_data_size is 20 bytes, but shape [2, 3] of FP32 needs 6 x 4 = 24 bytes');
  });

  it('tensor bytes missing or trailing', () => {
    const short = rejection(rawFrame(MessageType.InferRequest, inferHeader([tensor([2], 8)]), new Uint8Array(7)));
    expect(short.code).toBe('CARBONCP_BAD_FRAME');
    expect(short.message).toBe('tensors declare 8 bytes in total, but only 7 bytes follow the JSON header');
    const trailing = rejection(rawFrame(MessageType.InferRequest, inferHeader([tensor([2], 8)]), new Uint8Array(11)));
    expect(trailing.message).toBe('3 trailing bytes after the last tensor (tensors declare 8 bytes, 11 follow the JSON header)');
    const afterPing = rejection(rawFrame(MessageType.Ping, '{"t":1}', new Uint8Array(1)));
    expect(afterPing.message).toMatch(/^1 trailing bytes after the last tensor/);
  });

  it('payload over maxPayload, before looking at anything else', () => {
    const frame = encodeFrame(inferRequestMessage);
    const error = rejection(frame, { maxPayload: frame.length - 1 });
    expect(error.code).toBe('CARBONCP_PAYLOAD_TOO_LARGE');
    expect(error.closeCode).toBe(1009);
    expect(error.message).toBe(`frame is ${frame.length} bytes, over the limit of ${frame.length - 1} bytes`);
    expect(decodeFrame(frame, { maxPayload: frame.length }).requestId).toBe(42);
    const header = rejection(frame, { maxHeaderBytes: 64 });
    expect(header.code).toBe('CARBONCP_PAYLOAD_TOO_LARGE');
    expect(header.message).toMatch(/^JSON header is \d+ bytes, over the limit of 64 bytes$/);
  });

  it('negative, fractional, huge and non-numeric shape dims', () => {
    const cases: [unknown[], string][] = [
      [[2, -1], 'inputs[0] ("x").shape[1] must be a non-negative safe integer, got -1'],
      [[1.5], 'inputs[0] ("x").shape[0] must be a non-negative safe integer, got 1.5'],
      [[2 ** 53], 'inputs[0] ("x").shape[0] must be a non-negative safe integer, got 9007199254740992'],
      [['3'], 'inputs[0] ("x").shape[0] must be a non-negative safe integer, got "3"'],
    ];
    for (const [shape, message] of cases) {
      const error = rejection(rawFrame(MessageType.InferRequest, inferHeader([tensor(shape, 4)]), new Uint8Array(4)));
      expect(error.code).toBe('CARBONCP_BAD_TENSOR');
      expect(error.message).toBe(message);
    }
    const notArray = rejection(rawFrame(MessageType.InferRequest, inferHeader([tensor(3, 12)]), new Uint8Array(12)));
    expect(notArray.message).toBe('inputs[0] ("x").shape must be an array of dimensions, got 3');
  });

  it('element count overflow', () => {
    const shape = [2 ** 30, 2 ** 30, 2 ** 30];
    const error = rejection(rawFrame(MessageType.InferRequest, inferHeader([tensor(shape, 4)]), new Uint8Array(4)));
    expect(error.code).toBe('CARBONCP_BAD_TENSOR');
    expect(error.message).toMatch(/shape \[1073741824, 1073741824, 1073741824\] overflows the element count/);
    // A zero dimension makes the same product an empty tensor, which is fine.
    const empty = rawFrame(MessageType.InferRequest, inferHeader([tensor([...shape, 0], 0)]));
    expect(decodeFrame(empty).type).toBe(MessageType.InferRequest);
  });

  it('bad datatypes, duplicate names and inconsistent compression parameters', () => {
    const datatype = rejection(rawFrame(MessageType.InferRequest, inferHeader([tensor([1], 4, 'FP64')]), new Uint8Array(4)));
    expect(datatype.message).toBe('inputs[0] ("x").datatype must be one of FP32, FP16, INT8, UINT8, INT32, INT64, BOOL, got "FP64"');
    const twice = rejection(rawFrame(MessageType.InferRequest, inferHeader([tensor([1], 4), tensor([1], 4)]), new Uint8Array(8)));
    expect(twice.message).toBe('inputs[1]: tensor name "x" appears twice');
    const zeroPoint = { name: 'q', datatype: 'UINT8', shape: [1], parameters: { binary_data_size: 1, scale: 0.1, zero_point: 300 } };
    expect(rejection(rawFrame(MessageType.InferRequest, inferHeader([zeroPoint]), new Uint8Array(1))).message).toBe(
      'inputs[0] ("q").parameters.zero_point must be an integer in 0..255, got 300',
    );
    const original = { name: 'q', datatype: 'INT32', shape: [1], parameters: { binary_data_size: 4, original_datatype: 'FP32' } };
    expect(rejection(rawFrame(MessageType.InferRequest, inferHeader([original]), new Uint8Array(4))).message).toBe(
      'inputs[0] ("q").parameters.original_datatype is FP32, but a INT32 tensor is not a compressed form of it',
    );
  });

  it('BOOL bytes other than 0 and 1, with the request id for an answer', () => {
    const bool = tensor([3], 3, 'BOOL');
    expect(decodeFrame(rawFrame(MessageType.InferRequest, inferHeader([bool]), Uint8Array.from([1, 0, 1]))).type).toBe(MessageType.InferRequest);
    const error = rejection(rawFrame(MessageType.InferRequest, inferHeader([bool]), Uint8Array.from([1, 0, 255]), 31));
    expect(error.code).toBe('CARBONCP_BAD_TENSOR');
    expect(error.message).toBe('tensor "x" is BOOL, but byte 2 of its data is 255 (BOOL bytes must be 0 or 1)');
    expect(error.details).toMatchObject({ requestId: 31, type: MessageType.InferRequest });
  });

  it('more tensors than maxTensors, refused before any is validated', () => {
    // 2000 entries, none of them even a valid tensor: the count is checked first.
    const many = rejection(rawFrame(MessageType.InferRequest, inferHeader(Array.from({ length: 2000 }, () => 0))));
    expect(many.code).toBe('CARBONCP_BAD_TENSOR');
    expect(many.message).toBe('infer request.inputs lists 2000 tensors, over the limit of 1024 tensors per message');
    expect(many.details).toMatchObject({ requestId: 9 });
    const three = Array.from({ length: 3 }, (_, i) => ({ ...(tensor([1], 1, 'UINT8') as object), name: `t${i}` }));
    const frame = rawFrame(MessageType.InferRequest, inferHeader(three), new Uint8Array(3));
    expect(decodeFrame(frame).type).toBe(MessageType.InferRequest);
    expect(rejection(frame, { maxTensors: 2 }).message).toMatch(/lists 3 tensors, over the limit of 2 tensors per message/);
    expect(() => decodeFrame(frame, { maxTensors: 0 })).toThrow(/maxTensors must be a positive integer, got 0/);
  });

  it('keeps error messages short whatever the size of the names and shapes sent', () => {
    const longName = { name: 'n'.repeat(100_000), datatype: 'FP64', shape: [1], parameters: { binary_data_size: 8 } };
    const named = rejection(rawFrame(MessageType.InferRequest, inferHeader([longName]), new Uint8Array(8)));
    expect(named.message).toMatch(/^inputs\[0\] \("n{70,}\.\.\.\)\.datatype must be one of/);
    expect(named.message.length).toBeLessThan(300);
    const deep = rejection(rawFrame(MessageType.InferRequest, inferHeader([tensor(Array.from({ length: 5000 }, () => 2), 4)]), new Uint8Array(4)));
    expect(deep.message).toMatch(/shape \[2, 2, .*, \.\.\. \(rank 5000\)\] overflows the element count/);
    expect(deep.message.length).toBeLessThan(300);
  });

  it('non-Uint8Array input and bad options', () => {
    expect(rejection('CCPW' as unknown as Uint8Array).message).toBe('a frame must be a Uint8Array, got "CCPW"');
    expect(() => decodeFrame(pingBytes(), { maxPayload: 0 })).toThrow(/maxPayload must be a positive integer, got 0/);
  });
});

describe('decodeFrame hands out plain views, whatever the frame', () => {
  it('decodes a frame inside a Node Buffer at an odd offset into plain Uint8Array views that copy on slice()', async () => {
    const { tensorFromArray, tensorToArray } = await import('./tensor-codec.js');
    const values = Float32Array.from({ length: 12 }, (_, i) => i / 3);
    const frame = encodeFrame({
      type: MessageType.InferRequest,
      requestId: 9,
      body: { model_name: 'm', plan_id: 'p', plan_digest: 'd', model_digest: 'd', inputs: [tensorFromArray('x', values, [3, 4])] },
    });
    // As ws hands messages out: a Buffer view into a larger chunk, at an offset that misaligns floats.
    const chunk = Buffer.alloc(frame.length + 5);
    chunk.set(frame, 3);
    const message = decodeFrame(chunk.subarray(3, 3 + frame.length));
    if (message.type !== MessageType.InferRequest) throw new Error('expected an infer request');
    const data = message.body.inputs[0].data;
    expect(Object.getPrototypeOf(data)).toBe(Uint8Array.prototype);
    expect(data.byteOffset % 4).not.toBe(0);
    // slice() is a copy into a buffer of its own (on a Buffer it would be a view into the chunk).
    const copy = data.slice();
    expect(copy.buffer).not.toBe(chunk.buffer);
    expect(copy.byteLength).toBe(copy.buffer.byteLength);
    expect(Array.from(tensorToArray(message.body.inputs[0]) as Float32Array)).toEqual(Array.from(values));
  });
});
