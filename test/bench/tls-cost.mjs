#!/usr/bin/env node
/**
 * What TLS costs per round trip of the 602,112-byte tensor (1x3x224x224 float32), on 127.0.0.1,
 * client and server in this one process (as split-latency.bench.ts), ws:// against wss://:
 *
 *   echo          a bare ws echo (node:http vs node:https, the same WebSocketServer options as
 *                 the carboncp server): the transport alone, 602,112 B each way
 *   connect       a new WebSocket opened and closed: TCP (+ the TLS 1.3 handshake) + upgrade;
 *                 what a reconnect pays, once per connection, not per request
 *   aes-256-gcm   node:crypto sealing the tensor once (the cipher TLS 1.3 negotiates here): the
 *                 floor of what TLS adds, paid four times per round trip (seal and open, each way)
 *   resnet18      carboncp end to end: `carboncp serve` (startServer, CPU, worker executor)
 *                 with the zoo's ResNet-18, the device client (createClient, `ca` for wss)
 *                 at cut 'server' (the device sends the input: 602,112 B up, 4,000 B down);
 *                 total per request and the telemetry's transferMs (round trip minus the
 *                 server's own time: the network's share)
 *
 * Honest by construction (the machine is shared): the ws:// and wss:// variants alternate per
 * iteration in a seeded order, so load falls on both alike; reported are p50/p95 of each and the
 * median of the paired differences (wss - ws of the same iteration). The 1-minute load average
 * before and after, the CPU model, whether it has AES instructions, node and OpenSSL versions and
 * the negotiated cipher are recorded. The throwaway CA is packages/server/src/testing/throwaway-ca.js.
 *
 * Needs the build: `npm run setup` (or `node scripts/pnpm.mjs exec tsc -b`).
 * Usage: node test/bench/tls-cost.mjs [--echo 400] [--connect 60] [--resnet 40] [--warmup 20] [--out test/bench/results/tls.md]
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { WebSocket, WebSocketServer } from 'ws';
import { throwawayCa } from '../../packages/server/src/testing/throwaway-ca.js';

const TENSOR_BYTES = 602_112;
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(`--${name}`);
  return at === -1 ? fallback : args[at + 1];
};
const ECHO = Number(option('echo', 400));
const CONNECT = Number(option('connect', 60));
const RESNET = Number(option('resnet', 40));
const WARMUP = Number(option('warmup', 20));
const OUT = option('out', fileURLToPath(new URL('./results/tls.md', import.meta.url)));

let device;
let server;
let core;
let models;
try {
  [device, server, core, models] = await Promise.all([
    import('@carboncp/device/node'),
    import('@carboncp/server'),
    import('@carboncp/core/node'),
    import('@carboncp/models'),
  ]);
} catch (error) {
  console.error(`cannot load the built packages (${error.message}); run: npm run setup`);
  process.exit(2);
}

let seed = 12;
/** Seeded coin for the order of the two variants in an iteration. */
const coin = () => {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  return seed < 2 ** 31;
};
const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
const ms = (x) => x.toFixed(3);

/** Runs `plain` and `tls` alternately (seeded order) `n` times after `warmup` each; both lists of ms, and the paired differences. */
async function interleaved(n, warmup, plain, tls) {
  for (let i = 0; i < warmup; i++) {
    await plain();
    await tls();
  }
  const out = { ws: [], wss: [], diff: [] };
  for (let i = 0; i < n; i++) {
    const order = coin() ? ['ws', 'wss'] : ['wss', 'ws'];
    const t = {};
    for (const name of order) t[name] = await (name === 'ws' ? plain : tls)();
    out.ws.push(t.ws);
    out.wss.push(t.wss);
    out.diff.push(t.wss - t.ws);
  }
  return out;
}

const ca = await throwawayCa('carboncp bench CA');
const tlsOptions = { cert: ca.server.cert, key: ca.server.key };
const loadBefore = os.loadavg();
const started = new Date();

