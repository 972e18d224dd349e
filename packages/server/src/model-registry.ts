/**
 * The models a server serves: every .onnx file named on the command line or found in a named
 * directory, loaded and partitioned once at startup so that plan ids and digests are known
 * before the first client says hello. The partition depends only on the model bytes, so the
 * device, partitioning the same file, arrives at the same ids and digests.
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import type { LoadedModel, Partition, Plan } from '@carboncp/core';
import { partitionWithProbe, readModelFile } from '@carboncp/core/node';
import { CarboncpError, isCarboncpError } from '@carboncp/protocol';

export interface ServedModel {
  name: string;
  path: string;
  loaded: LoadedModel;
  partition: Partition;
  /** Plans the server can run: kind 'split' and 'server' (the 'device' plan has no tail). */
  servable: Map<string, Plan>;
}

/** Expands files and directories into (name, path) pairs; the name is the file name without .onnx. */
export async function findModelFiles(paths: readonly string[]): Promise<{ name: string; path: string }[]> {
  if (paths.length === 0) {
    throw new CarboncpError('CARBONCP_BAD_OPTIONS', 'no models given: pass at least one .onnx file or directory of them');
  }
  const found: { name: string; path: string }[] = [];
  for (const given of paths) {
    const path = resolve(given);
    let info;
    try {
      info = await stat(path);
    } catch (cause) {
      throw new CarboncpError('CARBONCP_NOT_FOUND', `model path not found: ${given}`, { cause });
    }
    if (info.isDirectory()) {
      const files = (await readdir(path)).filter((f) => extname(f).toLowerCase() === '.onnx').sort();
      if (files.length === 0) {
        throw new CarboncpError('CARBONCP_NOT_FOUND', `no .onnx files in directory ${given}`);
      }
      for (const file of files) found.push({ name: basename(file, extname(file)), path: join(path, file) });
    } else {
      found.push({ name: basename(path, extname(path)), path });
    }
  }
  const seen = new Map<string, string>();
  for (const { name, path } of found) {
    const previous = seen.get(name);
    if (previous !== undefined && previous !== path) {
      throw new CarboncpError('CARBONCP_BAD_OPTIONS', `two models would both be named '${name}': ${previous} and ${path}`);
    }
    seen.set(name, path);
  }
  return found.filter((entry, index) => found.findIndex((other) => other.path === entry.path) === index);
}

/**
 * Input shapes for the partition probe, by model name: the plan digests cover the crossing
 * shapes, so for a model with symbolic non-batch dims both sides must probe with the same
 * shapes (the batch size itself does not matter; it stays symbolic).
 */
export type ModelInputShapes = Record<string, Record<string, number[]>>;

/** The inputShapes key whose shapes apply to every model that has an input of that name. */
export const ANY_MODEL = '*';

export async function loadServedModels(
  paths: readonly string[],
  inputShapes: ModelInputShapes,
  log: (line: string) => void,
): Promise<Map<string, ServedModel>> {
  const models = new Map<string, ServedModel>();
  const files = await findModelFiles(paths);
  const unknown = Object.keys(inputShapes).filter((name) => name !== ANY_MODEL && !files.some((f) => f.name === name));
  if (unknown.length > 0) {
    throw new CarboncpError(
      'CARBONCP_BAD_OPTIONS',
      `input shapes given for unknown model(s) ${unknown.map((n) => `'${n}'`).join(', ')}; served models: ${files.map((f) => `'${f.name}'`).join(', ')}`,
    );
  }
  for (const { name, path } of files) {
    const loaded = await readModelFile(path, name);
    const shared = Object.entries(inputShapes[ANY_MODEL] ?? {}).filter(([input]) => loaded.inputs.some((i) => i.name === input));
    const merged = { ...Object.fromEntries(shared), ...inputShapes[name] };
    const shapes = Object.keys(merged).length > 0 ? merged : undefined;
    let partition: Partition;
    try {
      partition = await partitionWithProbe(loaded, shapes ? { inputShapes: shapes } : {});
    } catch (cause) {
      if (isCarboncpError(cause, 'CARBONCP_SHAPE_REQUIRED')) {
        throw new CarboncpError(
          'CARBONCP_SHAPE_REQUIRED',
          `model '${name}' (${path}) has symbolic input dims, so its cut shapes (and plan digests) need concrete input shapes: ` +
            `give the same input shapes the device uses (e.g. --input-shape ${name}:${loaded.inputs[0]?.name ?? 'input'}=1,...). ${cause.message}`,
          { cause },
        );
      }
      throw cause;
    }
    const servable = new Map(partition.plans.filter((p) => p.kind !== 'device').map((p) => [p.id, p]));
    models.set(name, { name, path, loaded, partition, servable });
    log(`model ${name}: ${path} (sha256 ${loaded.digest.slice(0, 12)}, ${servable.size} servable plans)`);
  }
  return models;
}
