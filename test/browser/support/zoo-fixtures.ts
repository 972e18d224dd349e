// What the browser suites serve and compare against: zoo models, their plan JSON (made here,
// where onnxruntime-node can probe shapes, as `carboncp partition --json` does), seeded inputs,
// and whole-model results from onnxruntime-node.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { planSetOf, type Plan } from '@carboncp/core';
import { partitionWithProbe, readModelFile, seededInputs } from '@carboncp/core/node';
import { ensureModel, getZooModel } from '@carboncp/models';
import { modelNameOf, referenceRunner, seededSample } from '../../e2e/split-harness.js';

export interface ZooFixture {
  zooName: string;
  /** The name the server knows it by (its file name). */
  modelName: string;
  file: string;
  inputShapes: Record<string, number[]>;
  /** URL paths of the model and its plan JSON on the static server. */
  modelPath: string;
  plansPath: string;
  plans: readonly Plan[];
  inputs: Record<string, { data: number[]; dims: number[] }>;
  /** onnxruntime-node's whole-model outputs for `inputs`. */
  expected: Record<string, { data: number[]; dims: number[] }>;
}

export async function zooFixture(zooName: string, dir: string, seed: number): Promise<ZooFixture> {
  const file = await ensureModel(zooName);
  const modelName = modelNameOf(file);
  const { inputShapes } = getZooModel(zooName);
  const model = await readModelFile(file, modelName);
  const partition = await partitionWithProbe(model, { inputShapes });
  const plansFile = join(dir, `${modelName}.plans.json`);
  await writeFile(plansFile, JSON.stringify(planSetOf(partition, inputShapes)));
  const feeds = seededInputs(model, inputShapes, seed);
  const reference = await referenceRunner(file);
  const outputs = await reference.run(feeds);
  await reference.release();
  const plain = (tensors: typeof outputs) =>
    Object.fromEntries(Object.entries(tensors).map(([name, t]) => [name, { data: Array.from(t.data as Float32Array), dims: [...t.dims] }]));
  return {
    zooName,
    modelName,
    file,
    inputShapes,
    modelPath: `/models/${modelName}.onnx`,
    plansPath: `/models/${modelName}.plans.json`,
    plans: partition.plans,
    inputs: plain(feeds),
    expected: plain(outputs),
  };
}

/** Files the static server adds for these fixtures (URL path -> file). */
export function fixtureFiles(fixtures: readonly ZooFixture[], dir: string): Record<string, string> {
  return Object.fromEntries(fixtures.flatMap((f) => [[f.modelPath, f.file], [f.plansPath, join(dir, `${f.modelName}.plans.json`)]]));
}

/** `count` seeded split cuts whose head has compute (a crossing tensor the head produced). */
export function splitCuts(fixture: ZooFixture, count: number, seed: number): string[] {
  const splits = fixture.plans.filter((p) => p.kind === 'split' && p.crossing.some((c) => c.source === 'head'));
  return seededSample(splits, count, seed).map((p) => p.id);
}

/** Largest |actual - expected| over every output, Infinity when one is missing or its shape differs. */
export function maxAbsDiff(actual: Record<string, { data: number[]; dims: number[] }>, expected: Record<string, { data: number[]; dims: number[] }>): number {
  let worst = 0;
  for (const [name, want] of Object.entries(expected)) {
    const got = actual[name];
    if (!got || got.dims.join() !== want.dims.join() || got.data.length !== want.data.length) return Infinity;
    for (let i = 0; i < want.data.length; i++) {
      const d = Math.abs(got.data[i] - want.data[i]);
      if (Number.isNaN(d)) return Infinity;
      if (d > worst) worst = d;
    }
  }
  return worst;
}

export function maxAbsOf(outputs: Record<string, { data: number[] }>): number {
  return Math.max(...Object.values(outputs).flatMap((o) => o.data.map(Math.abs)));
}
