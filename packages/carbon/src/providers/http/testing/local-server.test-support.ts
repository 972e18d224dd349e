/**
 * A local HTTP server on 127.0.0.1 (random port) for the HTTP provider tests: each route answers
 * what its current reply says, every request is recorded, and a 'hang' reply never answers (for
 * timeouts). close() also drops hanging connections.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Reply = { status?: number; headers?: Record<string, string>; body: string } | 'hang';

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
}

export interface LocalServer {
  baseUrl: string;
  requests: RecordedRequest[];
  /** Requests to one path. */
  count(path: string): number;
  /** What a path answers from now on (a function is called per request). */
  route(path: string, reply: Reply | ((request: RecordedRequest) => Reply)): void;
  close(): Promise<void>;
}

export function fixture(name: string): string {
  return readFileSync(new URL(`./${name}`, import.meta.url), 'utf8');
}

export async function startLocalServer(): Promise<LocalServer> {
  const routes = new Map<string, (request: RecordedRequest) => Reply>();
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const request: RecordedRequest = { method: req.method ?? '', path: url.pathname, query: url.searchParams, headers: req.headers };
    requests.push(request);
    const reply = routes.get(url.pathname)?.(request) ?? { status: 404, body: '{"error":"not found"}' };
    if (reply === 'hang') return;
    res.writeHead(reply.status ?? 200, { 'content-type': 'application/json', ...reply.headers });
    res.end(reply.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    count: (path) => requests.filter((r) => r.path === path).length,
    route(path, reply) {
      routes.set(path, typeof reply === 'function' ? reply : () => reply);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
