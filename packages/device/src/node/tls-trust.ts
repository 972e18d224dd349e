/**
 * Trusting a server's private CA in Node (the `ca` option of createClient and WsTransport), and
 * saying plainly why a TLS connection failed. The browser has no such option: its own trust
 * store decides (browser/create-client.ts).
 */
import { request } from 'node:https';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';

/**
 * CA certificates to trust, PEM, instead of Node's bundled roots (node:tls `ca`): a private CA
 * that signed the server's certificate. A string may hold several certificates.
 */
export type TrustedCa = string | Uint8Array | readonly (string | Uint8Array)[];

function isPem(value: unknown): value is string | Uint8Array {
  return (typeof value === 'string' && value.length > 0) || value instanceof Uint8Array;
}

/** node:tls's form of a checked `ca` option; CARBONCP_INVALID_ARGUMENT when it is not PEM text or bytes. */
export function resolveTrustedCa(ca: unknown): (string | Buffer)[] | undefined {
  if (ca === undefined) return undefined;
  const list = Array.isArray(ca) ? ca : [ca];
  if (list.length === 0 || !list.every(isPem)) {
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, 'ca must be PEM certificates: a string, a Buffer/Uint8Array, or a non-empty array of them');
  }
  return list.map((pem) => (typeof pem === 'string' ? pem : Buffer.from(pem.buffer, pem.byteOffset, pem.byteLength)));
}

// node:tls's codes for a certificate that does not verify (OpenSSL's X509_V_ERR_* names, and
// Node's own for a name mismatch).
const CERTIFICATE_CODES = /^(ERR_TLS_CERT_ALTNAME_INVALID|UNABLE_TO_.*|.*SELF_SIGNED.*|CERT_.*|INVALID_CA|PATH_LENGTH_EXCEEDED|INVALID_PURPOSE|HOSTNAME_MISMATCH)$/;

/**
 * What a TLS failure means, for an error message, or undefined when `error` is not one: a
 * certificate this client does not trust, or a peer that does not speak TLS.
 */
export function describeTlsFailure(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code !== 'string') return undefined;
  if (CERTIFICATE_CODES.test(code)) {
    return `the server's TLS certificate is not trusted (${code}: ${(error as Error).message}); for a private CA give its certificate as the client's \`ca\` option (carboncp: --ca FILE)`;
  }
  if (code.startsWith('ERR_SSL_') || code === 'EPROTO') return `TLS failed (${code}): is the server speaking TLS (wss://, https://) on that port?`;
  return undefined;
}

/**
 * The error of a failed connection to `url`: CARBONCP_CONNECTION_LOST with node's error as the
 * cause, and for a TLS failure `details.tls` set to node's code (e.g. 'UNABLE_TO_VERIFY_LEAF_SIGNATURE').
 */
export function connectionError(url: string, error: Error & { code?: string }): CarboncpError {
  const tls = describeTlsFailure(error);
  return new CarboncpError(ErrorCode.CONNECTION_LOST, `cannot connect to ${url}: ${tls ?? error.message}`, {
    cause: error,
    ...(tls && error.code ? { details: { tls: error.code } } : {}),
  });
}

/** The part of fetch the device's HTTP reads use. */
export type FetchLike = (url: string, init?: { signal?: AbortSignal; headers?: Record<string, string> }) => Promise<Response>;

/**
 * A GET-only fetch over node:https that trusts `ca` (Node's global fetch takes no CA): for the
 * HTTP routes of a server with a private certificate (its profile, its readiness). Plain http://
 * URLs go to the global fetch. A failure rejects with connectionError's CarboncpError.
 */
export function fetchTrusting(ca: TrustedCa): FetchLike {
  const trusted = resolveTrustedCa(ca);
  return (url, init = {}) => {
    if (!url.startsWith('https:')) return fetch(url, init);
    return new Promise<Response>((resolve, reject) => {
      const req = request(url, { method: 'GET', ca: trusted, headers: init.headers ?? {}, ...(init.signal ? { signal: init.signal } : {}) }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', (error) => reject(connectionError(url, error)));
        res.on('end', () => {
          const headers = new Headers();
          for (const [name, value] of Object.entries(res.headers)) {
            if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
          }
          const status = res.statusCode ?? 0;
          // Response refuses a body for the null-body statuses.
          const body = status === 204 || status === 304 ? null : Buffer.concat(chunks);
          resolve(new Response(body, { status, headers }));
        });
      });
      req.on('error', (error) => reject(connectionError(url, error)));
      req.end();
    });
  };
}