// ---- echo: the transport alone ----
async function echoServer(secure) {
  const http = secure ? createHttpsServer(tlsOptions) : createHttpServer();
  const wss = new WebSocketServer({ server: http, perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
  wss.on('connection', (socket) => socket.on('message', (data) => socket.send(data, { binary: true })));
  await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
  return { url: `${secure ? 'wss' : 'ws'}://127.0.0.1:${http.address().port}`, close: () => new Promise((resolve) => { wss.close(); http.closeAllConnections(); http.close(resolve); }) };
}
const open = (url) =>
  new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 64 * 1024 * 1024, ...(url.startsWith('wss:') ? { ca: ca.cert } : {}) });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
const payload = Buffer.alloc(TENSOR_BYTES);
for (let i = 0; i < TENSOR_BYTES; i += 4) payload.writeFloatLE(Math.sin(i), i);
const roundTrip = (ws) => () =>
  new Promise((resolve) => {
    const t0 = performance.now();
    ws.once('message', (data) => {
      if (data.byteLength !== TENSOR_BYTES) throw new Error(`echo of ${data.byteLength} B`);
      resolve(performance.now() - t0);
    });
    ws.send(payload, { binary: true });
  });
const plainEcho = await echoServer(false);
const tlsEcho = await echoServer(true);
const plainWs = await open(plainEcho.url);
const tlsWs = await open(tlsEcho.url);
const cipher = tlsWs._socket.getCipher();
const protocol = tlsWs._socket.getProtocol();
console.error(`echo: ${ECHO} round trips each (${protocol}, ${cipher.name})`);
const echo = await interleaved(ECHO, WARMUP, roundTrip(plainWs), roundTrip(tlsWs));
plainWs.close();
tlsWs.close();

console.error(`connect: ${CONNECT} each`);
const connectOnce = (url) => async () => {
  const t0 = performance.now();
  const ws = await open(url);
  const elapsed = performance.now() - t0;
  await new Promise((resolve) => {
    ws.once('close', resolve);
    ws.close();
  });
  return elapsed;
};
const connect = await interleaved(CONNECT, Math.min(WARMUP, 5), connectOnce(plainEcho.url), connectOnce(tlsEcho.url));
await plainEcho.close();
await tlsEcho.close();

// ---- the cipher alone ----
const key = randomBytes(32);
const seal = () => {
  const t0 = performance.now();
  const cipher = createCipheriv('aes-256-gcm', key, randomBytes(12));
  cipher.update(payload);
  cipher.final();
  cipher.getAuthTag();
  return performance.now() - t0;
};
for (let i = 0; i < WARMUP; i++) seal();
const sealMs = Array.from({ length: ECHO }, seal);

// ---- resnet18: carboncp end to end at cut 'server' ----
const MODEL = 'resnet18';
const file = await models.ensureModel(MODEL);
const { inputShapes } = models.getZooModel(MODEL);
const serverOptions = { models: [file], host: '127.0.0.1', port: 0, executionProviders: ['cpu'], profile: 'off', log: () => {} };
const plainServer = await server.startServer(serverOptions);
const tlsServer = await server.startServer({ ...serverOptions, tls: tlsOptions });
const plainClient = await device.createClient({ model: file, server: plainServer.url, inputShapes });
const tlsClient = await device.createClient({ model: file, server: tlsServer.url, inputShapes, ca: ca.cert });
await Promise.all([plainClient.ready(30_000), tlsClient.ready(30_000)]);
const feeds = core.seededInputs(plainClient.partition.model, inputShapes, 7);
const transfer = { ws: [], wss: [] };
let bytes;
const inferOnce = (client, key) => async () => {
  const { telemetry } = await client.infer(feeds, { cut: 'server' });
  if (telemetry.path !== 'remote') throw new Error(`${key}: path ${telemetry.path} (${telemetry.error?.message ?? ''})`);
  transfer[key].push(telemetry.transferMs);
  bytes = { up: telemetry.bytesUp, down: telemetry.bytesDown };
  return telemetry.totalMs;
};
console.error(`resnet18: ${RESNET} requests each`);
const resnet = await interleaved(RESNET, Math.min(WARMUP, 5), inferOnce(plainClient, 'ws'), inferOnce(tlsClient, 'wss'));
// The warm-up's transfer times are not part of the measurement.
for (const key of ['ws', 'wss']) transfer[key] = transfer[key].slice(-RESNET);
const transferDiff = transfer.ws.map((w, i) => transfer.wss[i] - w);
await Promise.all([plainClient.close(), tlsClient.close()]);
await Promise.all([plainServer.close({ drainMs: 0 }), tlsServer.close({ drainMs: 0 })]);

