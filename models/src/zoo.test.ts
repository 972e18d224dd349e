import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeModel, isCarboncpError } from '@carboncp/core';
import { buildModel, ensureModel, generatedParameterCount, getFamily, getZooModel, listFamilies, listModels } from './index.js';
import { TRANSFORMER_CONFIG } from './generators/transformer-encoder.js';
import { makeDivisible } from './generators/mobilenetv2.js';
import type { Manifest } from './manifest.js';

const manifest = JSON.parse(await readFile(new URL('../manifest.json', import.meta.url), 'utf8')) as Manifest;

const GENERATED = ['resnet18', 'mobilenetv2', 'transformer-encoder', 'mobilenetv2-0.35', 'mobilenetv2-0.5', 'mobilenetv2-0.75', 'resnet34', 'resnet50'];
const PRETRAINED = ['ppocr-det', 'ppocr-cls', 'ppocr-rec'];

/** Deterministic inputs: uniform floats in [0, 1) or token ids in [0, 8000). */
function inputFor(name: string, shape: number[], seed: number): ort.Tensor {
  let state = seed >>> 0;
  const next = (): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
  const size = shape.reduce((a, b) => a * b, 1);
  if (name === 'input_ids') return new ort.Tensor('int64', BigInt64Array.from({ length: size }, () => BigInt(Math.floor(next() * 8000))), shape);
  return new ort.Tensor('float32', Float32Array.from({ length: size }, next), shape);
}

