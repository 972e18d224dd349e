import { describe, expect, it } from 'vitest';
import { ModelBuilder, makeTensor } from '../onnx/model-builder.js';
import { buildGraphIndex } from '../graph/graph-index.js';
import { partition } from '../partition.js';
import { ocrModelPath, type OcrModelFile } from '../node/ocr-model-path.js';
import { partitionWithProbe } from '../node/partition-with-probe.js';
import { readModelFile } from '../node/read-model.js';
import { ShapeTable } from './shape-table.js';
import { inferOutputDtypes, opsWithDtypeRules } from './dtype-inference.js';

describe('dtype propagation without value_info', () => {
  const model = new ModelBuilder({ name: 'dtypes', opset: 17 })
    .input('x', 'FP16', ['N', 4])
    .initializer('zp', 'INT8', [], [0])
    .initializer('scale', 'FP32', [], [0.5])
    .initializer('k', 'INT64', [1], [2])
    .node('Relu', ['x'], ['relu'])
    .node('Shape', ['relu'], ['shape'])
    .node('Equal', ['relu', 'relu'], ['same'])
    .node('Cast', ['relu'], ['as_int32'], { to: 6 })
    .node('ConstantOfShape', ['shape'], ['zeros'])
    .node('ConstantOfShape', ['shape'], ['ones'], { value: makeTensor('v', 'INT32', [1], [1]) })
    .node('Where', ['same', 'as_int32', 'ones'], ['picked'])
    .node('QuantizeLinear', ['zeros', 'scale'], ['q_default'])
    .node('QuantizeLinear', ['zeros', 'scale', 'zp'], ['q_int8'])
    .node('DequantizeLinear', ['q_int8', 'scale', 'zp'], ['dq'])
    .node('TopK', ['relu', 'k'], ['top_values', 'top_indices'], { axis: -1 })
    .node('Transpose', ['picked'], ['transposed'], { perm: [1, 0] })
    .node('Constant', [], ['c_ints'], { value_ints: [1, 2] })
    .node('Mystery', ['relu'], ['custom'], {}, 'mystery', 'com.example')
    .node('Relu', ['custom'], ['after_custom'])
    .output('after_custom', 'FP16', ['N', 4])
    .output('transposed', 'INT32', [4, 'N'])
    .output('dq', 'FP32', ['N', 4])
    .output('top_values', 'FP16', ['N', 2])
    .output('top_indices', 'INT64', ['N', 2])
    .output('q_default', 'UINT8', ['N', 4])
    .output('c_ints', 'INT64', [2])
    .build();
  // The builder declares outputs; drop the declarations so that only propagation can type them.
  model.graph!.output.length = 0;
  const table = new ShapeTable(buildGraphIndex(model));
  const dtype = (name: string): string | undefined => table.get(name)?.dtype;

  it('follows the table: same-as-input, fixed INT64/BOOL, Cast to, ConstantOfShape, Where, quantisation, TopK', () => {
    expect(dtype('relu')).toBe('FP16');
    expect(dtype('shape')).toBe('INT64');
    expect(dtype('same')).toBe('BOOL');
    expect(dtype('as_int32')).toBe('INT32');
    expect(dtype('zeros')).toBe('FP32');
    expect(dtype('ones')).toBe('INT32');
    expect(dtype('picked')).toBe('INT32');
    expect(dtype('q_default')).toBe('UINT8');
    expect(dtype('q_int8')).toBe('INT8');
    expect(dtype('dq')).toBe('FP32');
    expect([dtype('top_values'), dtype('top_indices')]).toEqual(['FP16', 'INT64']);
    expect(dtype('transposed')).toBe('INT32');
    expect(dtype('c_ints')).toBe('INT64');
  });

  it('leaves ops of other domains, and what depends on them, unknown; shapes stay unknown', () => {
    expect(table.get('custom')).toBeUndefined();
    expect(table.get('after_custom')).toBeUndefined();
    expect(table.get('relu')?.shape).toBeUndefined();
    expect(table.bytesPerSample('relu')).toBeNaN();
  });

  it('a node output with an unknown input is unknown, not a guess', () => {
    const node = model.graph!.node.find((n) => n.opType === 'Where')!;
    expect(inferOutputDtypes(node, () => undefined)).toEqual([undefined]);
    expect(opsWithDtypeRules()).toEqual(expect.arrayContaining(['Conv', 'Gather', 'Resize', 'NonZero', 'IsNaN', 'Constant']));
  });
});

describe('PP-OCR models: every crossing dtype is known without a probe and equals the probed one', () => {
  const cases: [OcrModelFile, number[]][] = [
    ['ch_ppocr_mobile_v2.0_cls_infer.onnx', [1, 3, 48, 192]],
    ['ch_PP-OCRv4_det_infer.onnx', [1, 3, 64, 96]],
    ['ch_PP-OCRv4_rec_infer.onnx', [1, 3, 48, 64]],
  ];
  for (const [file, dims] of cases) {
    it(file, async () => {
      const model = await readModelFile(ocrModelPath(file));
      const bare = await partition(model);
      const probed = await partitionWithProbe(model, { inputShapes: { x: dims } });
      expect(bare.plans.map((p) => p.id)).toEqual(probed.plans.map((p) => p.id));
      let checked = 0;
      for (const [i, plan] of bare.plans.entries()) {
        expect(plan.crossing.map((c) => c.name)).toEqual(probed.plans[i].crossing.map((c) => c.name));
        plan.crossing.forEach((c, j) => {
          expect(c.dtype, `${plan.id} ${c.name}`).not.toBe('UNKNOWN');
          expect(c.dtype, `${plan.id} ${c.name}`).toBe(probed.plans[i].crossing[j].dtype);
          checked++;
        });
      }
      expect(checked).toBeGreaterThan(bare.plans.length - 2);
    });
  }
});
