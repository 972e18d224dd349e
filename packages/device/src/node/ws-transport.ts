import { CarboncpError, CloseCode, DEFAULT_MAX_PAYLOAD, ErrorCode, sendFrameParts, type CorkableStream } from '@carboncp/protocol';
import WebSocket from 'ws';
import type { Transport, TransportConnection, TransportHandlers } from '../client/types.js';
import { connectionError, resolveTrustedCa, type TrustedCa } from './tls-trust.js';

export interface WsTransportOptions {
  /** Largest frame accepted from the server, bytes; ws closes the socket with 1009 beyond it. */
  maxPayload?: number;
  /** Connect timeout, ms; default 5000. */
  connectTimeoutMs?: number;
  /**
   * wss:// only: CA certificates (PEM) to trust instead of Node's bundled roots, for a server
   * whose certificate a private CA signed. A certificate that does not verify fails the connect
   * with CARBONCP_CONNECTION_LOST, node's error as the cause and details.tls its code.
   */
  ca?: TrustedCa;
}

/**
 * The Node transport: one `ws` WebSocket per connection, binary frames, no compression. A request
 * given as encodeFrameParts' parts goes out as one message in fragments, and a message comes in as
 * the fragments it was sent in (see @carboncp/protocol's frame-fragments.ts): neither side copies
 * a tensor into or out of a joined frame. ws's masking of client frames is the one copy a client
 * send makes, as for any ws message.
 */
export class WsTransport implements Transport {
  private readonly ca: (string | Buffer)[] | undefined;

  constructor(private readonly options: WsTransportOptions = {}) {
    this.ca = resolveTrustedCa(options.ca);
  }

  connect(url: string, handlers: TransportHandlers): Promise<TransportConnection> {
    return new Promise((resolve, reject) => {
      let socket: WebSocket;
      try {
        socket = new WebSocket(url, {
          perMessageDeflate: false,
          maxPayload: this.options.maxPayload ?? DEFAULT_MAX_PAYLOAD,
          handshakeTimeout: this.options.connectTimeoutMs ?? 5_000,
          ...(this.ca ? { ca: this.ca } : {}),
        });
      } catch (error) {
        reject(new CarboncpError(ErrorCode.INVALID_ARGUMENT, `invalid server URL '${url}': ${(error as Error).message}`, { cause: error }));
        return;
      }
      // Fragments, not one joined Buffer: ws would copy a fragmented message (the server sends a
      // large tensor as a fragment of its own) into one buffer; decodeFrameFragments reads the
      // fragments where they are.
      socket.binaryType = 'fragments';
      let opened = false;
      socket.on('open', () => {
        opened = true;
        // Frames are small and latency-bound: send each at once. The socket is also corked while
        // a message's fragments are handed to ws, so that they leave in one write.
        const raw = (socket as unknown as { _socket?: CorkableStream & { setNoDelay?: (on: boolean) => void } })._socket;
        raw?.setNoDelay?.(true);
        resolve({
          send: (bytes) => socket.send(bytes, { binary: true }),
          sendParts: (parts) => sendFrameParts(socket, parts, raw),
          close: (code, reason) => {
            if (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING) socket.close(code, reason);
          },
          terminate: () => socket.terminate(),
        });
      });
      // Why ws gave up on an open socket (a message over maxPayload, a protocol error): its close
      // event carries only a code, so this says what happened.
      let failure: string | undefined;
      socket.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
        if (!isBinary) return;
        // ws gives an array of Buffers for binaryType 'fragments'; each may sit at any offset of
        // its ArrayBuffer (decodeFrameFragments copies a tensor that does not sit aligned).
        const message = Array.isArray(data) ? data : data instanceof ArrayBuffer ? new Uint8Array(data) : data;
        try {
          handlers.message(message);
        } catch (error) {
          // Thrown inside ws's socket event: it would be an uncaught exception, ending the app.
          failure = `the client failed handling a message: ${(error as Error)?.message ?? String(error)}`;
          socket.close(CloseCode.INTERNAL_ERROR, 'client error');
        }
      });
      socket.on('error', (error: Error & { code?: string }) => {
        if (!opened) {
          reject(connectionError(url, error));
          socket.terminate();
          return;
        }
        failure =
          error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'
            ? `the server sent a message larger than this client's maxPayload of ${this.options.maxPayload ?? DEFAULT_MAX_PAYLOAD} bytes`
            : error.message;
      });
      socket.on('close', (code, reason) => {
        if (opened) handlers.close(code, [reason.toString('utf8'), failure].filter(Boolean).join('; '));
        else reject(new CarboncpError(ErrorCode.CONNECTION_LOST, `connection to ${url} closed before it opened (${code})`));
      });
    });
  }
}