const loadAfter = os.loadavg();
let aes = 'unknown';
try {
  aes = /\baes\b/.test(readFileSync('/proc/cpuinfo', 'utf8')) ? 'yes (aes flag in /proc/cpuinfo)' : 'no aes flag in /proc/cpuinfo';
} catch {
  // not Linux
}
const la = (l) => l.map((x) => x.toFixed(2)).join(', ');
const row = (name, r) =>
  `| ${name} | ${ms(quantile(r.ws, 0.5))} | ${ms(quantile(r.ws, 0.95))} | ${ms(quantile(r.wss, 0.5))} | ${ms(quantile(r.wss, 0.95))} | ${ms(quantile(r.diff, 0.5))} | ${(quantile(r.wss, 0.5) / quantile(r.ws, 0.5)).toFixed(2)}x |`;
const lines = [
  `Run ${started.toISOString()} by \`node test/bench/tls-cost.mjs${args.length ? ` ${args.join(' ')}` : ''}\`; node ${process.version}, OpenSSL ${process.versions.openssl}; ` +
    `${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), AES instructions: ${aes}.`,
  `Load average (1, 5, 15 min) before: ${la(loadBefore)}; after: ${la(loadAfter)}. ${loadBefore[0] > 0.5 ? '**Not a quiet machine**: absolute times are inflated and noisy; the paired differences are the figure to read.' : ''}`,
  `TLS: ${protocol}, ${cipher.name}; certificate EC P-256 from a throwaway CA; client and server in one process on 127.0.0.1.`,
  '',
  `ms; ws:// and wss:// alternate per iteration (seeded order); "paired" is the median of (wss - ws) within an iteration.`,
  '',
  '| measure | ws p50 | ws p95 | wss p50 | wss p95 | paired wss - ws (median) | wss / ws p50 |',
  '|---|---|---|---|---|---|---|',
  row(`echo: ${TENSOR_BYTES} B each way, bare ws (${ECHO} each)`, echo),
  row(`connect: new WebSocket + close (${CONNECT} each)`, connect),
  row(`resnet18 cut 'server': total per request (${RESNET} each; ${bytes.up} B up, ${bytes.down} B down)`, resnet),
  row(`resnet18 cut 'server': telemetry transferMs`, { ws: transfer.ws, wss: transfer.wss, diff: transferDiff }),
  '',
  `AES-256-GCM seal of ${TENSOR_BYTES} B in node:crypto (${ECHO} runs): p50 ${ms(quantile(sealMs, 0.5))} ms, p95 ${ms(quantile(sealMs, 0.95))} ms ` +
    `(${((TENSOR_BYTES / (quantile(sealMs, 0.5) / 1e3)) / 1e9).toFixed(2)} GB/s); a round trip seals and opens the tensor twice: about ${ms(4 * quantile(sealMs, 0.5))} ms of cipher work.`,
];
// The run goes between the markers, so that notes written around it in the file stay.
const BEGIN = '<!-- tls-cost.mjs: begin -->';
const END = '<!-- tls-cost.mjs: end -->';
const block = `${BEGIN}\n${lines.join('\n')}\n${END}`;
const previous = existsSync(OUT) ? readFileSync(OUT, 'utf8') : '';
const at = previous.indexOf(BEGIN);
const to = previous.indexOf(END);
writeFileSync(OUT, at >= 0 && to > at ? `${previous.slice(0, at)}${block}${previous.slice(to + END.length)}` : `${block}\n${previous}`);
console.log(lines.join('\n'));
process.exit(0);
