#!/usr/bin/env node
/**
 * Loopback round trip (127.0.0.1 only) of the 602,112-byte FP32 tensor of a 224x224 split:
 *   raw TCP echo (node:net)          the physical limit here
 *   bare ws echo of the same bytes   what any WebSocket transport pays
 *   carboncp infer frame             client encodes, ws sends, the server decodes and re-encodes
 *                                    an infer response with the same tensor, client decodes
 *   carboncp, fragmented             the same frames sent as encodeFrameParts fragments (no tensor copy)
 *                                    with the protocol's sendFrameParts (packages/protocol/src/frame-fragments.ts):
 *                                    what the server and the device's WsTransport send since they use parts
 * Each runs in two child processes, with ws's native masking (bufferutil) and with the pure-JS path
 * (WS_NO_BUFFER_UTIL=1 set before ws loads). Needs dist: `node scripts/pnpm.mjs exec tsc -b packages/protocol`
 * (builds protocol too).
 * Variants are interleaved round by round (the machine is shared). Servers listen on 127.0.0.1 only
 * and are closed at the end.
 * Ratios are paired: the median over rounds of (variant / baseline) within the same round.
 * Usage: node test/bench/transport.bench.mjs [--rounds 31] [--per-round 40]
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

const TENSOR_BYTES = 602_112;
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(args[at + 1]);
};
const ROUNDS = option('rounds', 31);
const PER_ROUND = option('per-round', 40);
const WARMUP = 100;

if (process.env.CARBONCP_BENCH_CHILD === undefined) {
  const results = [];
  for (const mode of ['native', 'js']) {
    const env = { ...process.env, CARBONCP_BENCH_CHILD: mode };
    if (mode === 'js') env.WS_NO_BUFFER_UTIL = '1';
    else delete env.WS_NO_BUFFER_UTIL;
    const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), ...args], { env, encoding: 'utf8' });
    if (child.status !== 0) {
      process.stderr.write(child.stderr);
      process.exit(child.status ?? 1);
    }
    results.push(JSON.parse(child.stdout.trim().split('\n').pop()));
  }
  const ms = (x) => x.toFixed(3);
  console.log(`node ${process.version}, ${ROUNDS} rounds x ${PER_ROUND} sequential round trips, ${TENSOR_BYTES} B each way`);
  console.log('| masking | variant | median ms/RT | best round ms/RT | GB/s (2x bytes / median) | vs bare ws (paired) | vs raw TCP (paired) |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of results) {
    for (const v of r.variants) {
      const gbps = (2 * TENSOR_BYTES) / (v.median / 1e3) / 1e9;
      console.log(`| ${r.masking} | ${v.name} | ${ms(v.median)} | ${ms(v.best)} | ${gbps.toFixed(2)} | ${v.vsWs.toFixed(2)}x | ${v.vsTcp.toFixed(2)}x |`);
    }
    console.log(`\n${r.masking}: ${r.detail}; aligned tensor views on receive: ${r.alignedViews}`);
  }
  process.exit(0);
}

// ---- child: one masking mode ----
const require = createRequire(import.meta.url);
let protocol;
try {
  protocol = await import('@carboncp/protocol');
} catch (error) {
  console.error(`cannot load @carboncp/protocol from dist (${error.message}); run: node scripts/pnpm.mjs exec tsc -b packages/protocol`);
  process.exit(2);
}
const { decodeFrame, encodeFrame, encodeFrameParts, MessageType, tensorFromArray, tensorToArray } = protocol;
const { sendFrameParts } = protocol;
const { WebSocket, WebSocketServer } = await import('ws');

/** Which masking ws really uses: node:http's, bufferutil's native addon, or its JavaScript loop. */
function maskingInUse() {
  const wsRequire = createRequire(require.resolve('ws'));
  const bufferUtil = wsRequire('./lib/buffer-util.js');
  const source = bufferUtil.mask.toString();
  let addon = 'bufferutil not resolvable from ws';
  try {
    const loaded = wsRequire('bufferutil');
    addon = /\[native code\]/.test(loaded.mask.toString()) ? 'bufferutil resolves from ws and is native' : 'bufferutil resolves but is its JS fallback';
  } catch {
    // addon stays "not resolvable"
  }
  const active = source.includes('websocketMask') ? 'node:http websocketMask' : source.includes('bufferUtil.mask') ? 'bufferutil native' : 'JavaScript loop';
  return { active, detail: `ws masks with: ${active} (WS_NO_BUFFER_UTIL=${process.env.WS_NO_BUFFER_UTIL ?? 'unset'}; ${addon})` };
}

