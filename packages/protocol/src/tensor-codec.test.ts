import { describe, expect, it } from 'vitest';
import { bytesPerElement, isDataType, type TensorArray } from './datatypes.js';
import { CarboncpError } from './errors.js';
import { decodeFrame } from './frame-decoder.js';
import { encodeFrame } from './frame-encoder.js';
import { MessageType, type DataType, type Message, type WireTensor } from './messages.js';
import { compressTensor, decompressTensor, tensorFromArray, tensorToArray } from './tensor-codec.js';
import { seededRandom } from './fixtures/samples.js';

function codeOf(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    if (error instanceof CarboncpError) return `${error.code}: ${error.message}`;
    throw error;
  }
  return 'no error';
}

function request(inputs: WireTensor[]): Message {
  return {
    type: MessageType.InferRequest,
    requestId: 1,
    body: { model_name: 'm', plan_id: 'p', plan_digest: 'd', model_digest: 'e', inputs },
  };
}

/** Decodes `frame` from a copy at `offset` within a bigger buffer. */
function decodeAt(frame: Uint8Array, offset: number): WireTensor[] {
  const backing = new Uint8Array(frame.length + offset);
  backing.set(frame, offset);
  const message = decodeFrame(backing.subarray(offset));
  if (message.type !== MessageType.InferRequest) throw new Error('wrong type');
  return message.body.inputs;
}

describe('tensorFromArray / tensorToArray', () => {
  const samples: [DataType, TensorArray][] = [
    ['FP32', new Float32Array([1.5, -0, Number.NaN, Infinity, -3.4e38, 1e-45])],
    ['FP16', new Uint16Array([0x3c00, 0x7bff, 0x0001, 0xfc00, 0x8000, 0x7e00])],
    ['INT8', new Int8Array([-128, -1, 0, 1, 127, 5])],
    ['UINT8', new Uint8Array([0, 1, 127, 128, 254, 255])],
    ['INT32', new Int32Array([-2147483648, -1, 0, 1, 2147483647, 42])],
    ['INT64', new BigInt64Array([-(2n ** 63n), -1n, 0n, 1n, 2n ** 63n - 1n, 2n ** 53n + 1n])],
    ['BOOL', new Uint8Array([1, 0, 0, 1, 1, 0])],
  ];

  it('round-trips every datatype through a frame decoded at byte offsets 0..7', () => {
    const inputs = samples.map(([datatype, data]) => tensorFromArray(`t_${datatype}`, data, [2, 3], datatype));
    const frame = encodeFrame(request(inputs));
    for (let offset = 0; offset < 8; offset++) {
      const decoded = decodeAt(frame, offset);
      decoded.forEach((tensor, i) => {
        const [datatype, original] = samples[i];
        expect(tensor.datatype).toBe(datatype);
        expect(tensor.shape).toEqual([2, 3]);
        const array = tensorToArray(tensor);
        expect(array.constructor).toBe(original.constructor);
        // Object.is semantics keep -0 and NaN honest for FP32.
        expect(Array.from(array as ArrayLike<unknown>)).toEqual(Array.from(original as ArrayLike<unknown>));
      });
    }
  });

  it('carries INT8/UINT8 scale and zero_point through a frame', () => {
    const t = tensorFromArray('q', new Int8Array([-3, 4]), [2], 'INT8', { scale: 0.25, zero_point: -1 });
    const [back] = decodeAt(encodeFrame(request([t])), 3);
    expect(back.parameters).toEqual({ scale: 0.25, zero_point: -1, binary_data_size: 2 });
  });

  it('views aligned data and copies unaligned data', () => {
    const backing = new Uint8Array(17);
    const aligned: WireTensor = { name: 'a', datatype: 'FP32', shape: [4], data: backing.subarray(0, 16) };
    expect(tensorToArray(aligned).buffer).toBe(backing.buffer);
    backing.set([0, 0, 0x80, 0x3f], 1); // 1.0f at byte offset 1
    const unaligned: WireTensor = { name: 'u', datatype: 'FP32', shape: [4], data: backing.subarray(1, 17) };
    const copy = tensorToArray(unaligned) as Float32Array;
    expect(copy.buffer).not.toBe(backing.buffer);
    expect(copy[0]).toBe(1);
    const bytes: WireTensor = { name: 'b', datatype: 'UINT8', shape: [16], data: backing.subarray(1, 17) };
    expect(tensorToArray(bytes).buffer).toBe(backing.buffer);
  });

  it('copies unaligned data that is a Node Buffer (whose slice() is a view), for every multi-byte wire datatype', () => {
    for (const [datatype, values] of [
      ['FP32', new Float32Array([1.5, -2, 3.25])],
      ['INT64', new BigInt64Array([1n, -2n, 3n])],
      ['INT32', new Int32Array([7, -8, 9])],
      ['FP16', new Uint16Array([0x3c00, 0xc000, 0x4248])],
    ] as const) {
      const source = new Uint8Array(values.buffer);
      // A received frame: a Buffer whose tensor bytes start at an odd offset of its memory.
      const frame = Buffer.alloc(source.byteLength + 3);
      const data = frame.subarray(3);
      data.set(source);
      expect(Buffer.isBuffer(data) && data.byteOffset % 2 === 1).toBe(true);
      const array = tensorToArray({ name: 't', datatype, shape: [3], data });
      expect(Array.from(array as ArrayLike<unknown>), datatype).toEqual(Array.from(values as ArrayLike<unknown>));
      expect(array.buffer).not.toBe(frame.buffer);
      frame.fill(0); // a copy: the frame's memory can be reused
      expect(Array.from(array as ArrayLike<unknown>), datatype).toEqual(Array.from(values as ArrayLike<unknown>));
    }
  });

  it('wraps typed arrays without copying', () => {
    const values = new Float32Array([1, 2, 3, 4, 5]).subarray(1);
    const t = tensorFromArray('x', values, [2, 2]);
    expect(t.data.buffer).toBe(values.buffer);
    expect(t.data.byteOffset).toBe(4);
    expect(t.parameters?.binary_data_size).toBe(16);
  });

  it('rejects mismatched shapes, datatypes and sizes with clear errors', () => {
    expect(codeOf(() => tensorFromArray('x', new Float32Array(6), [2, 2]))).toBe(
      'CARBONCP_BAD_TENSOR: tensor "x": shape [2, 2] has 4 elements, but data has 6',
    );
    expect(codeOf(() => tensorFromArray('x', new Float32Array(2), [2], 'INT32'))).toBe(
      'CARBONCP_BAD_TENSOR: tensor "x": a Float32Array cannot hold INT32 (it holds FP32)',
    );
    expect(codeOf(() => tensorFromArray('x', [1, 2] as unknown as Float32Array, [2]))).toMatch(
      /data must be a Float32Array, Uint16Array, Int8Array, Uint8Array, Int32Array or BigInt64Array, got array of length 2/,
    );
    expect(codeOf(() => tensorFromArray('x', new Float32Array(2), [2, -1]))).toBe(
      'CARBONCP_BAD_TENSOR: tensor "x".shape[1] must be a non-negative safe integer, got -1',
    );
    expect(codeOf(() => tensorFromArray('q', new Uint8Array(2), [2], 'UINT8', { scale: -1, zero_point: 0 }))).toBe(
      'CARBONCP_BAD_TENSOR: tensor ("q").parameters.scale must be a finite number >= 0, got -1',
    );
    expect(codeOf(() => tensorToArray({ name: 'x', datatype: 'INT64', shape: [2], data: new Uint8Array(12) }))).toBe(
      'CARBONCP_BAD_TENSOR: tensor "x": data is 12 bytes, but shape [2] of INT64 needs 16',
    );
  });

  it('bytesPerElement covers every datatype, the non-wire types too, and is NaN for the rest', () => {
    expect(samples.map(([datatype]) => bytesPerElement(datatype))).toEqual([4, 2, 1, 1, 4, 8, 1]);
    expect(bytesPerElement('FP64')).toBe(8);
    expect(bytesPerElement('BYTES')).toBeNaN();
    expect(bytesPerElement('constructor')).toBeNaN();
    expect(isDataType('FP64')).toBe(false);
    expect(isDataType('constructor')).toBe(false);
  });
});

