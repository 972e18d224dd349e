import { CarboncpError } from '@carboncp/protocol';
import { describe, expect, it } from 'vitest';
import { isInputRejection } from './onnxruntime-errors.js';

// Messages as onnxruntime-node 1.30 words them (collected from real runs of PP-OCR tails).
const SHAPE_OR_TYPE = [
  'Got invalid dimensions for input: x for the following indices\n index: 1 Got: 4 Expected: 3\n Please fix either the inputs/outputs or the model.',
  'Invalid rank for input: x Got: 3 Expected: 4 Please fix either the inputs/outputs or the model.',
  'Unexpected input data type. Actual: (tensor(int32)) , expected: (tensor(float))',
  "Non-zero status code returned while running ReorderInput node. Name:'ReorderInput' Status Message: /onnxruntime_src/onnxruntime/contrib_ops/cpu/nchwc_ops.cc:17 virtual onnxruntime::common::Status onnxruntime::contrib::ReorderInput::Compute(onnxruntime::OpKernelContext*) const X_rank == 4 was false. ",
  "Non-zero status code returned while running ReorderInput node. Name:'ReorderInput' Status Message: /onnxruntime_src/onnxruntime/contrib_ops/cpu/nchwc_ops.cc:25 virtual onnxruntime::common::Status onnxruntime::contrib::ReorderInput::Compute(onnxruntime::OpKernelContext*) const (channels % 4) == 0 was false. ",
  "Non-zero status code returned while running Reshape node. Name:'' Status Message: /onnxruntime_src/onnxruntime/core/providers/cpu/tensor/reshape_helper.h:47 onnxruntime::ReshapeHelper::ReshapeHelper(const onnxruntime::TensorShape&, onnxruntime::TensorShapeVector&, bool) input_shape_size == size was false. The input tensor cannot be reshaped to the requested shape. Input shape:{2,4}, requested shape:{1,4}\n",
  "Non-zero status code returned while running Add node. Name:'add' Status Message: Attempting to broadcast an axis by a dimension other than 1. 24 by 32",
];

const NOT_THE_REQUEST = [
  "Non-zero status code returned while running Gather node. Name:'reshape_gather' Status Message: indices element out of data bounds, idx=7 must be within the inclusive range [-4,3]",
  'Failed to allocate memory for requested buffer of size 4294967296',
  'Load model from memory failed:Protobuf parsing failed.',
];

describe('isInputRejection', () => {
  it.each(SHAPE_OR_TYPE)('a shape or type error: %s', (message) => expect(isInputRejection(new Error(message))).toBe(true));
  it.each(NOT_THE_REQUEST)('not a shape or type error: %s', (message) => expect(isInputRejection(new Error(message))).toBe(false));
  it('carboncp errors and non-errors are never onnxruntime rejections', () => {
    expect(isInputRejection(new CarboncpError('CARBONCP_INTERNAL', 'Invalid rank for input: x'))).toBe(false);
    expect(isInputRejection('Invalid rank for input: x')).toBe(false);
  });
});
