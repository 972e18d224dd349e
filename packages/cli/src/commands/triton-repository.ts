/**
 * A Triton model repository of a model's tails: one model per plan, named as the carboncp server
 * names it for KServe (tailModelName: the 'server' plan under the model's own name, a split
 * plan's tail as `<model>.tail.<planId>`), each `REPO/<name>/config.pbtxt` and
 * `REPO/<name>/1/model.onnx` for the onnxruntime backend. The config is derived from the ONNX
 * file Triton will load (its declared inputs and outputs), so the two cannot disagree: where
 * every input and output has a symbolic first dim, that dim is the batch (max_batch_size > 0,
 * dims without it, dynamic batching on; a tensor of the batch dim alone is dims [1] with
 * reshape []); otherwise max_batch_size 0 and full dims. Written into
 * a new or empty directory, atomically (a staging directory renamed into place).
 */
import { mkdir, mkdtemp, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { extractPlan, loadModel, type Partition, type Plan, type TensorInfo } from '@carboncp/core';
import { CarboncpError, ErrorCode, elementTypeOf } from '@carboncp/protocol';
import { checkTritonModelName, tailModelName } from '@carboncp/server';

export interface TritonBatching {
  /** max_batch_size of a batchable tail. */
  maxBatch: number;
  /** dynamic_batching.preferred_batch_size (empty: left to Triton). */
  preferred: number[];
  /** dynamic_batching.max_queue_delay_microseconds. */
  maxQueueDelayUs: number;
}

export interface TritonTensorConfig {
  name: string;
  /** TYPE_FP32 and so on. */
  dataType: string;
  /** Without the batch dim when maxBatchSize > 0; -1 for a variable dim. */
  dims: number[];
  /**
   * The model's own shape when it differs from dims: a batched tensor of shape [batch] alone has
   * dims [1] and reshape [] (Triton's config cannot say empty dims).
   */
  reshape?: number[];
}

export interface TritonModelConfig {
  name: string;
  platform: 'onnxruntime_onnx';
  maxBatchSize: number;
  inputs: TritonTensorConfig[];
  outputs: TritonTensorConfig[];
  dynamicBatching?: { preferred: number[]; maxQueueDelayUs: number };
}

/** Triton's name of a KServe datatype of protocol's element-type table: TYPE_<dtype>, BYTES as TYPE_STRING. */
export function tritonDataType(dtype: string): string {
  if (elementTypeOf(dtype) === undefined) throw new CarboncpError(ErrorCode.UNSUPPORTED_DTYPE, `datatype '${dtype}' has no Triton type`);
  return dtype === 'BYTES' ? 'TYPE_STRING' : `TYPE_${dtype}`;
}

/** The config of one model from the inputs and outputs its ONNX file declares. */
export function tritonConfigOf(name: string, io: { inputs: readonly TensorInfo[]; outputs: readonly TensorInfo[] }, batching: TritonBatching): TritonModelConfig {
  const tensors = [...io.inputs, ...io.outputs];
  const batched = batching.maxBatch > 0 && tensors.length > 0 && tensors.every((t) => t.shape.length > 0 && typeof t.shape[0] === 'string');
  const tensor = (t: TensorInfo): TritonTensorConfig => {
    const dims = (batched ? t.shape.slice(1) : t.shape).map((d) => (typeof d === 'number' ? d : -1));
    const head = { name: t.name, dataType: tritonDataType(t.dtype) };
    return dims.length === 0 ? { ...head, dims: [1], reshape: [] } : { ...head, dims };
  };
  return {
    name: checkTritonModelName(name),
    platform: 'onnxruntime_onnx',
    maxBatchSize: batched ? batching.maxBatch : 0,
    inputs: io.inputs.map(tensor),
    outputs: io.outputs.map(tensor),
    ...(batched ? { dynamicBatching: { preferred: batching.preferred.filter((n) => n <= batching.maxBatch), maxQueueDelayUs: batching.maxQueueDelayUs } } : {}),
  };
}

/** config.pbtxt: Triton's ModelConfig in protobuf text format. */
export function formatConfigPbtxt(config: TritonModelConfig): string {
  const tensors = (field: string, list: TritonTensorConfig[]) => [
    `${field} [`,
    list
      .map((t) =>
        [
          '  {',
          `    name: ${JSON.stringify(t.name)}`,
          `    data_type: ${t.dataType}`,
          `    dims: [ ${t.dims.join(', ')} ]`,
          ...(t.reshape ? [`    reshape: { shape: [ ${t.reshape.join(', ')} ] }`] : []),
          '  }',
        ].join('\n'),
      )
      .join(',\n'),
    ']',
  ];
  const lines = [
    `name: ${JSON.stringify(config.name)}`,
    `platform: ${JSON.stringify(config.platform)}`,
    `max_batch_size: ${config.maxBatchSize}`,
    ...tensors('input', config.inputs),
    ...tensors('output', config.outputs),
  ];
  if (config.dynamicBatching) {
    lines.push('dynamic_batching {');
    if (config.dynamicBatching.preferred.length > 0) lines.push(`  preferred_batch_size: [ ${config.dynamicBatching.preferred.join(', ')} ]`);
    lines.push(`  max_queue_delay_microseconds: ${config.dynamicBatching.maxQueueDelayUs}`, '}');
  }
  return `${lines.join('\n')}\n`;
}

export interface TritonModelEntry {
  name: string;
  plan: Plan;
  config: TritonModelConfig;
  /** REPO/<name>/1/model.onnx */
  modelPath: string;
}

/** The ONNX file of a plan's tail: the model itself for the 'server' plan. */
function tailBytes(partition: Partition, plan: Plan): Uint8Array {
  if (plan.kind === 'server') return partition.model.bytes;
  const { tail } = extractPlan(partition, plan, ['tail']);
  if (!tail) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `plan '${plan.id}' has no tail`);
  return tail;
}

