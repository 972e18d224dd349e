import { CarboncpError, MessageType, encodeFrame, type PingMessage, type PongMessage } from '@carboncp/protocol';
import { systemClock, type Clock } from './clock.js';
import { RequestTable } from './request-table.js';

/** A pong matched to its ping. */
export interface PongReceipt {
  pong: PongMessage;
  /** Ping sent to pong received, on the device's monotonic clock. */
  rttMs: number;
  /** When the pong arrived, ms since the epoch (the clock's epochMs()). */
  receivedAt: number;
  /** The ping frame's size in bytes (a network probe pads it). */
  bytesUp: number;
}

/**
 * Pings in flight on one connection. A pong is matched by its frame's request id, as the protocol
 * says; a pong with request id 0 (a server that answers pings as connection-level messages) is
 * matched by the echoed `t`, which is unique among the pings in flight. Every ping settles once:
 * by its pong, its timeout (CARBONCP_TIMEOUT) or failAll.
 */
export class PingTracker {
  private readonly table: RequestTable<PongReceipt>;
  private readonly sent = new Map<number, { t: number; at: number; bytes: number }>();
  private lastT = 0;

  constructor(private readonly clock: Clock = systemClock) {
    this.table = new RequestTable<PongReceipt>({ label: 'ping', unrefTimers: true, clock });
  }

  get size(): number {
    return this.table.size;
  }

  /**
   * Sends a ping through `send` (false: not sent, and `notSent()` says why) and resolves with the
   * matching pong; rejects with a CarboncpError. `padBytes`: a `pad` string of that length rides
   * along (the protocol passes extra fields through; servers ignore it), for a network probe.
   */
  async ping(send: (frame: Uint8Array) => boolean, timeoutMs: number, notSent: () => CarboncpError, padBytes = 0): Promise<PongReceipt> {
    const { id, settled } = this.table.open(timeoutMs);
    const at = this.clock.now();
    // `t` is the send time, nudged so that no two pings in flight share it.
    const t = Math.max(at, this.lastT + 0.001);
    this.lastT = t;
    const body: PingMessage & { pad?: string } = padBytes > 0 ? { t, pad: 'x'.repeat(padBytes) } : { t };
    const frame = encodeFrame({ type: MessageType.Ping, requestId: id, body });
    this.sent.set(id, { t, at, bytes: frame.byteLength });
    if (!send(frame)) {
      this.table.finish(id, { ok: false, error: notSent() });
    }
    const outcome = await settled;
    this.sent.delete(id);
    if (!outcome.ok) throw outcome.error;
    return outcome.value;
  }

  /** Settles the ping a pong answers; returns the receipt, or undefined for a pong that matches no ping in flight. */
  onPong(requestId: number, pong: PongMessage): PongReceipt | undefined {
    const id = requestId !== 0 ? requestId : this.idOfT(pong.t);
    const ping = id === undefined ? undefined : this.sent.get(id);
    if (id === undefined || !ping) return undefined;
    const receipt: PongReceipt = { pong, rttMs: this.clock.now() - ping.at, receivedAt: this.clock.epochMs(), bytesUp: ping.bytes };
    return this.table.finish(id, { ok: true, value: receipt }) ? receipt : undefined;
  }

  /** Settles every ping in flight with `error` (the connection went away or was closed). */
  failAll(error: CarboncpError): void {
    this.table.failAll(error);
  }

  private idOfT(t: number): number | undefined {
    for (const [id, ping] of this.sent) if (ping.t === t) return id;
    return undefined;
  }
}
