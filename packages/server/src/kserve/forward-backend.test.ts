/**
 * KserveForwardBackend against a scripted node:http server: what it sends (path, headers, binary
 * body), how it reads an answer, and the code each failure becomes.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ErrorCode, isCarboncpError, tensorFromArray, tensorToArray } from '@carboncp/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TailStageError, type TailRequest } from '../tail-executor.js';
import { HEADER_LENGTH_HEADER } from './kserve-body.js';
import { decodeInferRequest, encodeInferResponse } from './kserve-messages.js';
import { KserveForwardBackend, FORWARDED_PROVIDER } from './forward-backend.js';

let server: Server | undefined;

afterEach(async () => {
  vi.useRealTimers();
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

async function backendAnswering(answer: (req: IncomingMessage, body: Buffer, res: ServerResponse) => void): Promise<string> {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => answer(req, Buffer.concat(chunks), res));
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server!.address() as AddressInfo).port}`;
}

function request(samples: number[]): TailRequest {
  const total = samples.reduce((a, b) => a + b, 0);
  const values = Float32Array.from({ length: total * 2 }, (_, i) => i);
  return {
    planKey: 'm/split-1',
    spec: { planKey: 'm/split-1', crossing: ['h'], tailOutputs: ['y'] },
    sizeBytes: 0,
    tailBytes: () => new Uint8Array(0),
    feeds: [tensorFromArray('h', values, [total, 2])],
    samples,
    kserveName: 'm.tail.split-1',
  };
}

async function failure(run: Promise<unknown>): Promise<TailStageError> {
  try {
    await run;
  } catch (error) {
    if (error instanceof TailStageError) return error;
    throw error;
  }
  throw new Error('expected a TailStageError');
}

describe('KserveForwardBackend', () => {
  it('posts binary inputs to /v2/models/{tail name}/infer with the token, and splits a batched answer by rows', async () => {
    const seen: { url?: string; auth?: string; header?: string } = {};
    const url = await backendAnswering((req, body, res) => {
      seen.url = req.url;
      seen.auth = req.headers.authorization;
      seen.header = req.headers[HEADER_LENGTH_HEADER] as string;
      const decoded = decodeInferRequest(body, seen.header);
      // y = h * 10, per row.
      const h = tensorToArray(decoded.inputs[0]) as Float32Array;
      const y = tensorFromArray('y', h.map((v) => v * 10), [...decoded.inputs[0].shape]);
      const { body: out, headerLength } = encodeInferResponse({ model_name: 'm.tail.split-1', outputs: [y] }, () => true);
      res.writeHead(200, { [HEADER_LENGTH_HEADER]: String(headerLength) });
      res.end(out);
    });
    const backend = new KserveForwardBackend({ url: `${url}/`, token: 'tk', timeoutMs: 5000, checkIntervalMs: 5000 });
    const { result, provider } = await backend.run(request([1, 2]));
    expect(seen).toEqual({ url: '/v2/models/m.tail.split-1/infer', auth: 'Bearer tk', header: expect.stringMatching(/^\d+$/) });
    expect(provider).toBe(FORWARDED_PROVIDER);
    expect(result.runs).toHaveLength(1);
    expect(result.runs[0].batchSize).toBe(2);
    const rows = result.outcomes.map((o) => ('outputs' in o ? [o.outputs[0].shape, Array.from(tensorToArray(o.outputs[0]) as Float32Array)] : o.error));
    expect(rows).toEqual([
      [[1, 2], [0, 10]],
      [[2, 2], [20, 30, 40, 50]],
    ]);
  });

  it('maps failures to codes: an error answer by its code or status, a malformed answer INTERNAL, silence TIMEOUT, nobody there INTERNAL', async () => {
    let answer: (res: ServerResponse) => void = () => undefined;
    const url = await backendAnswering((_req, _body, res) => answer(res));
    const backend = new KserveForwardBackend({ url, timeoutMs: 300, checkIntervalMs: 5000 });
    const cases: [(res: ServerResponse) => void, string, RegExp][] = [
      [(res) => res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'bad h', code: ErrorCode.BAD_TENSOR })), ErrorCode.BAD_TENSOR, /HTTP 400: bad h/],
      [(res) => res.writeHead(503).end('overloaded'), ErrorCode.BUSY, /HTTP 503: overloaded/],
      [(res) => res.writeHead(503).end(JSON.stringify({ error: 'closing', code: ErrorCode.SHUTTING_DOWN })), ErrorCode.BUSY, /HTTP 503: closing/],
      [(res) => res.writeHead(404).end(JSON.stringify({ error: 'no such model', code: ErrorCode.UNKNOWN_MODEL })), ErrorCode.INTERNAL, /HTTP 404: no such model/],
      [(res) => res.writeHead(500).end(JSON.stringify({ error: 'boom' })), ErrorCode.INTERNAL, /HTTP 500: boom/],
      [(res) => res.writeHead(200).end(JSON.stringify({ model_name: 'm', outputs: [] })), ErrorCode.INTERNAL, /no output 'y'/],
      [(res) => res.writeHead(200).end('not json'), ErrorCode.INTERNAL, /unreadable/],
      [() => undefined, ErrorCode.TIMEOUT, /no answer within 300 ms/],
    ];
    for (const [respond, code, message] of cases) {
      answer = respond;
      const error = await failure(backend.run(request([1])));
      expect(error.code, String(message)).toBe(code);
      expect(`${error.message} ${isCarboncpError(error.error) ? error.error.message : ''}`).toMatch(message);
    }
    server!.closeAllConnections();
    await new Promise<void>((resolve) => server!.close(() => resolve()));
    server = undefined;
    const down = await failure(backend.run(request([1])));
    expect(down.code).toBe(ErrorCode.INTERNAL);
    expect(down.message).toMatch(/unreachable: ECONNREFUSED/);
    expect(isCarboncpError(down.error) && down.error.cause).toBeTruthy();
  });

  it('is ready only while the backend is: its /v2/health/ready at start and on a timer, at once when a call finds nobody there, again when a call is answered', async () => {
    let readyStatus = 200;
    const asked: string[] = [];
    const url = await backendAnswering((req, body, res) => {
      asked.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`);
      if (req.url === '/v2/health/ready') return void res.writeHead(readyStatus).end(JSON.stringify({ ready: readyStatus === 200 }));
      const decoded = decodeInferRequest(body, req.headers[HEADER_LENGTH_HEADER] as string);
      const y = tensorFromArray('y', tensorToArray(decoded.inputs[0]) as Float32Array, [...decoded.inputs[0].shape]);
      const { body: out, headerLength } = encodeInferResponse({ model_name: 'm.tail.split-1', outputs: [y] }, () => true);
      res.writeHead(200, { [HEADER_LENGTH_HEADER]: String(headerLength) }).end(out);
    });
    const lines: string[] = [];
    let onLine: ((line: string) => void) | undefined;
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const backend = new KserveForwardBackend({ url, token: 'tk', timeoutMs: 1000, checkIntervalMs: 30_000, log: (line) => (lines.push(line), onLine?.(line)) });
    expect(backend.canRun()).toBe(false);
    await backend.start();
    expect(backend.canRun()).toBe(true);
    expect(asked).toEqual(['GET /v2/health/ready Bearer tk']);

    // The timer asks again: a backend that says it is not ready makes this server not ready.
    readyStatus = 503;
    const told = new Promise<string>((resolve) => (onLine = resolve));
    vi.advanceTimersByTime(29_999);
    expect(asked).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(await told).toMatch(/^tail backend not ready: .*\/v2\/health\/ready answered HTTP 503$/);
    expect(backend.canRun()).toBe(false);
    expect(asked).toHaveLength(2);

    // A tail it runs says it is up.
    await backend.run(request([1]));
    expect(backend.canRun()).toBe(true);

    // Gone: the call that finds nobody there says so without waiting for the timer.
    server!.closeAllConnections();
    await new Promise<void>((resolve) => server!.close(() => resolve()));
    server = undefined;
    await failure(backend.run(request([1])));
    expect(backend.canRun()).toBe(false);
    expect(await backend.checkReadiness()).toBe(false);
    expect(lines).toEqual([
      expect.stringMatching(/^tail backend ready: .*\/v2\/health\/ready answered HTTP 200$/),
      expect.stringMatching(/not ready: .*answered HTTP 503$/),
      expect.stringMatching(/^tail backend ready: .*\/v2\/models\/m\.tail\.split-1\/infer answered HTTP 200$/),
      expect.stringMatching(/^tail backend not ready: .*\/infer unreachable: ECONNREFUSED$/),
    ]);
    await backend.close();
    expect(vi.getTimerCount()).toBe(0);
    expect(backend.canRun()).toBe(false);
  });

  it('starts not ready when the backend is down, and one question at a time', async () => {
    const url = await backendAnswering((_req, _body, res) => res.writeHead(200).end('{}'));
    server!.closeAllConnections();
    await new Promise<void>((resolve) => server!.close(() => resolve()));
    server = undefined;
    const lines: string[] = [];
    const backend = new KserveForwardBackend({ url, timeoutMs: 1000, checkIntervalMs: 30_000, log: (line) => lines.push(line) });
    await backend.start();
    expect(backend.canRun()).toBe(false);
    expect(lines).toEqual([expect.stringMatching(/^tail backend not ready: .*\/v2\/health\/ready is unreachable: ECONNREFUSED$/)]);
    expect(backend.checkReadiness()).toBe(backend.checkReadiness());
    await backend.close();
  });
});
