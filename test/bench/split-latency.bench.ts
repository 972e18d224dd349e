/**
 * End-to-end split latency over ws on 127.0.0.1 vs its parts measured alone: head compute +
 * tail compute + a bare ws echo of the same bytes (goal: end to end within 1.1x of that sum).
 * Server and device share this process and its cores, as in the demo. Each bench records its own
 * times so that afterAll can print the medians and the ratio; results in results/split.md.
 */
import { extractPlan } from '@carboncp/core';
import { seededInputs } from '@carboncp/core/node';
import { createClient } from '@carboncp/device/node';
import { ensureModel, getZooModel } from '@carboncp/models';
import { startServer } from '@carboncp/server';
import * as ort from 'onnxruntime-node';
import { afterAll, bench, describe } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';

const MODEL = 'resnet18';
const file = await ensureModel(MODEL);
const { inputShapes } = getZooModel(MODEL);
const server = await startServer({ models: [file], host: '127.0.0.1', port: 0, executionProviders: ['cpu'], log: () => {} });
const client = await createClient({ model: file, server: server.url, inputShapes });
await client.ready(10_000);
const feeds = seededInputs(client.partition.model, inputShapes, 7);
const splits = client.plans.filter((p) => p.kind === 'split');
const worth = splits.filter((p) => p.bytesPerSample < (client.plans[0].bytesPerSample ?? Infinity));
const pick = (f: number) => worth[Math.min(worth.length - 1, Math.floor(f * worth.length))].id;
const cuts = [...new Set(['server', pick(0.15), pick(0.5), pick(0.85)])];

// Bare echo: answers every message with a buffer of the size the server's response had.
const echo = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
let replySize = 0;
echo.on('connection', (socket) => socket.on('message', () => socket.send(Buffer.alloc(replySize))));
await new Promise((resolve) => echo.once('listening', resolve));
const echoClient = new WebSocket(`ws://127.0.0.1:${(echo.address() as { port: number }).port}`, { perMessageDeflate: false });
await new Promise((resolve) => echoClient.once('open', resolve));
const echoOnce = (payload: Buffer) =>
  new Promise<void>((resolve) => {
    echoClient.once('message', () => resolve());
    echoClient.send(payload);
  });

const times = new Map<string, number[]>();
const timed = (key: string, run: () => Promise<unknown>) => async () => {
  const started = performance.now();
  await run();
  const list = times.get(key) ?? [];
  list.push(performance.now() - started);
  times.set(key, list);
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const options = { iterations: 25, warmupIterations: 3, time: 0 };

const sizes = new Map<string, { up: number; down: number }>();
for (const cut of cuts) {
  const { telemetry } = await client.infer(feeds, { cut });
  if (telemetry.path === 'local-fallback') throw new Error(`${cut} fell back: ${telemetry.error?.message}`);
  sizes.set(cut, { up: telemetry.bytesUp, down: telemetry.bytesDown });
}

for (const cut of cuts) {
  const plan = client.plans.find((p) => p.id === cut)!;
  const { head, tail } = plan.kind === 'server' ? { head: null, tail: client.partition.model.bytes } : extractPlan(client.partition, cut);
  // The head alone runs as the device runs it (no spinning, see OrtRuntime); the tail alone as
  // the server runs it (onnxruntime defaults).
  const headSession = head ? await ort.InferenceSession.create(head, { extra: { session: { intra_op: { allow_spinning: '0' } } } }) : null;
  const tailSession = await ort.InferenceSession.create(tail as Uint8Array);
  const headOut = headSession ? await headSession.run(feeds) : {};
  const crossing = Object.fromEntries(plan.crossing.map((c) => [c.name, c.source === 'input' ? feeds[c.name] : headOut[c.name]]));
  const { up, down } = sizes.get(cut)!;
  const payload = Buffer.alloc(up);

  // One round times every part back to back, so all four see the same background load
  // (the machine is shared); the table compares medians over the rounds.
  describe(`${MODEL} ${cut} (${up} B up, ${down} B down)`, () => {
    bench('round: end to end, head alone, tail alone, bare echo', async () => {
      await timed(`${cut}|e2e`, () => client.infer(feeds, { cut }))();
      if (headSession) await timed(`${cut}|head`, () => headSession.run(feeds))();
      await timed(`${cut}|tail`, () => tailSession.run(crossing))();
      replySize = down;
      await timed(`${cut}|echo`, () => echoOnce(payload))();
    }, options);
  });
}

afterAll(async () => {
  const lines = ['| cut | bytes up | head ms | tail ms | echo ms | sum ms | end to end ms | ratio of medians | median per-round ratio |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|'];
  for (const cut of cuts) {
    const m = (part: string) => (times.has(`${cut}|${part}`) ? median(times.get(`${cut}|${part}`)!) : 0);
    const sum = m('head') + m('tail') + m('echo');
    lines.push(`| ${cut} | ${sizes.get(cut)!.up} | ${m('head').toFixed(2)} | ${m('tail').toFixed(2)} | ${m('echo').toFixed(2)} | ${sum.toFixed(2)} | ${m('e2e').toFixed(2)} | ${(m('e2e') / sum).toFixed(3)} |`);
    // The ratio of medians hides which rounds were disturbed; the per-round ratio's median does not.
    const e2e = times.get(`${cut}|e2e`) ?? [];
    const perRound = e2e.map((t, i) => t / ((times.get(`${cut}|head`)?.[i] ?? 0) + (times.get(`${cut}|tail`)?.[i] ?? 0) + (times.get(`${cut}|echo`)?.[i] ?? 0)));
    lines[lines.length - 1] += ` ${median(perRound).toFixed(3)} |`;
  }
  process.stdout.write(`\nmedians (ms):\n${lines.join('\n')}\n`);
  echoClient.close();
  echo.close();
  await client.close();
  await server.close();
});
