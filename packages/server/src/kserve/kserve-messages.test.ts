import { ErrorCode, tensorFromArray, tensorToArray, type WireTensor } from '@carboncp/protocol';
import { describe, expect, it } from 'vitest';
import { decodeInferRequest, decodeInferResponse, encodeInferRequest, encodeInferResponse, wantsBinary } from './kserve-messages.js';
import { checkTritonModelName, tailModelName } from './model-names.js';

/** A body as a KServe client writes it: the JSON text, then the raw bytes. */
function body(json: unknown, ...chunks: Uint8Array[]): { bytes: Uint8Array; headerLength: string } {
  const head = new TextEncoder().encode(JSON.stringify(json));
  const bytes = new Uint8Array(head.byteLength + chunks.reduce((n, c) => n + c.byteLength, 0));
  bytes.set(head, 0);
  let at = head.byteLength;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return { bytes, headerLength: String(head.byteLength) };
}

function le32(values: number[]): Uint8Array {
  const view = new DataView(new ArrayBuffer(values.length * 4));
  values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return new Uint8Array(view.buffer);
}

/** The elements of a non-INT64 tensor as numbers. */
function values(tensor: WireTensor): number[] {
  return Array.from(tensorToArray(tensor) as ArrayLike<number>);
}

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
}

describe('KServe v2 request decoding', () => {
  it('reads binary inputs after the JSON header, split at Inference-Header-Content-Length', () => {
    const { bytes, headerLength } = body(
      {
        id: 'r1',
        inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP32', parameters: { binary_data_size: 12 } }],
        outputs: [{ name: 'y', parameters: { binary_data: true } }],
      },
      le32([1.5, -2, 0.25]),
    );
    const request = decodeInferRequest(bytes, headerLength);
    expect(request.id).toBe('r1');
    expect(request.inputs).toHaveLength(1);
    expect(request.inputs[0].name).toBe('x');
    expect(request.inputs[0].shape).toEqual([1, 3]);
    expect(values(request.inputs[0])).toEqual([1.5, -2, 0.25]);
    expect(request.outputs).toEqual([{ name: 'y', binary: true }]);
    expect(wantsBinary(request, 'y')).toBe(true);
  });

  it('reads JSON data, flat or nested, in every wire datatype, beside binary inputs in entry order', () => {
    const { bytes, headerLength } = body(
      {
        parameters: { binary_data_output: true },
        inputs: [
          { name: 'a', shape: [2, 2], datatype: 'FP32', data: [[1, 2], [3, 4]] },
          { name: 'b', shape: [2], datatype: 'FP32', parameters: { binary_data_size: 8 } },
          { name: 'c', shape: [3], datatype: 'INT64', data: [-1, 0, 2 ** 40] },
          { name: 'd', shape: [2], datatype: 'BOOL', data: [true, false] },
          { name: 'e', shape: [1], datatype: 'FP16', data: [0.5] },
          { name: 'f', shape: [2], datatype: 'FP32', parameters: { binary_data_size: 8 } },
          { name: 'g', shape: [2], datatype: 'UINT8', data: [0, 255] },
        ],
      },
      le32([7, 8]),
      le32([9, 10]),
    );
    const request = decodeInferRequest(bytes, headerLength);
    const byName = Object.fromEntries(request.inputs.map((t) => [t.name, t]));
    expect(values(byName.a)).toEqual([1, 2, 3, 4]);
    expect(values(byName.b)).toEqual([7, 8]);
    expect(values(byName.f)).toEqual([9, 10]);
    expect(Array.from(tensorToArray(byName.c) as BigInt64Array)).toEqual([-1n, 0n, 2n ** 40n]);
    expect(Array.from(byName.d.data)).toEqual([1, 0]);
    expect(values(byName.e)).toEqual([0x3800]);
    expect(Array.from(byName.g.data)).toEqual([0, 255]);
    // No outputs listed: binary_data_output decides for all.
    expect(request.outputs).toBeUndefined();
    expect(wantsBinary(request, 'anything')).toBe(true);
  });

  it('takes the whole body as JSON without the header', () => {
    const { bytes } = body({ inputs: [{ name: 'x', shape: [2], datatype: 'INT32', data: [5, -6] }] });
    const request = decodeInferRequest(bytes, undefined);
    expect(values(request.inputs[0])).toEqual([5, -6]);
    expect(wantsBinary(request, 'x')).toBe(false);
  });

  it('refuses malformed bodies with the code that names the fault', () => {
    const x = { name: 'x', shape: [2], datatype: 'FP32', parameters: { binary_data_size: 8 } };
    const ok = body({ inputs: [x] }, le32([1, 2]));
    expect(codeOf(() => decodeInferRequest(ok.bytes, String(ok.bytes.byteLength + 1)))).toBe(ErrorCode.BAD_FRAME);
    expect(codeOf(() => decodeInferRequest(ok.bytes, '12abc'))).toBe(ErrorCode.BAD_FRAME);
    expect(codeOf(() => decodeInferRequest(new TextEncoder().encode('{"inputs":'), undefined))).toBe(ErrorCode.BAD_FRAME);
    expect(codeOf(() => decodeInferRequest(new TextEncoder().encode('[1]'), undefined))).toBe(ErrorCode.BAD_FRAME);
    // A byte that no tensor accounts for, and a tensor that runs past the end.
    const extra = body({ inputs: [x] }, le32([1, 2]), new Uint8Array([0]));
    expect(codeOf(() => decodeInferRequest(extra.bytes, extra.headerLength))).toBe(ErrorCode.BAD_TENSOR);
    const short = body({ inputs: [x] }, le32([1]));
    expect(codeOf(() => decodeInferRequest(short.bytes, short.headerLength))).toBe(ErrorCode.BAD_TENSOR);
    // binary_data_size that disagrees with the shape.
    const mismatch = body({ inputs: [{ ...x, parameters: { binary_data_size: 4 } }] }, le32([1]));
    expect(codeOf(() => decodeInferRequest(mismatch.bytes, mismatch.headerLength))).toBe(ErrorCode.BAD_TENSOR);
    const cases: unknown[] = [
      { inputs: [{ name: 'x', shape: [1], datatype: 'FP64', data: [1] }] },
      { inputs: [{ name: 'x', shape: [1], datatype: 'BYTES', data: ['a'] }] },
      { inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [1], parameters: { binary_data_size: 4 } }] },
      { inputs: [{ name: 'x', shape: [2], datatype: 'FP32', data: [[[1]], [[2]]] }] },
      { inputs: [{ name: 'x', shape: [3], datatype: 'FP32', data: [1, 2] }] },
      { inputs: [{ name: 'x', shape: [1], datatype: 'INT8', data: [200] }] },
      { inputs: [{ name: 'x', shape: [1], datatype: 'INT32', data: [1.5] }] },
      { inputs: [{ name: 'x', shape: [1], datatype: 'BOOL', data: [1] }] },
      { inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: ['1'] }] },
      { inputs: [{ shape: [1], datatype: 'FP32', data: [1] }] },
      { inputs: [{ name: 'x', shape: [-1], datatype: 'FP32', data: [] }] },
      { inputs: {} },
    ];
    for (const json of cases) expect(codeOf(() => decodeInferRequest(body(json).bytes, undefined)), JSON.stringify(json)).toBe(ErrorCode.BAD_TENSOR);
    for (const json of [{ inputs: [], id: 3 }, { inputs: [], outputs: {} }, { inputs: [], outputs: [{ name: '' }] }, { inputs: [], parameters: [] }]) {
      expect(codeOf(() => decodeInferRequest(body(json).bytes, undefined)), JSON.stringify(json)).toBe(ErrorCode.BAD_FRAME);
    }
  });
});

