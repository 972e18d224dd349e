/**
 * TLS on a single server (HTTPS + WSS on one port) with a throwaway CA, and the warning for a
 * token that would cross a network in clear.
 */
import { get } from 'node:https';
import type { Partition, Plan } from '@carboncp/core';
import { ErrorCode, isCarboncpError, tensorToArray, type WireTensor } from '@carboncp/protocol';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type CarboncpServer, type ServerOptions } from './index.js';
import { resolveOptions } from './options.js';
import { CLS_INPUT_SHAPES, CLS_PATH, clsInputs, crossingFor, expectResponse, inferBody, loadClsPartition, middleSplit } from './testing/fixtures.js';
import { throwawayCa, type ThrowawayCa } from './testing/throwaway-ca.js';
import { TestClient } from './testing/ws-test-client.js';
import { isLoopbackHost, plaintextTokenWarning } from './transport-security.js';

const TOKEN = 'tls-token-7a41';
let ca: ThrowawayCa;
let other: ThrowawayCa;
let partition: Partition;
let split: Plan;
let sample: WireTensor[];
const servers: CarboncpServer[] = [];
const clients: TestClient[] = [];

beforeAll(async () => {
  [ca, other, partition] = await Promise.all([throwawayCa(), throwawayCa('another CA'), loadClsPartition()]);
  split = middleSplit(partition);
  sample = await crossingFor(partition, split, clsInputs(partition, 31));
});

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  for (const server of servers.splice(0)) await server.close({ drainMs: 0 });
});

async function start(options: Partial<ServerOptions>, logs: string[] = []): Promise<CarboncpServer> {
  const server = await startServer({
    models: [CLS_PATH],
    inputShapes: CLS_INPUT_SHAPES,
    port: 0,
    executor: 'main',
    executionProviders: ['cpu'],
    profile: 'off',
    log: (line) => logs.push(line),
    ...options,
  });
  servers.push(server);
  return server;
}

/** GET over HTTPS trusting `trusted` only: the status, or node's TLS error code. */
function httpsStatus(url: string, trusted: string): Promise<number | string> {
  return new Promise((resolve) => {
    get(url, { ca: trusted }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    }).on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

/** The error a wss:// connection ends with, or 'open'. */
async function connectOutcome(url: string, trust: { ca?: string } = {}): Promise<string> {
  try {
    const client = await TestClient.connect(url, trust);
    clients.push(client);
    return 'open';
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
  }
}

describe('tls', () => {
  it('serves WSS and HTTPS on one port to a client that trusts the CA, and answers a split request', async () => {
    const logs: string[] = [];
    const server = await start({ tls: { cert: ca.server.cert, key: Buffer.from(ca.server.key) }, token: TOKEN }, logs);
    expect(server.url).toBe(`wss://127.0.0.1:${server.port}`);
    expect(server.httpUrl).toBe(`https://127.0.0.1:${server.port}`);
    expect(logs.find((line) => line.startsWith('carboncp server listening'))).toMatch(/listening on wss:\/\/127\.0\.0\.1:\d+ \(HTTP on https:\/\/.*, TLS$/);
    expect(await httpsStatus(`${server.httpUrl}/v2/health/ready`, ca.cert)).toBe(200);
    expect(await httpsStatus(`${server.httpUrl}/metrics`, ca.cert)).toBe(401);

    const client = await TestClient.ready(server.url, TOKEN, { ca: ca.cert });
    clients.push(client);
    const response = expectResponse(await client.infer(inferBody(partition, split, sample)));
    const outputs = response.body.outputs;
    expect(outputs.length).toBe(split.tailOutputs.length);
    for (const output of outputs) expect((tensorToArray(output) as Float32Array).every(Number.isFinite)).toBe(true);
  });

  it('refuses clients that do not trust its CA (no ca, another CA, plain ws://) and keeps serving', async () => {
    const server = await start({ tls: { cert: ca.server.cert, key: ca.server.key } });
    expect(await connectOutcome(server.url)).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    expect(await connectOutcome(server.url, { ca: other.cert })).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    expect(await httpsStatus(`${server.httpUrl}/v2/health/live`, other.cert)).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    // A plain WebSocket to the TLS port gets no upgrade: the server answers its bytes as a bad TLS record.
    expect(await connectOutcome(server.url.replace('wss:', 'ws:'))).not.toBe('open');
    expect(await connectOutcome(server.url, { ca: ca.cert })).toBe('open');
  });

  it('refuses a certificate and key that do not belong together, or are not PEM, before loading any model', () => {
    const mismatched = () => resolveOptions({ models: [], tls: { cert: ca.server.cert, key: other.server.key } });
    expect(mismatched).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT, message: expect.stringMatching(/^tls: the certificate or key cannot be used/) }));
    try {
      mismatched();
    } catch (error) {
      expect(isCarboncpError(error) && error.cause instanceof Error).toBe(true);
    }
    expect(() => resolveOptions({ models: [], tls: { cert: 'not a certificate', key: ca.server.key } })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    expect(() => resolveOptions({ models: [], tls: { cert: ca.server.cert } as never })).toThrow(/tls\.key must be a PEM private key/);
    expect(() => resolveOptions({ models: [], tls: { cert: ca.server.cert, key: ca.server.key, passphrase: 3 } as never })).toThrow(/tls\.passphrase must be a string/);
    expect(resolveOptions({ models: [], tls: { cert: [ca.server.cert], key: ca.server.key, ca: ca.cert } }).tls?.ca).toBe(ca.cert);
  });
});

describe('a token in clear', () => {
  const warned = (logs: string[]) => logs.filter((line) => line.startsWith('warning: a token is required but'));

  it('is warned about once on a listener that is not loopback (0.0.0.0) without TLS', async () => {
    const logs: string[] = [];
    await start({ host: '0.0.0.0', token: TOKEN }, logs);
    expect(warned(logs)).toEqual([expect.stringContaining('0.0.0.0 is not a loopback address and there is no TLS')]);
  });

  it('is not warned about on 127.0.0.1, with TLS, or without a token', async () => {
    for (const options of [{ host: '127.0.0.1', token: TOKEN }, { host: '0.0.0.0', token: TOKEN, tls: { cert: ca.server.cert, key: ca.server.key } }, { host: '0.0.0.0' }]) {
      const logs: string[] = [];
      await start(options, logs);
      expect(logs.some((line) => line.startsWith('carboncp server listening'))).toBe(true);
      expect(warned(logs)).toEqual([]);
    }
  });

  it('knows loopback hosts', () => {
    for (const host of ['127.0.0.1', '127.3.2.1', 'localhost', 'LOCALHOST', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) expect(isLoopbackHost(host), host).toBe(true);
    for (const host of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', 'example.com', '192.168.1.2', '::2']) expect(isLoopbackHost(host), host).toBe(false);
    expect(plaintextTokenWarning({ host: '10.0.0.1', token: undefined, tls: undefined })).toBeUndefined();
    expect(plaintextTokenWarning({ host: '10.0.0.1', token: 't', tls: undefined })).toMatch(/--tls-cert FILE --tls-key FILE/);
  });
});
