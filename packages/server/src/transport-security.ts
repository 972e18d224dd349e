/**
 * TLS for a single server: the one port then speaks HTTPS and WSS (node:https in place of
 * node:http; the routes and the WebSocket upgrade are the same), and the warning given when a
 * token would travel in clear over a network.
 */
import { createServer as createHttpServer, type RequestListener, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { isIP } from 'node:net';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';

/** PEM text or its bytes. */
export type Pem = string | Uint8Array;

/** ServerOptions.tls: the certificate and key the server presents (node:tls's names and forms). */
export interface ServerTlsOptions {
  /** The server's certificate chain, PEM: its certificate first, then any intermediates. */
  cert: Pem | Pem[];
  /** The certificate's private key, PEM. */
  key: Pem | Pem[];
  /** Passphrase of an encrypted key. */
  passphrase?: string;
  /**
   * Extra CA certificates, PEM, that node:tls uses to complete the chain it sends; clients are
   * not asked for certificates. Default: none.
   */
  ca?: Pem | Pem[];
}

function isPem(value: unknown): value is Pem {
  return typeof value === 'string' || value instanceof Uint8Array;
}

function isPemOrList(value: unknown): value is Pem | Pem[] {
  return isPem(value) || (Array.isArray(value) && value.length > 0 && value.every(isPem));
}

function bad(message: string, cause?: unknown): CarboncpError {
  return new CarboncpError(ErrorCode.INVALID_ARGUMENT, message, cause === undefined ? {} : { cause });
}

/**
 * Checks ServerOptions.tls: its shape, then its content, by building the TLS context node:https
 * will build (so that a certificate or key that node:tls cannot use, a key that does not match
 * the certificate or a wrong passphrase fails here, before any model is loaded, as
 * CARBONCP_INVALID_ARGUMENT with node's error as the cause).
 */
export function resolveTls(tls: unknown): ServerTlsOptions | undefined {
  if (tls === undefined) return undefined;
  if (tls === null || typeof tls !== 'object') throw bad('tls must be { cert, key } (PEM strings or Buffers)');
  const { cert, key, passphrase, ca } = tls as Record<string, unknown>;
  if (!isPemOrList(cert)) throw bad('tls.cert must be a PEM certificate (string or Buffer) or a non-empty array of them');
  if (!isPemOrList(key)) throw bad('tls.key must be a PEM private key (string or Buffer) or a non-empty array of them');
  if (passphrase !== undefined && typeof passphrase !== 'string') throw bad('tls.passphrase must be a string');
  if (ca !== undefined && !isPemOrList(ca)) throw bad('tls.ca must be a PEM certificate (string or Buffer) or a non-empty array of them');
  const resolved: ServerTlsOptions = {
    cert: cert as Pem | Pem[],
    key: key as Pem | Pem[],
    ...(passphrase === undefined ? {} : { passphrase: passphrase as string }),
    ...(ca === undefined ? {} : { ca: ca as Pem | Pem[] }),
  };
  try {
    createSecureContext(secureContextOptions(resolved));
  } catch (error) {
    throw bad(`tls: the certificate or key cannot be used: ${(error as Error).message}`, error);
  }
  return resolved;
}

function secureContextOptions(tls: ServerTlsOptions): SecureContextOptions {
  const asBuffers = (pem: Pem | Pem[]) => (Array.isArray(pem) ? pem.map(toBuffer) : toBuffer(pem));
  return {
    cert: asBuffers(tls.cert),
    key: asBuffers(tls.key),
    ...(tls.passphrase === undefined ? {} : { passphrase: tls.passphrase }),
    ...(tls.ca === undefined ? {} : { ca: asBuffers(tls.ca) }),
  };
}

export type Listener = HttpServer | HttpsServer;

/** node:http, or node:https with `tls` (checked by resolveTls). */
export function createListener(handler: RequestListener, tls: ServerTlsOptions | undefined): Listener {
  return tls ? createHttpsServer(secureContextOptions(tls), handler) : createHttpServer(handler);
}

function toBuffer(pem: Pem): string | Buffer {
  return typeof pem === 'string' ? pem : Buffer.from(pem.buffer, pem.byteOffset, pem.byteLength);
}

/** 127.0.0.0/8, ::1 (also IPv4-mapped) and localhost: a listener only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (bare === 'localhost' || bare.endsWith('.localhost')) return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) return bare === '::1' || /^(0{1,4}:){7}0{0,3}1$/.test(bare) || /^::ffff:127\./.test(bare);
  return false;
}

/** The warning for a token that would cross a network in clear; undefined where there is none to give. */
export function plaintextTokenWarning(options: { host: string; token: string | undefined; tls: ServerTlsOptions | undefined }): string | undefined {
  if (options.token === undefined || options.tls !== undefined || isLoopbackHost(options.host)) return undefined;
  return (
    `warning: a token is required but ${options.host} is not a loopback address and there is no TLS: ` +
    'the token and every tensor cross the network in clear; give tls { cert, key } (carboncp serve --tls-cert FILE --tls-key FILE) ' +
    'or terminate TLS in front of the server'
  );
}