describe('KServe v2 response encoding', () => {
  const y = tensorFromArray('y', new Float32Array([0.5, 1.5]), [1, 2]);
  const z = tensorFromArray('z', new BigInt64Array([3n]), [1]);

  it('writes binary outputs after the JSON with their sizes, JSON outputs inline', () => {
    const encoded = encodeInferResponse({ model_name: 'm', model_version: '1', id: 'r', outputs: [y, z], parameters: { server_ms: 2 } }, (name) => name === 'y');
    expect(encoded.headerLength).toBeDefined();
    const head = JSON.parse(encoded.body.subarray(0, encoded.headerLength).toString('utf8'));
    expect(head).toEqual({
      model_name: 'm',
      model_version: '1',
      id: 'r',
      parameters: { server_ms: 2 },
      outputs: [
        { name: 'y', datatype: 'FP32', shape: [1, 2], parameters: { binary_data_size: 8 } },
        { name: 'z', datatype: 'INT64', shape: [1], data: [3] },
      ],
    });
    expect(Array.from(encoded.body.subarray(encoded.headerLength!))).toEqual(Array.from(le32([0.5, 1.5])));
  });

  it('is plain JSON (no header length) when no output is binary, and decodes back either way', () => {
    const json = encodeInferResponse({ model_name: 'm', outputs: [y] }, () => false);
    expect(json.headerLength).toBeUndefined();
    expect(JSON.parse(json.body.toString('utf8')).outputs[0].data).toEqual([0.5, 1.5]);
    for (const binary of [false, true]) {
      const encoded = encodeInferResponse({ model_name: 'm', outputs: [y, z] }, () => binary);
      const decoded = decodeInferResponse(encoded.body, encoded.headerLength === undefined ? undefined : String(encoded.headerLength));
      expect(decoded.model_name).toBe('m');
      expect(values(decoded.outputs[0])).toEqual([0.5, 1.5]);
      expect(Array.from(tensorToArray(decoded.outputs[1]) as BigInt64Array)).toEqual([3n]);
    }
  });

  it('encodes requests that decode to the same tensors, binary or JSON', () => {
    const inputs: WireTensor[] = [tensorFromArray('x', new Float32Array([1, 2, 3]), [1, 3]), tensorFromArray('m', new Uint8Array([1, 0]), [2], 'BOOL')];
    for (const binary of [true, false]) {
      const encoded = encodeInferRequest({ id: 'q', inputs, outputs: ['y'], binary });
      const decoded = decodeInferRequest(encoded.body, encoded.headerLength === undefined ? undefined : String(encoded.headerLength));
      expect(decoded.id).toBe('q');
      expect(decoded.inputs.map((t) => [t.name, t.datatype, t.shape, Array.from(t.data)])).toEqual(inputs.map((t) => [t.name, t.datatype, t.shape, Array.from(t.data)]));
      expect(decoded.outputs).toEqual([{ name: 'y', binary }]);
    }
  });
});

describe('KServe / Triton model names', () => {
  it('names the server plan by the model, a split plan by its tail, and checks Triton-safe names', () => {
    expect(tailModelName('cls', { id: 'server', kind: 'server' })).toBe('cls');
    expect(tailModelName('cls', { id: 'split-3', kind: 'split' })).toBe('cls.tail.split-3');
    expect(checkTritonModelName('mobilenetv2-0.35.v1.tail.split-12')).toBe('mobilenetv2-0.35.v1.tail.split-12');
    for (const bad of ['a b', '.hidden', 'a/b', '', 'x'.repeat(201), 'é']) expect(codeOf(() => checkTritonModelName(bad)), bad).toBe(ErrorCode.INVALID_ARGUMENT);
  });
});
