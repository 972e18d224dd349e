// The browser transport over a scripted WebSocket: the close codes a page may send, reasons cut
// to what a browser accepts, maxPayload per message, connect failures.
import { CloseCode } from '@carboncp/protocol';
import { describe, expect, it, vi } from 'vitest';
import { BrowserWebSocketTransport, browserCloseCode, closeReason } from './websocket-transport.js';

/** A WebSocket that refuses what a browser refuses, driven by the test. */
class ScriptedSocket {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static last: ScriptedSocket;
  readyState = ScriptedSocket.CONNECTING;
  binaryType = 'blob';
  closed: { code?: number; reason?: string } | undefined;
  sent: Uint8Array[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  constructor(readonly url: string) {
    ScriptedSocket.last = this;
  }
  send(bytes: Uint8Array) {
    this.sent.push(bytes);
  }
  close(code?: number, reason = '') {
    if (code !== undefined && code !== 1000 && (code < 3000 || code > 4999)) throw new DOMException(`code ${code} is neither 1000 nor 3000-4999`, 'InvalidAccessError');
    if (new TextEncoder().encode(reason).length > 123) throw new DOMException('reason longer than 123 bytes', 'SyntaxError');
    this.closed = { code, reason };
    this.readyState = 3;
  }
  open() {
    this.readyState = ScriptedSocket.OPEN;
    this.onopen?.();
  }
}

const transport = (options: { maxPayload?: number; connectTimeoutMs?: number } = {}) =>
  new BrowserWebSocketTransport({ ...options, WebSocket: ScriptedSocket as unknown as typeof WebSocket });

async function connected(options: { maxPayload?: number } = {}) {
  const events: { messages: Uint8Array[]; closes: [number, string][] } = { messages: [], closes: [] };
  const pending = transport(options).connect('ws://server', {
    message: (bytes) => events.messages.push(bytes as Uint8Array),
    close: (code, reason) => events.closes.push([code, reason]),
  });
  const socket = ScriptedSocket.last;
  socket.open();
  return { connection: await pending, socket, events };
}

describe('BrowserWebSocketTransport', () => {
  it('knows the codes a page may close with', () => {
    expect([undefined, 1000, 3000, 4999].map(browserCloseCode)).toEqual([true, true, true, true]);
    expect([1001, 1002, 1008, 1009, 1011, 2999, 5000].map(browserCloseCode)).toEqual(Array(7).fill(false));
  });

  it('closes with 1000 and the protocol code in the reason where a browser refuses the code', async () => {
    const { connection, socket } = await connected();
    connection.close(CloseCode.PROTOCOL_ERROR, 'CARBONCP_BAD_FRAME');
    expect(socket.closed).toEqual({ code: 1000, reason: '1002: CARBONCP_BAD_FRAME' });
  });

  it('passes allowed codes through, and cuts a long reason to 123 bytes', async () => {
    const { connection, socket } = await connected();
    connection.close(4001, 'é'.repeat(100));
    expect(socket.closed?.code).toBe(4001);
    expect(new TextEncoder().encode(socket.closed!.reason!).length).toBeLessThanOrEqual(123);
    expect(socket.closed!.reason!.endsWith('...')).toBe(true);
    expect(closeReason('short')).toBe('short');
  });

  it('delivers binary messages as bytes and closes (1000, "1009: ...") on one over maxPayload', async () => {
    const { socket, events } = await connected({ maxPayload: 8 });
    socket.onmessage?.({ data: new Uint8Array([1, 2, 3]).buffer });
    socket.onmessage?.({ data: 'text is ignored' });
    expect(events.messages).toEqual([new Uint8Array([1, 2, 3])]);
    socket.onmessage?.({ data: new ArrayBuffer(9) });
    expect(socket.closed).toEqual({ code: 1000, reason: '1009: message too big' });
    socket.onclose?.({ code: 1000, reason: socket.closed!.reason! });
    expect(events.closes[0][1]).toContain("larger than this client's maxPayload of 8 bytes");
  });

  it('rejects when the socket closes before opening, and when it does not open in time', async () => {
    const refused = transport().connect('ws://server', { message: () => {}, close: () => {} });
    ScriptedSocket.last.onclose?.({ code: 1006, reason: '' });
    await expect(refused).rejects.toMatchObject({ code: 'CARBONCP_CONNECTION_LOST' });
    vi.useFakeTimers();
    try {
      const silent = transport({ connectTimeoutMs: 50 }).connect('ws://server', { message: () => {}, close: () => {} });
      const outcome = expect(silent).rejects.toThrow(/no answer within 50 ms/);
      await vi.advanceTimersByTimeAsync(50);
      await outcome;
      expect(ScriptedSocket.last.closed).toEqual({ code: undefined, reason: '' });
    } finally {
      vi.useRealTimers();
    }
  });
});
