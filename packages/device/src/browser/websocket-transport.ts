import { CarboncpError, CloseCode, DEFAULT_MAX_PAYLOAD, ErrorCode } from '@carboncp/protocol';
import type { Transport, TransportConnection, TransportHandlers } from '../client/types.js';

export interface BrowserWebSocketTransportOptions {
  /** Largest message accepted from the server, bytes; a larger one closes the connection. Default 64 MiB. */
  maxPayload?: number;
  /** Connect timeout, ms (the browser's WebSocket has none); default 5000. */
  connectTimeoutMs?: number;
  /** The WebSocket constructor; default globalThis.WebSocket (a page, a worker, an Electron renderer). */
  WebSocket?: typeof WebSocket;
}

/** The close codes a browser lets a page send (WebSocket.close() throws InvalidAccessError for others). */
export function browserCloseCode(code: number | undefined): boolean {
  return code === undefined || code === CloseCode.NORMAL || (code >= 3000 && code <= 4999);
}

/** A close reason cut to the 123 UTF-8 bytes a browser accepts (a longer one throws SyntaxError). */
export function closeReason(reason: string): string {
  const encoder = new TextEncoder();
  if (encoder.encode(reason).length <= 123) return reason;
  let cut = reason;
  while (encoder.encode(cut).length > 120) cut = cut.slice(0, -1);
  return `${cut}...`;
}

/**
 * The browser transport: the page's own WebSocket, binary messages as ArrayBuffers. The client
 * closes with protocol codes such as 1002 or 1009 that ws sends but a browser refuses; those go
 * out as 1000 with the code at the head of the reason ("1002: ..."), so the server still learns
 * why. The browser's socket has no limit on what it receives; maxPayload is checked per message.
 */
export class BrowserWebSocketTransport implements Transport {
  constructor(private readonly options: BrowserWebSocketTransportOptions = {}) {}

  connect(url: string, handlers: TransportHandlers): Promise<TransportConnection> {
    const Socket = this.options.WebSocket ?? (globalThis as { WebSocket?: typeof WebSocket }).WebSocket;
    if (!Socket) return Promise.reject(new CarboncpError(ErrorCode.INVALID_ARGUMENT, 'this environment has no WebSocket (pass options.WebSocket)'));
    const maxPayload = this.options.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    return new Promise((resolve, reject) => {
      let socket: WebSocket;
      try {
        socket = new Socket(url);
      } catch (error) {
        reject(new CarboncpError(ErrorCode.INVALID_ARGUMENT, `invalid server URL '${url}': ${(error as Error).message}`, { cause: error }));
        return;
      }
      socket.binaryType = 'arraybuffer';
      let opened = false;
      let failure: string | undefined;
      const close = (code?: number, reason = '') => {
        if (socket.readyState !== Socket.OPEN && socket.readyState !== Socket.CONNECTING) return;
        if (browserCloseCode(code)) socket.close(code, closeReason(reason));
        else socket.close(CloseCode.NORMAL, closeReason(`${code}: ${reason}`));
      };
      const timer = setTimeout(() => {
        if (opened) return;
        socket.close();
        reject(new CarboncpError(ErrorCode.CONNECTION_LOST, `cannot connect to ${url}: no answer within ${this.options.connectTimeoutMs ?? 5_000} ms`));
      }, this.options.connectTimeoutMs ?? 5_000);
      socket.onopen = () => {
        opened = true;
        clearTimeout(timer);
        resolve({ send: (bytes) => socket.send(bytes as Uint8Array<ArrayBuffer>), close, terminate: () => close(CloseCode.NORMAL, 'terminated') });
      };
      socket.onmessage = (event: MessageEvent) => {
        if (!(event.data instanceof ArrayBuffer)) return;
        if (event.data.byteLength > maxPayload) {
          failure = `the server sent a message larger than this client's maxPayload of ${maxPayload} bytes`;
          close(CloseCode.MESSAGE_TOO_BIG, 'message too big');
          return;
        }
        try {
          handlers.message(new Uint8Array(event.data));
        } catch (error) {
          failure = `the client failed handling a message: ${(error as Error)?.message ?? String(error)}`;
          close(CloseCode.INTERNAL_ERROR, 'client error');
        }
      };
      socket.onclose = (event: CloseEvent) => {
        clearTimeout(timer);
        if (opened) handlers.close(event.code, [event.reason, failure].filter(Boolean).join('; '));
        else reject(new CarboncpError(ErrorCode.CONNECTION_LOST, `connection to ${url} closed before it opened (${event.code})`));
      };
    });
  }
}
