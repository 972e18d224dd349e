import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GraphBuilder, ModelBuilder, makeTensor } from '../onnx/model-builder.js';
import { StringStringEntryProtoSchema, TensorProto_DataLocation, create, encodeModel, type TensorProto } from '../onnx/proto.js';
import { readModelFile } from '../node/read-model.js';
import { loadModel } from './load-model.js';

/** Marks a tensor as stored in `file` at offset 0, as onnx.save_model(save_as_external_data=True) does. */
function externalise(tensor: TensorProto, file: string): void {
  const length = tensor.rawData.byteLength;
  tensor.rawData = new Uint8Array(0);
  tensor.dataLocation = TensorProto_DataLocation.EXTERNAL;
  tensor.externalData = [
    create(StringStringEntryProtoSchema, { key: 'location', value: file }),
    create(StringStringEntryProtoSchema, { key: 'offset', value: '0' }),
    create(StringStringEntryProtoSchema, { key: 'length', value: String(length) }),
  ];
}

function chain() {
  return new ModelBuilder({ name: 'chain' })
    .input('x', 'FP32', ['N', 4])
    .initializer('w', 'FP32', [4, 4], { seed: 1, std: 1 })
    .node('MatMul', ['x', 'w'], ['h'])
    .node('Relu', ['h'], ['y'])
    .output('y', 'FP32', ['N', 4])
    .build();
}

describe('models with weights in external data files', () => {
  it('an external initializer is refused with CARBONCP_EXTERNAL_DATA naming the tensor and the file', async () => {
    const model = chain();
    externalise(model.graph!.initializer[0], 'chain.onnx.data');
    const error = await loadModel(encodeModel(model), 'chain').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'CARBONCP_EXTERNAL_DATA', details: { tensor: 'w', location: 'chain.onnx.data' } });
    expect((error as Error).message).toContain("initializer 'w' in an external file ('chain.onnx.data')");
    expect((error as Error).message).toContain('save_as_external_data=False');
  });

  it('so is a Constant tensor inside a Loop body, and readModelFile says which file it read', async () => {
    const value = makeTensor('k', 'FP32', [4], [1, 2, 3, 4]);
    externalise(value, 'weights.bin');
    const body = new GraphBuilder('body')
      .input('i', 'INT64', [])
      .input('cond_in', 'BOOL', [])
      .input('acc', 'FP32', ['N', 4])
      .node('Constant', [], ['k'], { value }, 'k_const')
      .node('Mul', ['acc', 'k'], ['acc_out'])
      .node('Identity', ['cond_in'], ['cond_out'])
      .output('cond_out', 'BOOL', [])
      .output('acc_out', 'FP32', ['N', 4])
      .buildGraph();
    const bytes = new ModelBuilder({ name: 'loop' })
      .input('x', 'FP32', ['N', 4])
      .initializer('trip', 'INT64', [], [2])
      .initializer('cond', 'BOOL', [], [true])
      .node('Loop', ['trip', 'cond', 'x'], ['y'], { body }, 'loop')
      .output('y', 'FP32', ['N', 4])
      .toBytes();
    const dir = await mkdtemp(join(tmpdir(), 'carboncp-external-'));
    try {
      await writeFile(join(dir, 'loop.onnx'), bytes);
      const error = await readModelFile(join(dir, 'loop.onnx')).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'CARBONCP_EXTERNAL_DATA' });
      expect((error as Error).message).toContain(join(dir, 'loop.onnx'));
      expect((error as Error).message).toContain("attribute 'value' of Constant node 'k_const' inside Loop node 'loop' in an external file ('weights.bin')");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a self-contained model loads', async () => {
    await expect(loadModel(encodeModel(chain()))).resolves.toMatchObject({ inputs: [{ name: 'x' }] });
  });
});
