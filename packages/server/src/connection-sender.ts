/**
 * The sending side of one WebSocket client: encodes messages into frame parts, refuses to grow
 * the backlog of a client that does not read its answers, and counts what goes out.
 */
import { ErrorCode, MessageType, encodeFrameParts, sendFrameParts, type CorkableStream, type Message } from '@carboncp/protocol';
import type { WebSocket } from 'ws';
import type { ServerMetrics } from './metrics.js';

export interface SenderContext {
  maxBufferedBytes: number;
  metrics: ServerMetrics;
  log: (line: string) => void;
}

export class FrameSender {
  constructor(
    private readonly ws: WebSocket,
    private readonly ctx: SenderContext,
    private readonly remote: string,
    /** Called when the connection is dropped for its backlog. */
    private readonly drop: () => void,
  ) {}

  /**
   * Sends a message unless the connection is gone or its unread backlog is over the limit (then
   * the connection is dropped). A message that cannot be encoded (a tail output the wire cannot
   * carry) is answered with CARBONCP_INTERNAL under its request id instead.
   */
  send(message: Message): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    // Checked before sending, so that one answer of any size always goes out: only a backlog
    // the client left unread counts against it.
    const backlog = this.ws.bufferedAmount;
    if (backlog > this.ctx.maxBufferedBytes) {
      this.ctx.metrics.errors.inc({ code: ErrorCode.BUSY });
      this.ctx.log(
        `connection ${this.remote}: the client does not read its answers: ${backlog} bytes wait to be sent, over max-buffered-bytes ` +
          `${this.ctx.maxBufferedBytes}; dropping the connection`,
      );
      this.drop();
      return;
    }
    let parts: Uint8Array[];
    try {
      // Parts, not one buffer: tail outputs go out without being copied into a frame.
      parts = encodeFrameParts(message);
    } catch (error) {
      if (message.type === MessageType.Error) {
        this.ctx.log(`connection ${this.remote}: an error frame could not be encoded: ${(error as Error).message}`);
        return;
      }
      // Only a tail output the wire cannot carry gets here; the client still needs an answer.
      this.sendError(message.requestId, ErrorCode.INTERNAL, `the response could not be encoded: ${(error as Error).message}`);
      return;
    }
    this.ctx.metrics.bytesSent.inc(parts.reduce((sum, part) => sum + part.byteLength, 0));
    // Corked, the fragments leave in one write (ws 8 keeps the net.Socket in _socket).
    sendFrameParts(this.ws, parts, (this.ws as unknown as { _socket?: CorkableStream })._socket);
  }

  /** An error frame; request id 0 is a connection-level error (no request_id in the body). */
  sendError(requestId: number, code: string, message: string): void {
    this.ctx.metrics.errors.inc({ code });
    this.send({
      type: MessageType.Error,
      requestId,
      body: { code, message, ...(requestId === 0 ? {} : { request_id: requestId }) },
    });
  }
}
