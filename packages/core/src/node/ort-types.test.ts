import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { DATATYPES, bytesPerElement, tensorToArray, type DataType } from '@carboncp/protocol';
import { WIRE_ORT_TYPES, ortTypeOf, wireTypeOf } from '../onnx/ort-types.js';

describe('wire datatype <-> onnxruntime type', () => {
  it.each(DATATYPES)('%s makes an onnxruntime tensor over the typed array the wire decodes to, and maps back', (datatype) => {
    const type = ortTypeOf(datatype);
    expect(type).toBeDefined();
    const data = tensorToArray({ name: 't', datatype, shape: [3], data: new Uint8Array(3 * bytesPerElement(datatype)) });
    const tensor = new ort.Tensor(type!, data as ort.Tensor.DataTypeMap[ort.Tensor.Type], [3]);
    expect(tensor.type).toBe(type);
    expect(wireTypeOf(tensor.type)).toBe(datatype);
  });

  it('lists every carried onnxruntime type once, in DATATYPES order', () => {
    expect(WIRE_ORT_TYPES).toEqual(['float32', 'float16', 'int8', 'uint8', 'int32', 'int64', 'bool']);
  });

  it('has no wire datatype for types the wire does not carry, and no onnxruntime type for non-datatypes', () => {
    for (const type of ['float64', 'string', 'uint16', 'uint32', 'uint64', 'bfloat16']) expect(wireTypeOf(type)).toBeUndefined();
    for (const name of ['FP64', 'BYTES', 'constructor', 'toString', '']) expect(ortTypeOf(name as DataType)).toBeUndefined();
  });
});