/** Writes the repository of `plans` (none of kind 'device') into `out`, a new or empty directory. */
export async function writeTritonRepository(out: string, partition: Partition, plans: readonly Plan[], batching: TritonBatching): Promise<TritonModelEntry[]> {
  const target = resolve(out);
  const existing = await stat(target).catch(() => undefined);
  if (existing && !existing.isDirectory()) throw new CarboncpError(ErrorCode.BAD_OUTPUT, `${out} exists and is not a directory`);
  if (existing && (await readdir(target)).length > 0) throw new CarboncpError(ErrorCode.BAD_OUTPUT, `${out} is not empty; choose a new or empty directory`);
  // Everything is built before anything is written: a plan that fails leaves no half repository.
  const built = [];
  for (const plan of plans) {
    const bytes = tailBytes(partition, plan);
    const io = await loadModel(bytes, plan.id);
    built.push({ plan, bytes, config: tritonConfigOf(tailModelName(partition.model.name, plan), io, batching) });
  }
  let staging: string;
  try {
    await mkdir(dirname(target), { recursive: true });
    staging = await mkdtemp(join(dirname(target), `.${basename(target)}.tmp-`));
  } catch (cause) {
    throw new CarboncpError(ErrorCode.IO, `cannot create ${out}: ${(cause as Error).message}`, { cause });
  }
  try {
    for (const { config, bytes } of built) {
      await mkdir(join(staging, config.name, '1'), { recursive: true });
      await writeFile(join(staging, config.name, 'config.pbtxt'), formatConfigPbtxt(config));
      await writeFile(join(staging, config.name, '1', 'model.onnx'), bytes);
    }
    if (existing) await rm(target, { recursive: true });
    await rename(staging, target);
  } catch (cause) {
    await rm(staging, { recursive: true, force: true });
    throw new CarboncpError(ErrorCode.IO, `cannot write the repository into ${out}: ${(cause as Error).message}`, { cause });
  }
  return built.map(({ plan, config }) => ({ name: config.name, plan, config, modelPath: join(target, config.name, '1', 'model.onnx') }));
}
