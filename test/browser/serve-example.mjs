#!/usr/bin/env node
/**
 * The example app by hand: builds app/ with Vite, partitions a zoo model (plan JSON, as
 * `carboncp partition --json`), starts a carboncp server with it on 127.0.0.1 and serves the page
 * with the model and plans beside it; prints the URL to open. Needs dist (`npm run setup`).
 * Usage: node test/browser/serve-example.mjs [--model ppocr-cls] [--cuts 3] [--port 8080]
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { planSetOf } from '@carboncp/core';
import { partitionWithProbe, readModelFile, spreadCuts } from '@carboncp/core/node';
import { ensureModel, getZooModel } from '@carboncp/models';
import { startServer } from '@carboncp/server';
import { buildPage } from './support/build-page.mjs';
import { serveStatic } from './support/static-server.mjs';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(`--${name}`);
  return at === -1 ? fallback : args[at + 1];
};
const zooName = option('model', 'ppocr-cls');
const zoo = getZooModel(zooName);
const file = await ensureModel(zooName);
const modelName = basename(file).replace(/\.onnx$/i, '');
const model = await readModelFile(file, modelName);
const partition = await partitionWithProbe(model, { inputShapes: zoo.inputShapes });
const dir = await mkdtemp(join(tmpdir(), 'carboncp-example-'));
await writeFile(join(dir, 'model.plans.json'), JSON.stringify(planSetOf(partition, zoo.inputShapes)));
await buildPage(fileURLToPath(new URL('app/', import.meta.url)), join(dir, 'app'));
const server = await startServer({ models: [file], inputShapes: { [modelName]: zoo.inputShapes }, host: '127.0.0.1', port: 0, log: () => {} });
const site = await serveStatic(join(dir, 'app'), { '/model.onnx': file, '/model.plans.json': join(dir, 'model.plans.json') });
const [input, shape] = Object.entries(zoo.inputShapes)[0];
const cuts = ['server', ...spreadCuts(partition.plans, Number(option('cuts', '3'))).map((p) => p.id), 'device'];
const query = new URLSearchParams({ model: '/model.onnx', plans: '/model.plans.json', name: modelName, server: server.url, cuts: cuts.join(','), shape: shape.join(','), input });
process.stdout.write(`carboncp server ${server.url}; open ${site.url}/?${query}\n(Ctrl-C stops both)\n`);
process.on('SIGINT', () => void Promise.all([site.close(), server.close()]).then(() => process.exit(0)));