describe('compressTensor / decompressTensor', () => {
  const random = seededRandom(17);
  const values = new Float32Array(4096).map(() => (random() - 0.3) * 8);
  const original = tensorFromArray('act', values, [1, 4, 32, 32]);

  it('refuses BOOL data other than 0 and 1', () => {
    expect(tensorFromArray('b', Uint8Array.from([0, 1, 1]), [3], 'BOOL').datatype).toBe('BOOL');
    expect(codeOf(() => tensorFromArray('b', Uint8Array.from([0, 1, 2]), [3], 'BOOL'))).toBe(
      'CARBONCP_BAD_TENSOR: tensor "b": BOOL data must hold only 0 and 1, but element 2 is 2',
    );
    // The same bytes as UINT8 are fine.
    expect(tensorFromArray('u', Uint8Array.from([0, 1, 2]), [3]).datatype).toBe('UINT8');
  });

  it("'none' and non-FP32 tensors pass through unchanged", () => {
    expect(compressTensor(original, 'none')).toBe(original);
    const ids = tensorFromArray('ids', new Int32Array([1, 2]), [2]);
    expect(compressTensor(ids, 'int8')).toBe(ids);
    expect(decompressTensor(original)).toBe(original);
  });

  it('fp16 halves the bytes and stays within 2^-11 relative error through a frame', () => {
    const compressed = compressTensor(original, 'fp16');
    expect(compressed.datatype).toBe('FP16');
    expect(compressed.data.byteLength).toBe(original.data.byteLength / 2);
    expect(compressed.parameters).toMatchObject({ original_datatype: 'FP32', binary_data_size: 8192 });
    const [wire] = decodeAt(encodeFrame(request([compressed])), 5);
    const restored = decompressTensor(wire);
    expect(restored.datatype).toBe('FP32');
    expect(restored.shape).toEqual([1, 4, 32, 32]);
    expect(restored.parameters).toEqual({ binary_data_size: 16384 });
    const back = tensorToArray(restored) as Float32Array;
    for (let i = 0; i < values.length; i++) {
      // Values below 2^-14 are subnormal halves: absolute error 2^-25 there.
      expect(Math.abs(back[i] - values[i])).toBeLessThanOrEqual(Math.max(Math.abs(values[i]) * 2 ** -11, 2 ** -25));
    }
  });

  it('int8 quarters the bytes and stays within scale/2 through a frame', () => {
    const compressed = compressTensor(original, 'int8');
    expect(compressed.datatype).toBe('UINT8');
    expect(compressed.data.byteLength).toBe(4096);
    const scale = compressed.parameters?.scale as number;
    expect(scale).toBeGreaterThan(0);
    const [wire] = decodeAt(encodeFrame(request([compressed])), 1);
    const back = tensorToArray(decompressTensor(wire)) as Float32Array;
    for (let i = 0; i < values.length; i++) {
      expect(Math.abs(back[i] - values[i])).toBeLessThanOrEqual(scale / 2 + Math.abs(values[i]) * 2 ** -23);
    }
  });

  it('fp16 keeps Inf, NaN and subnormals; int8 refuses non-finite values', () => {
    const special = tensorFromArray('s', new Float32Array([Infinity, -Infinity, Number.NaN, 2 ** -20, 70000]), [5]);
    const back = tensorToArray(decompressTensor(compressTensor(special, 'fp16'))) as Float32Array;
    expect(back[0]).toBe(Infinity);
    expect(back[1]).toBe(-Infinity);
    expect(Number.isNaN(back[2])).toBe(true);
    expect(back[3]).toBe(2 ** -20);
    expect(back[4]).toBe(Infinity); // past 65504: IEEE overflow
    expect(codeOf(() => compressTensor(special, 'int8'))).toMatch(/CARBONCP_BAD_TENSOR: int8 compression needs finite values, but element 0 is Infinity/);
  });

  it('int8 of a constant zero tensor uses scale 0 and restores zeros', () => {
    const zeros = tensorFromArray('z', new Float32Array(6), [6]);
    const compressed = compressTensor(zeros, 'int8');
    expect(compressed.parameters).toMatchObject({ scale: 0, zero_point: 0 });
    const [wire] = decodeAt(encodeFrame(request([compressed])), 0);
    expect(Array.from(tensorToArray(decompressTensor(wire)) as Float32Array)).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('rejects unknown compressions and unrestorable tensors', () => {
    expect(codeOf(() => compressTensor(original, 'zstd' as 'none'))).toBe(
      "CARBONCP_INVALID_ARGUMENT: unknown compression \"zstd\"; expected 'none', 'fp16' or 'int8'",
    );
    const noScale: WireTensor = { name: 'q', datatype: 'UINT8', shape: [1], data: new Uint8Array(1), parameters: { original_datatype: 'FP32' } };
    expect(codeOf(() => decompressTensor(noScale))).toMatch(/a quantised UINT8 tensor needs a finite scale >= 0 and an integer zero_point in 0..255, got scale undefined/);
    // Built in memory, so never checked by the decoder: decompressTensor checks the range itself.
    const quantised = (datatype: 'UINT8' | 'INT8', zero_point: number, scale = 0.5): WireTensor => ({
      name: 'q',
      datatype,
      shape: [1],
      data: new Uint8Array(1),
      parameters: { scale, zero_point, original_datatype: 'FP32' },
    });
    expect(codeOf(() => decompressTensor(quantised('UINT8', 300)))).toMatch(/integer zero_point in 0..255, got scale 0.5, zero_point 300/);
    expect(codeOf(() => decompressTensor(quantised('UINT8', 1.5)))).toMatch(/zero_point 1.5/);
    expect(codeOf(() => decompressTensor(quantised('INT8', 128)))).toMatch(/integer zero_point in -128..127, got scale 0.5, zero_point 128/);
    expect(codeOf(() => decompressTensor(quantised('INT8', 0, Number.NaN)))).toMatch(/CARBONCP_BAD_TENSOR: .*scale null/);
    expect(Array.from(tensorToArray(decompressTensor(quantised('INT8', -128))) as Float32Array)).toEqual([64]);
    const toInt: WireTensor = { name: 'h', datatype: 'FP16', shape: [1], data: new Uint8Array(2), parameters: { original_datatype: 'INT32' } };
    expect(codeOf(() => decompressTensor(toInt))).toMatch(/cannot restore original_datatype "INT32"; only FP32 is supported/);
  });
});
