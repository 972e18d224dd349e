import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeModel, isCarboncpError } from '@carboncp/core';
import { buildModel, ensureModel, generatedParameterCount, getZooModel, listModels } from './index.js';
import { TRANSFORMER_CONFIG } from './generators/transformer-encoder.js';

const GENERATED = ['resnet18', 'mobilenetv2', 'transformer-encoder'];
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
    expect(() => getZooModel('resnet50')).toThrow(/unknown model 'resnet50'; the zoo has: resnet18, mobilenetv2/);
    await expect(ensureModel('nope')).rejects.toSatisfy((e) => isCarboncpError(e, 'CARBONCP_UNKNOWN_MODEL'));
    await expect(buildModel('ppocr-det')).rejects.toSatisfy((e) => isCarboncpError(e, 'CARBONCP_NOT_GENERATED'));
  });
});

describe('generated models', () => {
  const expected: Record<string, { output: string; dims: number[]; parameters: number }> = {
    // torchvision's own counts: sum(p.numel() for p in model.parameters()).
    resnet18: { output: 'logits', dims: [1, 1000], parameters: 11_689_512 },
    mobilenetv2: { output: 'logits', dims: [1, 1000], parameters: 3_504_872 },
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
