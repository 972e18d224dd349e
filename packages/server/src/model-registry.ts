/**
 * The models a server serves: every .onnx file named on the command line or found in a named
 * directory, loaded and partitioned once at startup so that plan ids and digests are known
 * before the first client says hello. Plan ids and digests depend only on the model bytes, so the
 * device, partitioning the same file with whatever input shapes, arrives at the same ones.
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import { inputsNeedingShapes, partition as partitionWithoutProbe, type LoadedModel, type Partition, type Plan } from '@carboncp/core';
import { needsProbe, partitionWithProbe, readModelFile } from '@carboncp/core/node';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';

export interface ServedModel {
  name: string;
  path: string;
  loaded: LoadedModel;
  partition: Partition;
  /** Plans the server can run: kind 'split' and 'server' (the 'device' plan has no tail). */
  servable: Map<string, Plan>;
  /** The input shapes the model was partitioned with (options.inputShapes merged), when given. */
  inputShapes?: Record<string, number[]>;
}

/** Expands files and directories into (name, path) pairs; the name is the file name without .onnx. */
export async function findModelFiles(paths: readonly string[]): Promise<{ name: string; path: string }[]> {
  if (paths.length === 0) {
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, 'no models given: pass at least one .onnx file or directory of them');
  }
  const found: { name: string; path: string }[] = [];
  for (const given of paths) {
    const path = resolve(given);
    let info;
    try {
      info = await stat(path);
    } catch (cause) {
      throw new CarboncpError(ErrorCode.NOT_FOUND, `model path not found: ${given}`, { cause });
    }
    if (info.isDirectory()) {
      const files = (await readdir(path)).filter((f) => extname(f).toLowerCase() === '.onnx').sort();
      if (files.length === 0) {
        throw new CarboncpError(ErrorCode.NOT_FOUND, `no .onnx files in directory ${given}`);
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
      throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `two models would both be named '${name}': ${previous} and ${path}`);
    }
    seen.set(name, path);
  }
  return found.filter((entry, index) => found.findIndex((other) => other.path === entry.path) === index);
}

/**
 * Input shapes by model name, optional. Plan ids and digests depend only on the model bytes, so
 * shapes never have to match the device's. With shapes, the server probes the model and checks
 * every request's crossing tensors against the exact cut shapes (batch size aside). Without
 * them, a model whose inputs have symbolic non-batch dims (images of any size) is partitioned
 * without a probe: requests are checked for dtype, rank where known and fixed dims, and
 * onnxruntime checks the rest.
 */
export type ModelInputShapes = Record<string, Record<string, number[]>>;

/** The inputShapes key whose shapes apply to every model that has an input of that name. */
export const ANY_MODEL = '*';

async function partitionServedModel(loaded: LoadedModel, shapes: Record<string, number[]> | undefined, log: (line: string) => void): Promise<Partition> {
  const options = shapes ? { inputShapes: shapes } : {};
  const unsized = inputsNeedingShapes(loaded, shapes);
  if (unsized.length === 0 || !needsProbe(loaded, options)) return partitionWithProbe(loaded, options);
  const open = unsized.map((name) => `${name} [${loaded.inputs.find((i) => i.name === name)!.shape.join(', ')}]`).join(', ');
  log(
    `model ${loaded.name}: cut sizes are unknown until input shapes are given (${open}; e.g. --input-shape ${loaded.name}:${unsized[0]}=...); ` +
      'requests are checked for dtype, rank where known and fixed dims, onnxruntime checks the rest',
  );
  return partitionWithoutProbe(loaded, options);
}

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
      ErrorCode.INVALID_ARGUMENT,
      `input shapes given for unknown model(s) ${unknown.map((n) => `'${n}'`).join(', ')}; served models: ${files.map((f) => `'${f.name}'`).join(', ')}`,
    );
  }
  for (const { name, path } of files) {
    const loaded = await readModelFile(path, name);
    const shared = Object.entries(inputShapes[ANY_MODEL] ?? {}).filter(([input]) => loaded.inputs.some((i) => i.name === input));
    const merged = { ...Object.fromEntries(shared), ...inputShapes[name] };
    const shapes = Object.keys(merged).length > 0 ? merged : undefined;
    const partition = await partitionServedModel(loaded, shapes, log);
    const servable = new Map(partition.plans.filter((p) => p.kind !== 'device').map((p) => [p.id, p]));
    models.set(name, { name, path, loaded, partition, servable, ...(shapes ? { inputShapes: shapes } : {}) });
    log(`model ${name}: ${path} (sha256 ${loaded.digest.slice(0, 12)}, ${servable.size} servable plans)`);
  }
  return models;
}
