// TLS terminated in HAProxy (`carboncp fleet --tls-cert --tls-key`), with a throwaway CA: a device
// whose transport trusts the CA gets correct split answers over wss:// through HAProxy; a client
// without the CA is refused; HAProxy's cert+key file is private (0600) in the fleet's directory.
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { seededInputs } from '@carboncp/core/node';
import type { Transport } from '@carboncp/device';
import { createClient } from '@carboncp/device/node';
import { ensureModel, getZooModel } from '@carboncp/models';
import { generate } from 'selfsigned';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maxAbsDiffAll, referenceRunner } from '../e2e/split-harness.js';
import { skipWithoutHaproxy, startFleet, type RunningFleet } from './fleet-harness.js';

const MODEL = 'ppocr-cls';
const TOL = 1e-4;
const skip = skipWithoutHaproxy('fleet TLS tests');
const { inputShapes } = getZooModel(MODEL);
let file = '';
let dir = '';
let caCert = '';
let fleet: RunningFleet | undefined;
let reference: Awaited<ReturnType<typeof referenceRunner>> | undefined;
const cleanup: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  if (skip) return;
  file = await ensureModel(MODEL);
  reference = await referenceRunner(file);
  dir = await mkdtemp(join(tmpdir(), 'carboncp-fleet-tls-'));
  const ca = await generate([{ name: 'commonName', value: 'carboncp throwaway test CA' }], {
    keySize: 2048,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    ],
  });
  const leaf = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
    keySize: 2048,
    ca: { key: ca.private, cert: ca.cert },
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }, { type: 2, value: 'localhost' }] }],
  });
  caCert = ca.cert;
  await writeFile(join(dir, 'leaf.crt'), leaf.cert);
  await writeFile(join(dir, 'leaf.key'), leaf.private, { mode: 0o600 });
  const shapes = Object.entries(inputShapes).flatMap(([name, shape]) => ['--input-shape', `${name}=${shape.join(',')}`]);
  fleet = await startFleet(['--servers', '1', '--port', '0', '--tls-cert', join(dir, 'leaf.crt'), '--tls-key', join(dir, 'leaf.key'), '--models', file, ...shapes, '--ep', 'cpu']);
}, 300_000);

afterAll(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => undefined);
  await fleet?.stop();
  await reference?.release();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 120_000);

/** A Node transport that trusts `ca` (what the device SDK's own `ca` option will do; here through its transport seam). */
function trustingTransport(ca: string): Transport {
  return {
    connect: (url, handlers) =>
      new Promise((resolve, reject) => {
        const socket = new WebSocket(url, { ca, perMessageDeflate: false, handshakeTimeout: 5000 });
        socket.binaryType = 'nodebuffer';
        socket.on('error', (error) => {
          if (socket.readyState !== WebSocket.OPEN) reject(error);
        });
        socket.on('message', (data: Buffer, isBinary) => {
          if (isBinary) handlers.message(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
        });
        socket.on('close', (code, reason) => handlers.close(code, reason.toString()));
        socket.once('open', () =>
          resolve({
            send: (bytes) => socket.send(bytes, { binary: true }),
            close: (code, reason) => socket.close(code, reason),
            terminate: () => socket.terminate(),
          }),
        );
      }),
  };
}

describe.skipIf(skip)('a fleet with TLS terminated in HAProxy', () => {
  it('serves wss:// with the certificate given; its cert+key file is 0600 in the fleet directory', async () => {
    const f = fleet as RunningFleet;
    expect(f.url).toMatch(/^wss:\/\/127\.0\.0\.1:\d+$/);
    const pem = await stat(join(dirname(f.configFile), 'tls.pem'));
    expect(pem.mode & 0o777).toBe(0o600);
    expect((await stat(dirname(f.configFile))).mode & 0o777).toBe(0o700);
  });

  it('gives a device that trusts the CA a correct split answer through HAProxy', async () => {
    const f = fleet as RunningFleet;
    const client = await createClient({ model: file, server: f.url, inputShapes, wrapTransport: () => trustingTransport(caCert), reconnect: { initialMs: 20, maxMs: 200, seed: 5 } });
    cleanup.push(() => client.close());
    await client.ready(30_000);
    const splits = client.plans.filter((p) => p.kind === 'split');
    const cut = splits[Math.floor(splits.length / 2)].id;
    const inputs = seededInputs(client.partition.model, inputShapes, 21);
    const result = await client.infer(inputs, { cut });
    expect(result.telemetry.path).toBe('split');
    expect(result.telemetry.error).toBeUndefined();
    expect(maxAbsDiffAll(result.outputs, await (reference as NonNullable<typeof reference>).run(inputs))).toBeLessThanOrEqual(TOL);
  });

  it('refuses a client without the CA, and a plain ws:// client', async () => {
    const f = fleet as RunningFleet;
    const attempt = (url: string) =>
      new Promise<string>((resolve) => {
        const socket = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: 5000 });
        socket.once('open', () => {
          socket.terminate();
          resolve('open');
        });
        socket.once('error', (error: Error & { code?: string }) => resolve(error.code ?? error.message));
      });
    expect(await attempt(f.url)).toMatch(/^(SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)$/);
    expect(await attempt(f.url.replace(/^wss:/, 'ws:'))).not.toBe('open');
  });
});
