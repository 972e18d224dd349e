// Test support (excluded from the build): model-local functions for tests that build models.
import { FunctionProtoSchema, NodeProtoSchema, OperatorSetIdProtoSchema, create, type FunctionProto } from './proto.js';

/** A model-local function `carboncp.test.DoubleIt(a) -> b = a + a`; the model must import the 'carboncp.test' opset. */
export function doubleItFunction(): FunctionProto {
  return create(FunctionProtoSchema, {
    name: 'DoubleIt',
    domain: 'carboncp.test',
    input: ['a'],
    output: ['b'],
    node: [create(NodeProtoSchema, { opType: 'Add', input: ['a', 'a'], output: ['b'] })],
    opsetImport: [create(OperatorSetIdProtoSchema, { domain: '', version: 17n })],
  });
}
