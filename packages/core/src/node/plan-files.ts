import { mkdir, mkdtemp, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { extractPlan } from '../partition.js';
import type { Partition, Plan } from '../plan/plan-types.js';

export interface PlanFile {
  model: { name: string; digest: string; inputs: Partition['model']['inputs']; outputs: Partition['model']['outputs'] };
  plan: Plan;
  inputShapes?: Record<string, number[]>;
  files: { head?: string; tail?: string };
}

/**
 * Writes head.onnx, tail.onnx (whichever exist) and plan.json into `dir`, all or nothing:
 * everything goes to a temporary sibling directory first, which is renamed into place. An
 * existing `dir` must be empty (it is replaced); a non-empty one is refused, never mixed.
 */
export async function writePlanFiles(
  dir: string,
  partition: Partition,
  plan: Plan | string,
  extra: { inputShapes?: Record<string, number[]> } = {},
): Promise<{ head?: string; tail?: string; planJson: string }> {
  const { head, tail, plan: chosen } = extractPlan(partition, plan);
  const target = resolve(dir);
  const existing = await stat(target).catch(() => undefined);
  if (existing && !existing.isDirectory()) {
    throw new CarboncpError(ErrorCode.BAD_OUTPUT, `output directory ${dir} exists and is not a directory`);
  }
  if (existing) {
    if ((await readdir(target)).length > 0) {
      throw new CarboncpError(ErrorCode.BAD_OUTPUT, `output directory ${dir} is not empty; choose a new or empty directory`);
    }
  }
  let staging: string;
  try {
    await mkdir(dirname(target), { recursive: true });
    staging = await mkdtemp(join(dirname(target), `.${basename(target)}.tmp-`));
  } catch (cause) {
    throw new CarboncpError(ErrorCode.IO, `cannot create ${dir}: ${(cause as Error).message}`, { cause });
  }
  try {
    const files: PlanFile['files'] = {};
    if (head) {
      await writeFile(join(staging, 'head.onnx'), head);
      files.head = 'head.onnx';
    }
    if (tail) {
      await writeFile(join(staging, 'tail.onnx'), tail);
      files.tail = 'tail.onnx';
    }
    const { model } = partition;
    const document: PlanFile = {
      model: { name: model.name, digest: model.digest, inputs: model.inputs, outputs: model.outputs },
      plan: chosen,
      ...(extra.inputShapes ? { inputShapes: extra.inputShapes } : {}),
      files,
    };
    await writeFile(join(staging, 'plan.json'), `${JSON.stringify(document, jsonNumbers, 2)}\n`);
    if (existing) await rm(target, { recursive: true });
    await rename(staging, target);
    return {
      ...(files.head ? { head: join(target, 'head.onnx') } : {}),
      ...(files.tail ? { tail: join(target, 'tail.onnx') } : {}),
      planJson: join(target, 'plan.json'),
    };
  } catch (cause) {
    await rm(staging, { recursive: true, force: true });
    if (cause instanceof CarboncpError) throw cause;
    throw new CarboncpError(ErrorCode.IO, `cannot write the plan files into ${dir}: ${(cause as Error).message}`, { cause });
  }
}

/** JSON has no NaN: an unknown size is written as null. */
export function jsonNumbers(_key: string, value: unknown): unknown {
  return typeof value === 'number' && !Number.isFinite(value) ? null : value;
}
