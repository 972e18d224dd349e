#!/usr/bin/env node
/**
 * What "let the head write its output straight into the outgoing frame" could save: an
 * onnxruntime-node run whose output is the 602,112-byte FP32 tensor ([1, 3, 224, 224], one Relu,
 * so the run is mostly overhead and copies), with onnxruntime allocating the output against with a
 * preallocated output tensor (`session.run(feeds, fetches)`), interleaved per iteration.
 * The transport side of the idea (one ws frame up instead of corked fragments) is measured by
 * `transport.bench.mjs --explore`. Results: results/protocol.md.
 * Needs the built zoo (`npm run setup`). Usage: node test/bench/transport-head-output.mjs [--iterations 3000]
 */
import os from 'node:os';
import ort from 'onnxruntime-node';
import { Net } from '../../models/dist/net.js';

const args = process.argv.slice(2);
const at = args.indexOf('--iterations');
const ITERATIONS = at === -1 ? 3000 : Number(args[at + 1]);

const net = new Net({ producer: 'carboncp-bench', opsetVersion: 17, graphName: 'head' });
net.output(net.relu('relu', net.input('x', 'FP32', [1, 3, 224, 224])));
const session = await ort.InferenceSession.create(net.toBytes());
let seed = 7;
const input = new ort.Tensor(
  'float32',
  Float32Array.from({ length: 150_528 }, () => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed / 2 ** 32 - 0.5;
  }),
  [1, 3, 224, 224],
);
const preallocated = new ort.Tensor('float32', new Float32Array(150_528), [1, 3, 224, 224]);
const [outName] = session.outputNames;
const variants = [
  { name: 'onnxruntime allocates the output', run: () => session.run({ x: input }) },
  { name: 'preallocated output (fetches)', run: () => session.run({ x: input }, { [outName]: preallocated }) },
];

const loadBefore = os.loadavg();
for (const v of variants) for (let i = 0; i < 300; i++) await v.run();
const times = variants.map(() => []);
for (let i = 0; i < ITERATIONS; i++) {
  for (let j = 0; j < variants.length; j++) {
    const k = (i + j) % variants.length;
    const start = process.hrtime.bigint();
    await variants[k].run();
    times[k].push(Number(process.hrtime.bigint() - start) / 1e3);
  }
}
const check = await session.run({ x: input }, { [outName]: preallocated });
if (preallocated.data[3] !== Math.max(0, input.data[3]) || check[outName].data[3] !== preallocated.data[3]) throw new Error('output not written where asked');
const loadAfter = os.loadavg();
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.floor(p * xs.length)];
console.log(`${new Date().toISOString()}; node ${process.version}; onnxruntime-node ${ort.env.versions?.node ?? '?'}; load average before ${loadBefore.map((x) => x.toFixed(2)).join(', ')}, after ${loadAfter.map((x) => x.toFixed(2)).join(', ')}`);
console.log('| variant | median µs/run | p90 µs/run |');
console.log('|---|---|---|');
for (const [k, v] of variants.entries()) console.log(`| ${v.name} | ${pct(times[k], 0.5).toFixed(1)} | ${pct(times[k], 0.9).toFixed(1)} |`);
const saved = times[0].map((t, i) => t - times[1][i]);
console.log(`\npaired saving per run (median over iterations): ${pct(saved, 0.5).toFixed(1)} µs`);
