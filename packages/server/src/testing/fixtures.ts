/**
 * Shared fixtures of the server tests: the real PP-OCR direction classifier (input x
 * [N, 3, 48, 192]), its partition as the device computes it, and helpers that run a plan's head
 * locally to get the crossing tensors a device would send.
 */
import { extractPlan, type Partition, type Plan } from '@carboncp/core';
import { ocrModelPath, partitionWithProbe, readModelFile, seededInputs } from '@carboncp/core/node';
import { MessageType, tensorFromArray, type InferRequestMessage, type Message, type WireTensor } from '@carboncp/protocol';
import * as ort from 'onnxruntime-node';

export const CLS_PATH = ocrModelPath('ch_ppocr_mobile_v2.0_cls_infer.onnx');

export const CLS_NAME = 'ch_ppocr_mobile_v2.0_cls_infer';
/** The classifier's H and W are symbolic; both sides probe with the same shapes. */
export const CLS_INPUT_SHAPES = { [CLS_NAME]: { x: [1, 3, 48, 192] } };

export async function loadClsPartition(): Promise<Partition> {
  return partitionWithProbe(await readModelFile(CLS_PATH), { inputShapes: CLS_INPUT_SHAPES[CLS_NAME] });
}

/** A split plan near the middle of the model (by head compute nodes). */
export function middleSplit(partition: Partition): Plan {
  const splits = partition.plans.filter((p) => p.kind === 'split' && p.crossing.length === 1 && p.crossing[0].source === 'head');
  return splits[Math.floor(splits.length / 2)];
}

export type Feeds = Record<string, ort.Tensor>;

/** Seeded model inputs of the classifier: x of shape [batch, 3, 48, 192]. */
export function clsInputs(partition: Partition, seed: number, batch = 1): Feeds {
  const model = partition.model;
  return seededInputs(model, { [model.inputs[0].name]: [batch, 3, 48, 192] }, seed);
}

function wire(name: string, tensor: ort.Tensor): WireTensor {
  if (tensor.type !== 'float32') throw new Error(`fixture expects float32, got ${tensor.type}`);
  return tensorFromArray(name, tensor.data as Float32Array, [...tensor.dims], 'FP32');
}

/** Runs the plan's head (if any) and returns what the device would send for it. */
export async function crossingFor(partition: Partition, plan: Plan, feeds: Feeds): Promise<WireTensor[]> {
  const { head } = extractPlan(partition, plan);
  let values: Feeds = feeds;
  if (head) {
    const session = await ort.InferenceSession.create(head);
    try {
      values = { ...feeds, ...(await session.run(feeds)) };
    } finally {
      await session.release();
    }
  }
  return plan.crossing.map((c) => wire(c.name, values[c.name]));
}

export async function runFullModel(partition: Partition, feeds: Feeds): Promise<Feeds> {
  const session = await ort.InferenceSession.create(partition.model.bytes);
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

export function inferBody(partition: Partition, plan: Plan, inputs: WireTensor[], extra: Partial<InferRequestMessage> = {}): InferRequestMessage {
  return {
    model_name: partition.model.name,
    plan_id: plan.id,
    plan_digest: plan.digest,
    model_digest: partition.model.digest,
    inputs,
    ...extra,
  };
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

export function expectResponse(message: Message): Extract<Message, { type: MessageType.InferResponse }> {
  if (message.type !== MessageType.InferResponse) {
    const detail = message.type === MessageType.Error ? `${message.body.code}: ${message.body.message}` : MessageType[message.type];
    throw new Error(`expected an InferResponse, got ${detail}`);
  }
  return message;
}

export function expectError(message: Message): Extract<Message, { type: MessageType.Error }>['body'] {
  if (message.type !== MessageType.Error) throw new Error(`expected an Error, got ${MessageType[message.type]}`);
  return message.body;
}
