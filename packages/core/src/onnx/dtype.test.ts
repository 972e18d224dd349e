import { describe, expect, it } from 'vitest';
import { DATATYPES, ELEMENT_TYPES, bytesPerElement } from '@carboncp/protocol';
import { dtypeOfElemType, dtypeOfOrtType, elemTypeOfDtype, ortTypeOfDtype } from './dtype.js';
import { elemTypeBytes, elemTypeCode } from './model-builder.js';
import { TensorProto_DataType } from './proto.js';

/** ONNX's enum names for the KServe names: the check that protocol's written-out numbers are ONNX's. */
const ONNX_NAME: Record<string, keyof typeof TensorProto_DataType> = {
  FP32: 'FLOAT', FP16: 'FLOAT16', INT8: 'INT8', UINT8: 'UINT8', INT32: 'INT32', INT64: 'INT64', BOOL: 'BOOL',
  UINT16: 'UINT16', INT16: 'INT16', BYTES: 'STRING', FP64: 'DOUBLE', UINT32: 'UINT32', UINT64: 'UINT64', BF16: 'BFLOAT16',
};

describe('element types (protocol ELEMENT_TYPES seen from ONNX)', () => {
  it('uses the ONNX TensorProto.DataType numbers of onnx itself', () => {
    expect(ELEMENT_TYPES.map((type) => type.dtype).sort()).toEqual(Object.keys(ONNX_NAME).sort());
    for (const type of ELEMENT_TYPES) expect([type.dtype, type.onnx]).toEqual([type.dtype, TensorProto_DataType[ONNX_NAME[type.dtype]]]);
  });

  it('maps ONNX numbers, KServe names and onnxruntime names both ways', () => {
    for (const type of ELEMENT_TYPES) {
      expect(dtypeOfElemType(type.onnx)).toBe(type.dtype);
      expect(elemTypeOfDtype(type.dtype)).toBe(type.onnx);
      expect(dtypeOfOrtType(type.ort)).toBe(type.dtype);
      expect(ortTypeOfDtype(type.dtype)).toBe(type.ort);
    }
    expect(dtypeOfElemType(0)).toBe('ONNX_TYPE_0');
    expect(dtypeOfOrtType('complex64')).toBe('ORT_complex64');
    expect(elemTypeOfDtype('constructor')).toBeUndefined();
  });

  it('has one bytesPerElement: core, protocol and the builder agree', () => {
    expect(DATATYPES.map(bytesPerElement)).toEqual([4, 2, 1, 1, 4, 8, 1]);
    expect(bytesPerElement('FP64')).toBe(8);
    expect(bytesPerElement('BYTES')).toBeNaN();
    expect(bytesPerElement('ONNX_TYPE_0')).toBeNaN();
    expect(elemTypeBytes('INT16')).toBe(2);
    expect(elemTypeCode('FP64')).toBe(TensorProto_DataType.DOUBLE);
    expect(() => elemTypeCode('BF16' as never)).toThrow(/unknown element type 'BF16'/);
  });
});
