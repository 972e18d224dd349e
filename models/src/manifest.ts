/**
 * The zoo manifest (models/manifest.json): for each model, where it comes from, its licence,
 * input shapes, size, parameter count and how many cut points the partitioner finds. Every
 * number is computed from the model bytes and the partitioner, never typed by hand.
 */
import { readFile } from 'node:fs/promises';
import { decodeModel, loadModel, type Partition } from '@carboncp/core';
import { partitionWithProbe } from '@carboncp/core/node';
import { ensureModel, listModels, type ZooModel } from './index.js';
import { ZOO } from './registry.js';

export interface ManifestEntry extends ZooModel {
  /** File name of the model (in the cache for generated models, in node_modules otherwise). */
  file: string;
  sizeBytes: number;
  sha256: string;
  /** Elements of every initializer and Constant tensor in the file (BatchNorm statistics included). */
  storedElements: number;
  /** Learnable parameters as PyTorch counts them (generated models only). */
  learnableParameters?: number;
  opset: number;
  nodes: number;
  /** Number of split plans (cut points) at the partitioner's default width, plus 'server' and 'device'. */
  cuts: number;
  inputBytesPerSample: number;
  /** The split whose crossing is smallest, and how much it sends per sample. */
  smallestCut: { id: string; bytesPerSample: number } | null;
  totalFlops: number;
}

export interface Manifest {
  generatedBy: string;
  models: ManifestEntry[];
}

function storedElements(bytes: Uint8Array): number {
  const graph = decodeModel(bytes).graph!;
  const count = (dims: bigint[]): number => dims.reduce((p, d) => p * Number(d), 1);
  let total = graph.initializer.reduce((sum, t) => sum + count(t.dims), 0);
  for (const node of graph.node) {
    if (node.opType !== 'Constant') continue;
    for (const attr of node.attribute) if (attr.t) total += count(attr.t.dims);
  }
  return total;
}

/** Partitions one zoo model at its listed input shapes, probing only where it lacks shapes. */
export async function partitionZooModel(name: string, options: { cacheDir?: string } = {}): Promise<Partition> {
  const zoo = listModels().find((m) => m.name === name);
  const path = await ensureModel(name, options);
  const model = await loadModel(new Uint8Array(await readFile(path)), name);
  return partitionWithProbe(model, { inputShapes: zoo?.inputShapes });
}

export async function manifestEntry(zoo: ZooModel, options: { cacheDir?: string } = {}): Promise<ManifestEntry> {
  const path = await ensureModel(zoo.name, options);
  const result = await partitionZooModel(zoo.name, options);
  const { model, plans } = result;
  const splits = plans.filter((p) => p.kind === 'split');
  const smallest = splits.reduce<(typeof splits)[number] | null>((best, p) => (best === null || p.bytesPerSample < best.bytesPerSample ? p : best), null);
  const server = plans.find((p) => p.id === 'server')!;
  const entry = ZOO.find((e) => e.name === zoo.name)!;
  return {
    ...zoo,
    file: path.split(/[/\\]/).pop()!,
    sizeBytes: model.bytes.byteLength,
    sha256: model.digest,
    storedElements: storedElements(model.bytes),
    ...(entry.kind === 'generated' ? { learnableParameters: entry.generate().parameters } : {}),
    opset: Number(model.model.opsetImport.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version ?? 0),
    nodes: model.model.graph!.node.length,
    cuts: splits.length,
    inputBytesPerSample: server.bytesPerSample,
    smallestCut: smallest ? { id: smallest.id, bytesPerSample: smallest.bytesPerSample } : null,
    totalFlops: server.tailFlops,
  };
}

export async function buildManifest(options: { cacheDir?: string } = {}): Promise<Manifest> {
  const models: ManifestEntry[] = [];
  for (const zoo of listModels()) models.push(await manifestEntry(zoo, options));
  return { generatedBy: 'node models/dist/write-manifest.js (partition() of @carboncp/core at the default width)', models };
}
