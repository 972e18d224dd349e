import { CarboncpError, CloseCode, DEFAULT_MAX_PAYLOAD, ErrorCode, sendFrameParts } from '@carboncp/protocol';
import WebSocket from 'ws';
import type { Transport, TransportConnection, TransportHandlers } from '../client/types.js';


export interface WsTransportOptions {
  /** Largest frame accepted from the server, bytes; ws closes the socket with 1009 beyond it. */
  maxPayload?: number;
  /** Connect timeout, ms; default 5000. */
  connectTimeoutMs?: number;
}

/**
 * The Node transport: one `ws` WebSocket per connection, binary frames, no compression. A request
 * given as encodeFrameParts' parts goes out as one message in fragments (see @carboncp/protocol's frame-fragments.ts).
 */
export class WsTransport implements Transport {
  constructor(private readonly options: WsTransportOptions = {}) {}

  connect(url: string, handlers: TransportHandlers): Promise<TransportConnection> {
    return new Promise((resolve, reject) => {
      let socket: WebSocket;
      try {
        socket = new WebSocket(url, {
          perMessageDeflate: false,
          maxPayload: this.options.maxPayload ?? DEFAULT_MAX_PAYLOAD,
          handshakeTimeout: this.options.connectTimeoutMs ?? 5_000,
        });
      } catch (error) {
        reject(new CarboncpError(ErrorCode.INVALID_ARGUMENT, `invalid server URL '${url}': ${(error as Error).message}`, { cause: error }));
        return;
      }
      socket.binaryType = 'nodebuffer';
      let opened = false;
      socket.on('open', () => {
        opened = true;
        // Frames are small and latency-bound: send each at once.
        (socket as unknown as { _socket?: { setNoDelay?: (on: boolean) => void } })._socket?.setNoDelay?.(true);
        resolve({
          send: (bytes) => socket.send(bytes, { binary: true }),
          sendParts: (parts) => sendFrameParts(socket, parts),
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
        // A Buffer may sit at any offset of a pooled ArrayBuffer: the protocol decoder copies
        // before making typed views, so the view is passed as is.
        const bytes = Array.isArray(data) ? Buffer.concat(data) : data instanceof ArrayBuffer ? new Uint8Array(data) : data;
        try {
          handlers.message(bytes);
        } catch (error) {
          // Thrown inside ws's socket event: it would be an uncaught exception, ending the app.
          failure = `the client failed handling a message: ${(error as Error)?.message ?? String(error)}`;
          socket.close(CloseCode.INTERNAL_ERROR, 'client error');
        }
      });
      socket.on('error', (error: Error & { code?: string }) => {
        if (!opened) {
          reject(new CarboncpError(ErrorCode.CONNECTION_LOST, `cannot connect to ${url}: ${error.message}`, { cause: error }));
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
