/**
 * Frame codec cost for the tensor that crosses a split of a 224x224 image model: 602,112 bytes of
 * FP32 ([1, 3, 224, 224]), against a plain copy of the same bytes (the least any sender that
 * builds one buffer must pay), and the receive side of a message in fragments: decoded as they are
 * against the join ws makes of them otherwise. Results: test/bench/results/protocol.md.
 */
import { bench, describe } from 'vitest';
import {
  compressTensor,
  decodeFrame,
  decodeFrameFragments,
  decompressTensor,
  encodeFrame,
  encodeFrameParts,
  fragmentsOf,
  MessageType,
  tensorFromArray,
  tensorToArray,
  type Message,
  type WireTensor,
} from '@carboncp/protocol';

const SHAPE = [1, 3, 224, 224];
let state = 12345;
// Seeded LCG: the same activations on every run.
const values = new Float32Array(150_528).map(() => {
  state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
  return (state / 2 ** 32) * 4 - 1;
});
const tensor = tensorFromArray('activation', values, SHAPE);
const bytes = new Uint8Array(values.buffer);
const request: Message = {
  type: MessageType.InferRequest,
  requestId: 1,
  body: { model_name: 'resnet', plan_id: 'cut-12', plan_digest: 'a'.repeat(64), model_digest: 'b'.repeat(64), inputs: [tensor] },
};
const encoded = encodeFrame(request);
// As ws delivers a message sendFrameParts sent (binaryType 'fragments'): header, then the tensor.
const fragments = fragmentsOf(encodeFrameParts(request)).map((fragment) => Buffer.from(fragment));
const fp16 = encodeFrame({ ...request, body: { ...request.body, inputs: [compressTensor(tensor, 'fp16')] } } as Message);
const int8 = encodeFrame({ ...request, body: { ...request.body, inputs: [compressTensor(tensor, 'int8')] } } as Message);

function firstInput(message: Message): WireTensor {
  if (message.type !== MessageType.InferRequest) throw new Error('expected an infer request');
  return message.body.inputs[0];
}

const options = { time: 1500, warmupTime: 300 };

describe(`602,112-byte FP32 tensor (frame ${encoded.length} B)`, () => {
  bench('baseline: Buffer.from copy of the bytes', () => {
    Buffer.from(bytes);
  }, options);

  bench('encodeFrame', () => {
    encodeFrame(request);
  }, options);

  bench('decodeFrame + tensorToArray (zero-copy view)', () => {
    tensorToArray(firstInput(decodeFrame(encoded)));
  }, options);

  bench('encodeFrame + decodeFrame + tensorToArray', () => {
    tensorToArray(firstInput(decodeFrame(encodeFrame(request))));
  }, options);

  bench('encodeFrameParts (no tensor copy)', () => {
    encodeFrameParts(request);
  }, options);

  bench('decodeFrameFragments + tensorToArray ([header, tensor] fragments, no join, no copy)', () => {
    tensorToArray(firstInput(decodeFrameFragments(fragments)));
  }, options);

  bench('what ws did before decodeFrame: join the fragments (Buffer.concat)', () => {
    Buffer.concat(fragments);
  }, options);
});

describe('activation compression of the same tensor', () => {
  bench('fp16: compressTensor + encodeFrame', () => {
    encodeFrame({ ...request, body: { ...request.body, inputs: [compressTensor(tensor, 'fp16')] } } as Message);
  }, options);

  bench('fp16: decodeFrame + decompressTensor', () => {
    decompressTensor(firstInput(decodeFrame(fp16)));
  }, options);

  bench('int8: compressTensor + encodeFrame', () => {
    encodeFrame({ ...request, body: { ...request.body, inputs: [compressTensor(tensor, 'int8')] } } as Message);
  }, options);

  bench('int8: decodeFrame + decompressTensor', () => {
    decompressTensor(firstInput(decodeFrame(int8)));
  }, options);
});
