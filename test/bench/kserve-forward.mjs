#!/usr/bin/env node
/**
 * What the KServe v2 side costs, on the PP-OCR classifier's middle split (the crossing tensor of
 * a 1x3x48x192 image), per request, on 127.0.0.1:
 *   ws-plain       a WebSocket request to a plain carboncp server (the baseline)
 *   kserve-binary  POST /v2/models/<tail>/infer to the same server, binary tensor data
 *   kserve-json    the same with JSON data in and out
 *   ws-forwarded   a WebSocket request to a server whose --tail-backend is a second carboncp
 *                  server's KServe route (the Triton set-up, a carboncp server in Triton's role)
 * Variants are interleaved round by round in rotating order (the machine is shared); each
 * variant's figure is the median over all its requests, and each ratio the median over rounds of
 * (variant / ws-plain) in that round. Load average before and after. Writes
 * test/bench/results/kserve.md. Needs dist: `npm run setup`.
 * Usage: node test/bench/kserve-forward.mjs [--rounds 11] [--runs 20]
 */
import { cpus, loadavg } from 'node:os';
import { writeFile } from 'node:fs/promises';
import { extractPlan } from '@carboncp/core';
import { ocrModelPath, partitionWithProbe, readModelFile, seededInputs } from '@carboncp/core/node';
import { MessageType, PROTOCOL_VERSION, decodeFrame, encodeFrame, tensorFromArray } from '@carboncp/protocol';
import { HEADER_LENGTH_HEADER, decodeInferResponse, encodeInferRequest, startServer, tailModelName } from '@carboncp/server';
import * as ort from 'onnxruntime-node';
import WebSocket from 'ws';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(args[at + 1]);
};
const ROUNDS = option('rounds', 11);
const RUNS = option('runs', 20);
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const load = () => loadavg().map((v) => v.toFixed(2)).join(' ');
const loadBefore = load();

const SHAPE = [1, 3, 48, 192];
const partition = await partitionWithProbe(await readModelFile(ocrModelPath('ch_ppocr_mobile_v2.0_cls_infer.onnx')), { inputShapes: { x: SHAPE } });
const splits = partition.plans.filter((p) => p.kind === 'split' && p.crossing.length === 1 && p.crossing[0].source === 'head');
const plan = splits[Math.floor(splits.length / 2)];
const { head } = extractPlan(partition, plan, ['head']);
const headSession = await ort.InferenceSession.create(head);
const feeds = seededInputs(partition.model, { x: SHAPE }, 1);
const cut = (await headSession.run(feeds))[plan.crossing[0].name];
const inputs = [tensorFromArray(plan.crossing[0].name, cut.data, [...cut.dims])];
const body = { model_name: partition.model.name, model_digest: partition.model.digest, plan_id: plan.id, plan_digest: plan.digest, inputs };

const quiet = () => undefined;
const models = [ocrModelPath('ch_ppocr_mobile_v2.0_cls_infer.onnx')];
const inputShapes = { [partition.model.name]: { x: SHAPE } };
const plain = await startServer({ models, inputShapes, port: 0, log: quiet });
const backend = await startServer({ models, inputShapes, port: 0, log: quiet });
const front = await startServer({ models, inputShapes, port: 0, tailBackend: { url: backend.httpUrl }, log: quiet });

async function wsClient(url) {
  const ws = new WebSocket(url, { maxPayload: 1 << 30 });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const waiting = new Map();
  ws.on('message', (data) => {
    const message = decodeFrame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), { maxPayload: 1 << 30 });
    waiting.get(message.requestId)?.(message);
    waiting.delete(message.requestId);
  });
  const ask = (message) => new Promise((resolve) => {
    waiting.set(message.requestId, resolve);
    ws.send(encodeFrame(message));
  });
  const ack = await ask({ type: MessageType.Hello, requestId: 0, body: { protocol_version: PROTOCOL_VERSION, client: 'bench', models: [] } });
  if (ack.type !== MessageType.HelloAck) throw new Error('no hello ack');
  let id = 1;
  return {
    async infer() {
      const answer = await ask({ type: MessageType.InferRequest, requestId: id++, body });
      if (answer.type !== MessageType.InferResponse) throw new Error(`error: ${JSON.stringify(answer.body)}`);
    },
    close: () => ws.close(),
  };
}

const tailName = tailModelName(partition.model.name, plan);
function kserve(binary) {
  const { body: payload, headerLength } = encodeInferRequest({ inputs, binary });
  return async () => {
    const response = await fetch(`${plain.httpUrl}/v2/models/${tailName}/infer`, {
      method: 'POST',
      headers: headerLength === undefined ? {} : { [HEADER_LENGTH_HEADER]: String(headerLength) },
      body: new Uint8Array(payload),
    });
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (response.status !== 200) throw new Error(`HTTP ${response.status}: ${Buffer.from(bytes).toString()}`);
    decodeInferResponse(bytes, response.headers.get(HEADER_LENGTH_HEADER) ?? undefined);
  };
}

const plainWs = await wsClient(plain.url);
const frontWs = await wsClient(front.url);
const variants = { 'ws-plain': () => plainWs.infer(), 'kserve-binary': kserve(true), 'kserve-json': kserve(false), 'ws-forwarded': () => frontWs.infer() };
const names = Object.keys(variants);
for (const name of names) for (let i = 0; i < 5; i++) await variants[name](); // sessions open, connections warm
const all = Object.fromEntries(names.map((n) => [n, []]));
const ratios = Object.fromEntries(names.map((n) => [n, []]));
for (let round = 0; round < ROUNDS; round++) {
  const order = names.map((_, i) => names[(i + round) % names.length]);
  const perRound = {};
  for (const name of order) {
    const times = [];
    for (let i = 0; i < RUNS; i++) {
      const start = performance.now();
      await variants[name]();
      times.push(performance.now() - start);
    }
    all[name].push(...times);
    perRound[name] = median(times);
  }
  for (const name of names) ratios[name].push(perRound[name] / perRound['ws-plain']);
}
plainWs.close();
frontWs.close();
await front.close({ drainMs: 1000 });
await backend.close({ drainMs: 1000 });
await plain.close({ drainMs: 1000 });
await headSession.release();

const loadAfter = load();
const rows = names.map((n) => `| ${n} | ${median(all[n]).toFixed(2)} | ${[...all[n]].sort((a, b) => a - b)[Math.floor(all[n].length * 0.9)].toFixed(2)} | ${median(ratios[n]).toFixed(2)}x |`);
const report = [
  '# KServe v2 route and tail forwarding',
  '',
  `PP-OCR classifier, plan ${plan.id} (crossing ${plan.crossing[0].name} [${cut.dims.join(', ')}], ${inputs[0].data.byteLength} bytes), ${ROUNDS} rounds x ${RUNS} requests per variant, interleaved; 127.0.0.1, servers with the default worker executor (1 worker).`,
  `Machine: ${cpus()[0]?.model ?? '?'} x${cpus().length}, Node ${process.version}; load average before ${loadBefore}, after ${loadAfter} (1, 5, 15 min; the machine is shared: not quiet).`,
  '',
  '| variant | median ms | p90 ms | median ratio to ws-plain |',
  '| --- | --- | --- | --- |',
  ...rows,
  '',
  'ws-forwarded runs the tail on a second carboncp server through its KServe route (the Triton set-up with carboncp in Triton\'s role); no Triton ran here.',
  '',
].join('\n');
process.stdout.write(report);
await writeFile(new URL('./results/kserve.md', import.meta.url), report);