async function runModel(bytesOrPath: Uint8Array | string, inputShapes: Record<string, number[]>): Promise<Record<string, ort.Tensor>> {
  const session = await ort.InferenceSession.create(bytesOrPath as Uint8Array);
  try {
    const feeds = Object.fromEntries(Object.entries(inputShapes).map(([name, shape]) => [name, inputFor(name, shape, 1)]));
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

function expectFinite(tensor: ort.Tensor): void {
  for (const value of tensor.data as Float32Array) expect(Number.isFinite(value)).toBe(true);
}

describe('zoo catalogue', () => {
  it('lists every model with its metadata', () => {
    const models = listModels();
    expect(models.map((m) => m.name)).toEqual([...GENERATED, ...PRETRAINED]);
    for (const model of models) {
      expect(model.description.length).toBeGreaterThan(10);
      expect(model.licence).toMatch(/Apache-2.0|MIT/);
      expect(Object.keys(model.inputShapes).length).toBe(1);
    }
    // The catalogue hands out copies: callers cannot corrupt it.
    getZooModel('resnet18').inputShapes.input[0] = 99;
    expect(getZooModel('resnet18').inputShapes.input).toEqual([1, 3, 224, 224]);
  });

  it('rejects unknown names listing the known ones', async () => {
    expect(() => getZooModel('resnet101')).toThrow(/unknown model 'resnet101'; the zoo has: resnet18, mobilenetv2/);
    await expect(ensureModel('nope')).rejects.toSatisfy((e) => isCarboncpError(e, 'CARBONCP_UNKNOWN_MODEL'));
    await expect(buildModel('ppocr-det')).rejects.toSatisfy((e) => isCarboncpError(e, 'CARBONCP_NOT_GENERATED'));
  });
});

/**
 * Learnable parameters of torchvision's mobilenet_v2(width_mult=width), counted from the
 * channel table independently of the generator: conv weights, BatchNorm scale and shift, the
 * classifier. The channels at each width are written out (torchvision's _make_divisible).
 */
function mobilenetV2Parameters(width: 0.35 | 0.5 | 0.75 | 1): number {
  const channels: Record<string, { stem: number; stages: number[] }> = {
    '0.35': { stem: 16, stages: [8, 8, 16, 24, 32, 56, 112] },
    '0.5': { stem: 16, stages: [8, 16, 16, 32, 48, 80, 160] },
    '0.75': { stem: 24, stages: [16, 24, 24, 48, 72, 120, 240] },
    '1': { stem: 32, stages: [16, 24, 32, 64, 96, 160, 320] },
  };
  const { stem, stages } = channels[String(width)];
  const repeats = [1, 2, 3, 4, 3, 3, 1];
  const conv = (cin: number, cout: number, k: number, groups = 1) => (cin / groups) * cout * k * k + 2 * cout;
  let total = conv(3, stem, 3);
  let cin = stem;
  stages.forEach((cout, i) => {
    for (let r = 0; r < repeats[i]; r++) {
      const hidden = i === 0 ? cin : cin * 6;
      if (i > 0) total += conv(cin, hidden, 1);
      total += conv(hidden, hidden, 3, hidden) + conv(hidden, cout, 1);
      cin = cout;
    }
  });
  total += conv(cin, 1280, 1) + 1280 * 1000 + 1000;
  return total;
}

describe('generated models', () => {
  it("makeDivisible rounds like torchvision's _make_divisible (nearest multiple of 8, at least 8, never 10% below)", () => {
    // 32 x 0.35 = 11.2 -> 8 is more than 10% below, so 16; 24 x 0.75 = 18 -> 16 < 16.2, so 24.
    expect([5.6, 8.4, 11.2, 22.4, 33.6, 56, 112, 448].map((v) => makeDivisible(v))).toEqual([8, 8, 16, 24, 32, 56, 112, 448]);
    expect([12, 18, 24, 48, 72, 120, 240, 1280].map((v) => makeDivisible(v))).toEqual([16, 24, 24, 48, 72, 120, 240, 1280]);
  });

  it('the hand count agrees with torchvision where it publishes a figure', () => {
    expect(mobilenetV2Parameters(1)).toBe(3_504_872);
    expect(mobilenetV2Parameters(0.5)).toBe(1_968_680);
  });

  const expected: Record<string, { output: string; dims: number[]; parameters: number }> = {
    // torchvision's own counts: sum(p.numel() for p in model.parameters()), as its docs list
    // them (num_params of ResNet18/34/50_Weights and MobileNet_V2_Weights).
    resnet18: { output: 'logits', dims: [1, 1000], parameters: 11_689_512 },
    resnet34: { output: 'logits', dims: [1, 1000], parameters: 21_797_672 },
    resnet50: { output: 'logits', dims: [1, 1000], parameters: 25_557_032 },
    mobilenetv2: { output: 'logits', dims: [1, 1000], parameters: 3_504_872 },
    // torchvision publishes no weights below width 1; these are what its
    // mobilenet_v2(width_mult=w) builds (_make_divisible to 8, last channel 1280), counted by
    // hand below from the channel table; 0.5's 1,968,680 is the figure quoted for it.
    'mobilenetv2-0.35': { output: 'logits', dims: [1, 1000], parameters: mobilenetV2Parameters(0.35) },
    'mobilenetv2-0.5': { output: 'logits', dims: [1, 1000], parameters: 1_968_680 },
    'mobilenetv2-0.75': { output: 'logits', dims: [1, 1000], parameters: mobilenetV2Parameters(0.75) },
    'transformer-encoder': (() => {
      const { vocab, sequence, model, ffn, layers, classes } = TRANSFORMER_CONFIG;
      const dense = (i: number, o: number) => i * o + o;
      const norm = 2 * model;
      const layer = 4 * dense(model, model) + norm + dense(model, ffn) + dense(ffn, model) + norm;
      const parameters = vocab * model + sequence * model + norm + layers * layer + dense(model, model) + dense(model, classes);
      return { output: 'logits', dims: [1, classes], parameters };
    })(),
  };

  for (const name of GENERATED) {
    it(`${name}: same bytes every build, runs, has its architecture's parameter count and full value_info`, async () => {
      const bytes = await buildModel(name);
      const again = await buildModel(name);
      expect(Buffer.compare(Buffer.from(bytes), Buffer.from(again))).toBe(0);
      expect(generatedParameterCount(name)).toBe(expected[name].parameters);

      // A cache file from an older generator must carry an older version in its name.
      const cached = await readFile(await ensureModel(name));
      expect(Buffer.compare(cached, Buffer.from(bytes)), `stale ${name} in the cache: bump its version in registry.ts`).toBe(0);

      const outputs = await runModel(bytes, getZooModel(name).inputShapes);
      const output = outputs[expected[name].output];
      expect(output.dims).toEqual(expected[name].dims);
      expectFinite(output);

      // Every intermediate value has a declared type and shape with a symbolic batch dimension.
      const graph = decodeModel(bytes).graph!;
      const declared = new Map(graph.valueInfo.map((info) => [info.name, info]));
      const graphOutputs = new Set(graph.output.map((o) => o.name));
      for (const node of graph.node) {
        for (const out of node.output) {
          if (graphOutputs.has(out)) continue;
          const info = declared.get(out);
          expect(info, `value_info for ${out}`).toBeDefined();
          const type = info!.type!.value;
          expect(type.case).toBe('tensorType');
        }
      }
      expect(graph.input[0].type?.value.case === 'tensorType' && graph.input[0].type.value.value.shape?.dim[0].value).toEqual({ case: 'dimParam', value: 'N' });
    });
  }

  it('runs with a batch of 2 (the batch dimension is symbolic)', async () => {
    const outputs = await runModel(await buildModel('mobilenetv2'), { input: [2, 3, 224, 224] });
    expect(outputs.logits.dims).toEqual([2, 1000]);
  });
});

describe('model families', () => {
  it('lists the zoo families, each variant a zoo model with a declared, sourced quality', () => {
    const families = listFamilies();
    expect(families.map((f) => f.name)).toEqual(['imagenet-mobilenetv2', 'imagenet-resnet']);
    expect(getFamily('imagenet-mobilenetv2').variants.map((v) => [v.name, v.model, v.quality.value])).toEqual([
      ['0.35', 'mobilenetv2-0.35', 60.3],
      ['0.5', 'mobilenetv2-0.5', 65.4],
      ['0.75', 'mobilenetv2-0.75', 69.8],
      ['1.0', 'mobilenetv2', 71.8],
    ]);
    expect(getFamily('imagenet-resnet').variants.map((v) => [v.model, v.quality.value])).toEqual([
      ['resnet18', 69.758],
      ['resnet34', 73.314],
      ['resnet50', 76.13],
    ]);
    for (const family of families) {
      const models = family.variants.map((v) => getZooModel(v.model));
      // One task: the same input shapes; cheapest first, and (in these families) the costlier the better.
      for (const model of models) expect(model.inputShapes).toEqual(models[0].inputShapes);
      // The manifest's counts (write-manifest takes them from the generators, checked above).
      const costs = family.variants.map((v) => manifest.models.find((m) => m.name === v.model)!.learnableParameters!);
      expect(costs.every((c) => c > 0)).toBe(true);
      expect([...costs].sort((a, b) => a - b)).toEqual(costs);
      const qualities = family.variants.map((v) => v.quality.value);
      expect([...qualities].sort((a, b) => a - b)).toEqual(qualities);
      for (const v of family.variants) {
        expect(v.quality.kind).toBe('declared');
        expect(v.quality.source).toMatch(v.model.startsWith('resnet') ? /torchvision.*IMAGENET1K_V1 acc@1/ : new RegExp(`mobilenet_v2_${v.name}_224`));
      }
    }
    // Copies: callers cannot change the catalogue.
    getFamily('imagenet-resnet').variants[0].quality.value = 0;
    expect(getFamily('imagenet-resnet').variants[0].quality.value).toBe(69.758);
  });

  it('each variant is its base model re-scaled, and the base models are not variants', () => {
    expect(listModels().filter((m) => m.variantOf).map((m) => [m.name, m.variantOf])).toEqual([
      ['mobilenetv2-0.35', 'mobilenetv2'],
      ['mobilenetv2-0.5', 'mobilenetv2'],
      ['mobilenetv2-0.75', 'mobilenetv2'],
      ['resnet34', 'resnet18'],
      ['resnet50', 'resnet18'],
    ]);
  });

  it('rejects an unknown family listing the known ones', () => {
    expect(() => getFamily('imagenet-vit')).toThrow(/unknown model family 'imagenet-vit'; the zoo has: imagenet-mobilenetv2, imagenet-resnet/);
    let caught: unknown;
    try {
      getFamily('x');
    } catch (error) {
      caught = error;
    }
    expect(isCarboncpError(caught, 'CARBONCP_UNKNOWN_MODEL')).toBe(true);
  });
});

describe('ensureModel', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('generates into the cache once, atomically, and reuses the file', async () => {
    const cacheDir = await mkdtemp(join(tmpdir(), 'carboncp-zoo-'));
    dirs.push(cacheDir);
    // Concurrent callers all get the same complete file and leave no temp file behind.
    const paths = await Promise.all([1, 2, 3].map(() => ensureModel('mobilenetv2', { cacheDir })));
    expect(new Set(paths).size).toBe(1);
    const [path] = paths;
    expect(path.startsWith(cacheDir)).toBe(true);
    expect(Buffer.compare(await readFile(path), Buffer.from(await buildModel('mobilenetv2')))).toBe(0);
    expect(await readdir(cacheDir)).toEqual([path.slice(cacheDir.length + 1)]);
    const before = await stat(path);
    expect(await ensureModel('mobilenetv2', { cacheDir })).toBe(path);
    expect((await stat(path)).mtimeMs).toBe(before.mtimeMs);
  });

  it('never lets another process see a partial file', async () => {
    const cacheDir = await mkdtemp(join(tmpdir(), 'carboncp-zoo-'));
    dirs.push(cacheDir);
    const expectedSize = (await buildModel('mobilenetv2')).byteLength;
    const target = join(cacheDir, 'mobilenetv2.v1.onnx');
    // A separate process polls the target path while this one writes it, and reports every
    // size it saw until the file is complete; an in-place write would show partial sizes.
    const watcher = spawn(process.execPath, ['--input-type=module', '-e', `
      import { statSync } from 'node:fs';
      const seen = new Set();
      const end = Date.now() + 60000;
      process.stdout.write('ready\\n');
      while (Date.now() < end && !seen.has(${expectedSize})) {
        try { seen.add(statSync(${JSON.stringify(target)}).size); } catch {}
      }
      process.stdout.write(JSON.stringify([...seen]));
    `]);
    const closed = new Promise<void>((resolve) => watcher.once('close', () => resolve()));
    let output = '';
    const ready = new Promise<void>((resolve) => watcher.stdout.once('data', () => resolve()));
    watcher.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await ready;
    await ensureModel('mobilenetv2', { cacheDir });
    await closed;
    expect(JSON.parse(output.slice(output.indexOf('\n') + 1))).toEqual([expectedSize]);
  });

  it('reports a cache directory it cannot write to', async () => {
    const cacheDir = await mkdtemp(join(tmpdir(), 'carboncp-zoo-'));
    dirs.push(cacheDir);
    const blocker = join(cacheDir, 'file');
    await writeFile(blocker, 'not a directory');
    await expect(ensureModel('mobilenetv2', { cacheDir: blocker })).rejects.toSatisfy((e) => isCarboncpError(e, 'CARBONCP_WRITE_FAILED'));
  });
});

describe('pretrained models', () => {
  const expectedOutputs: Record<string, number[]> = {
    'ppocr-det': [1, 1, 160, 160],
    'ppocr-cls': [1, 2],
    'ppocr-rec': [1, 40, 6625],
  };
  for (const name of PRETRAINED) {
    it(`${name}: resolves in node_modules and runs at its listed input shape`, async () => {
      const path = await ensureModel(name);
      expect(path).toMatch(/@gutenye[/\\]ocr-models[/\\]assets[/\\].+\.onnx$/);
      const outputs = await runModel(path, getZooModel(name).inputShapes);
      const [output] = Object.values(outputs);
      expect(output.dims).toEqual(expectedOutputs[name]);
      expectFinite(output);
    });
  }
});
