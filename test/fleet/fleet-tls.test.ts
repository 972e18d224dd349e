// TLS terminated in HAProxy (`carboncp fleet --tls-cert --tls-key`), with a throwaway CA: a device
// given the CA (`ca`) gets correct split answers over wss:// through HAProxy; a client
// without the CA is refused; HAProxy's cert+key file is private (0600) in the fleet's directory.
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { seededInputs } from '@carboncp/core/node';
import { createClient } from '@carboncp/device/node';
import { ensureModel, getZooModel } from '@carboncp/models';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { throwawayCa } from '../../packages/server/src/testing/throwaway-ca.js';
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
  const ca = await throwawayCa('carboncp fleet test CA');
  const leaf = ca.server;
  caCert = ca.cert;
  await writeFile(join(dir, 'leaf.crt'), leaf.cert);
  await writeFile(join(dir, 'leaf.key'), leaf.key, { mode: 0o600 });
  const shapes = Object.entries(inputShapes).flatMap(([name, shape]) => ['--input-shape', `${name}=${shape.join(',')}`]);
  fleet = await startFleet(['--servers', '1', '--port', '0', '--tls-cert', join(dir, 'leaf.crt'), '--tls-key', join(dir, 'leaf.key'), '--models', file, ...shapes, '--ep', 'cpu']);
}, 300_000);

afterAll(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => undefined);
  await fleet?.stop();
  await reference?.release();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 120_000);

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
    const client = await createClient({ model: file, server: f.url, inputShapes, ca: caCert, reconnect: { initialMs: 20, maxMs: 200, seed: 5 } });
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