let seed = 99;
const values = new Float32Array(TENSOR_BYTES / 4).map(() => {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  return seed / 2 ** 32 - 0.5;
});
const payload = Buffer.from(values.buffer);
const request = (id) => ({
  type: MessageType.InferRequest,
  requestId: id,
  body: {
    model_name: 'resnet',
    plan_id: 'cut-12',
    plan_digest: 'a'.repeat(64),
    model_digest: 'b'.repeat(64),
    inputs: [tensorFromArray('activation', values, [1, 3, 224, 224])],
  },
});
const response = (req) => ({
  type: MessageType.InferResponse,
  requestId: req.requestId,
  body: {
    model_name: req.body.model_name,
    plan_id: req.body.plan_id,
    outputs: [{ ...req.body.inputs[0], name: 'tail_input_echo' }],
    parameters: { server_ms: 0, queue_ms: 0, batch_size: 1, execution_provider: 'cpu' },
  },
});

/**
 * Runs every variant's round trip WARMUP times, then ROUNDS rounds of PER_ROUND round trips each,
 * interleaving the variants round by round so that load from other processes on this shared
 * machine falls on all of them alike. Returns ms per round trip: median and best round.
 */
async function measureInterleaved(variants) {
  for (const v of variants) for (let i = 0; i < WARMUP; i++) await v.roundTrip();
  const perRound = variants.map(() => []);
  for (let r = 0; r < ROUNDS; r++) {
    for (const [k, v] of variants.entries()) {
      const start = process.hrtime.bigint();
      for (let i = 0; i < PER_ROUND; i++) await v.roundTrip();
      perRound[k].push(Number(process.hrtime.bigint() - start) / 1e6 / PER_ROUND);
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const pairedRatio = (k, base) => median(perRound[k].map((x, r) => x / perRound[base][r]));
  // Variant 0 is raw TCP and variant 1 bare ws: the two baselines.
  return variants.map((v, k) => ({
    name: v.name,
    median: median(perRound[k]),
    best: Math.min(...perRound[k]),
    vsTcp: pairedRatio(k, 0),
    vsWs: pairedRatio(k, 1),
  }));
}

async function rawTcp() {
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    socket.on('data', (chunk) => socket.write(chunk));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = net.connect(server.address().port, '127.0.0.1');
  client.setNoDelay(true);
  await new Promise((resolve) => client.once('connect', resolve));
  let pending;
  let received = 0;
  client.on('data', (chunk) => {
    received += chunk.length;
    if (received >= TENSOR_BYTES) {
      received -= TENSOR_BYTES;
      pending();
    }
  });
  return {
    name: 'raw TCP echo',
    roundTrip: () =>
      new Promise((resolve) => {
        pending = resolve;
        client.write(payload);
      }),
    close: async () => {
      client.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A ws server running `onMessage`, a connected client, and a measured round trip. */
async function overWs(name, onMessage, roundTrip) {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => server.once('listening', resolve));
  server.on('connection', (ws) => ws.on('message', (data) => onMessage(ws, data)));
  const client = new WebSocket(`ws://127.0.0.1:${server.address().port}`);
  await new Promise((resolve, reject) => {
    client.once('open', resolve);
    client.once('error', reject);
  });
  let pending;
  client.on('message', (data) => pending(data));
  return {
    name,
    roundTrip: () =>
      new Promise((resolve) => {
        roundTrip(client, (check) => {
          pending = (data) => resolve(check(data));
        });
      }),
    close: async () => {
      client.close();
      for (const ws of server.clients) ws.terminate();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

let alignedViews = 0;
let received = 0;
function checkResponse(data) {
  const message = decodeFrame(data);
  const out = tensorToArray(message.body.outputs[0]);
  if (out.length !== values.length || out[1] !== values[1]) throw new Error('echoed tensor differs');
  received++;
  if (out.buffer === data.buffer) alignedViews++;
}

const masking = maskingInUse();
let nextId = 1;
const setups = [
  await rawTcp(),
  await overWs(
    'bare ws echo',
    (ws, data) => ws.send(data),
    (client, onReply) => {
      onReply((data) => {
        if (data.length !== TENSOR_BYTES) throw new Error('short echo');
      });
      client.send(payload);
    },
  ),
  await overWs(
    'carboncp frame (encodeFrame)',
    (ws, data) => ws.send(encodeFrame(response(decodeFrame(data)))),
    (client, onReply) => {
      onReply(checkResponse);
      client.send(encodeFrame(request(nextId++)));
    },
  ),
  await overWs(
    'carboncp frame (encodeFrameParts + sendFrameParts: ws fragments, as shipped)',
    (ws, data) => sendFrameParts(ws, encodeFrameParts(response(decodeFrame(data)))),
    (client, onReply) => {
      onReply(checkResponse);
      sendFrameParts(client, encodeFrameParts(request(nextId++)));
    },
  ),
];
const variants = await measureInterleaved(setups);
for (const setup of setups) await setup.close();
console.log(JSON.stringify({ masking: masking.active, detail: masking.detail, alignedViews: `${alignedViews}/${received}`, variants }));
