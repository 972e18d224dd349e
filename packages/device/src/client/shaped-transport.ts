import { capacityAt, checkCapacityTrace, drainMs, type CapacityTrace } from '@carboncp/carbon';
import { concatParts } from '@carboncp/protocol';
import { systemClock, type Clock, type ClockTimer } from './clock.js';
import type { Transport, TransportConnection, TransportHandlers } from './types.js';

export interface ShapedTransportOptions {
  /** The uplink the device's messages squeeze through (device to server): parseNetworkTrace of @carboncp/carbon. */
  uplink: CapacityTrace;
  /** One-way propagation delay added to every message up (ms); default 0. */
  oneWayDelayMs?: number;
  clock?: Clock;
  /** Trace time at the transport's creation (ms into the trace); default 0. */
  offsetMs?: number;
}

/**
 * Wraps a transport so that the device's messages leave as if through a link whose capacity
 * follows a real trace (e.g. a Mahimahi cellular uplink): each message waits for the messages
 * before it, then for its bits to drain at the capacity of the bins it spans, then for the
 * one-way delay. Order is kept; nothing is dropped. Messages down are not shaped. For demos and
 * end-to-end tests of decisions under changing bandwidth, over a real socket on loopback.
 */
export class ShapedTransport implements Transport {
  private readonly clock: Clock;
  private readonly start: number;

  constructor(private readonly inner: Transport, private readonly options: ShapedTransportOptions) {
    this.uplink = checkCapacityTrace(options.uplink);
    this.clock = options.clock ?? systemClock;
    this.start = this.clock.now() - (options.offsetMs ?? 0);
  }

  private uplink: CapacityTrace;

  /** The trace's capacity now (bits/s). */
  capacityNow(): number {
    return capacityAt(this.uplink, this.clock.now() - this.start);
  }

  /** Replaces the trace from now on (messages already queued keep their departure times). */
  setUplink(trace: CapacityTrace): void {
    this.uplink = checkCapacityTrace(trace);
  }

  async connect(url: string, handlers: TransportHandlers): Promise<TransportConnection> {
    const connection = await this.inner.connect(url, handlers);
    const { clock, start, options } = this;
    const delay = options.oneWayDelayMs ?? 0;
    let linkFreeAt = clock.now();
    const timers = new Set<ClockTimer>();
    let closed = false;
    const later = (ms: number, send: () => void) => {
      const timer = clock.setTimeout(() => {
        timers.delete(timer);
        if (!closed) send();
      }, ms);
      timers.add(timer);
    };
    const shape = (bytes: number, send: () => void) => {
      const begin = Math.max(clock.now(), linkFreeAt);
      linkFreeAt = begin + drainMs(this.uplink, begin - start, bytes * 8);
      later(linkFreeAt + delay - clock.now(), send);
    };
    const stop = () => {
      closed = true;
      for (const t of timers) clock.clearTimeout(t);
      timers.clear();
    };
    return {
      send: (bytes) => {
        const copy = bytes.slice(); // the caller may reuse its buffer before the message leaves
        shape(copy.byteLength, () => connection.send(copy));
      },
      sendParts: (parts) => {
        const copies = parts.map((p) => p.slice());
        const size = copies.reduce((n, p) => n + p.byteLength, 0);
        shape(size, () => (connection.sendParts ? connection.sendParts(copies) : connection.send(concatParts(copies, size))));
      },
      close: (code, reason) => {
        stop();
        connection.close(code, reason);
      },
      terminate: () => {
        stop();
        (connection.terminate ?? connection.close).call(connection);
      },
    };
  }
}
