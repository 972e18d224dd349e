import {
  CarboncpError,
  CloseCode,
  ErrorCode,
  MessageType,
  PROTOCOL_VERSION,
  concatParts,
  decodeFrameFragments,
  encodeFrame,
  type HelloAckMessage,
  type HelloMessage,
  type Message,
} from '@carboncp/protocol';
import { Backoff } from './backoff.js';
import type { Clock, ClockTimer } from './clock.js';
import { Keepalive } from './keepalive.js';
import { PingTracker, type PongReceipt } from './ping-tracker.js';
import type { ConnectionState, ReconnectOptions, Transport, TransportConnection } from './types.js';

export interface ConnectionOptions {
  url: string;
  transport: Transport;
  hello: () => HelloMessage;
  reconnect: ReconnectOptions;
  handshakeTimeoutMs: number;
  maxPayload: number;
  /** Ping after this long without a frame from the server, and once as the connection opens; 0: never. */
  keepaliveMs: number;
  /** A keepalive ping unanswered this long marks the connection dead. */
  keepaliveTimeoutMs: number;
  /** Every timer and timestamp of the connection. */
  clock: Clock;
  /** A handshake completed: the server's answer, to decide which plans are usable remotely. */
  onOpen(ack: HelloAckMessage): void;
  /** A request-level frame (InferResponse, or Error with a request id). */
  onMessage(message: Message, frameBytes: number): void;
  /** An open connection went away; everything in flight on it is lost. */
  onDown(error: CarboncpError): void;
  /** A pong answered one of our pings (keepalive or ping()). */
  onPong?(receipt: PongReceipt): void;
}

// Errors that retrying cannot fix: the first attempt reports them to createClient instead.
const FATAL_CODES: ReadonlySet<string> = new Set([ErrorCode.UNAUTHORIZED, ErrorCode.UNSUPPORTED_VERSION]);

/**
 * One logical connection to the server that survives drops: it performs the hello handshake,
 * hands request-level frames to the client, and reconnects with capped, jittered backoff until
 * closed. Events of a superseded socket are ignored (each attempt has its own generation). While
 * open, a keepalive pings an idle server and treats an unanswered ping as a dropped connection.
 */
export class Connection {
  state: ConnectionState = 'connecting';
  lastError: CarboncpError | undefined;
  private socket: TransportConnection | undefined;
  private generation = 0;
  private timer: ClockTimer | undefined;
  private readonly backoff: Backoff;
  /** ready() calls waiting: opened() on the hello answer, failed() when the client closes. */
  private readonly waiters = new Set<{ opened: () => void; failed: (error: CarboncpError) => void }>();
  private readonly pings: PingTracker;
  private readonly keepalive: Keepalive;
  private closed = false;

  constructor(private readonly options: ConnectionOptions) {
    this.backoff = new Backoff(options.reconnect);
    this.pings = new PingTracker(options.clock);
    this.keepalive = new Keepalive({
      clock: options.clock,
      idleMs: options.keepaliveMs,
      timeoutMs: options.keepaliveTimeoutMs,
      ping: (timeoutMs) => this.ping(timeoutMs),
    });
  }

  /** First attempt. Resolves when it settles either way (the device works offline), rejects only on a fatal answer. */
  async start(): Promise<void> {
    const outcome = await this.attempt();
    if (outcome && FATAL_CODES.has(outcome.code)) {
      this.close();
      throw outcome;
    }
  }

  /**
   * Sends a frame, whole or as encodeFrameParts' parts (one message either way), if the
   * connection is open; false otherwise.
   */
  send(frame: Uint8Array | readonly Uint8Array[]): boolean {
    if (this.state !== 'open' || !this.socket) return false;
    try {
      if (!Array.isArray(frame)) this.socket.send(frame as Uint8Array);
      else if (this.socket.sendParts) this.socket.sendParts(frame);
      else this.socket.send(concatParts(frame));
      return true;
    } catch (error) {
      this.lastError = new CarboncpError(ErrorCode.CONNECTION_LOST, `sending to ${this.options.url} failed`, {
        cause: error,
      });
      return false;
    }
  }

  /**
   * Sends a Ping and resolves with the Pong; rejects with CARBONCP_CONNECTION_LOST when not
   * connected (or the connection drops first), CARBONCP_TIMEOUT when no pong comes in timeoutMs.
   */
  ping(timeoutMs: number, padBytes = 0): Promise<PongReceipt> {
    const notConnected = () =>
      new CarboncpError(
        ErrorCode.CONNECTION_LOST,
        `cannot ping ${this.options.url}: not connected` + (this.lastError ? ` (${this.lastError.code}: ${this.lastError.message})` : ''),
      );
    if (this.state !== 'open') return Promise.reject(notConnected());
    return this.pings.ping((frame) => this.send(frame), timeoutMs, notConnected, padBytes);
  }

  /** Resolves once the connection is open; rejects with CARBONCP_NOT_READY after timeoutMs. */
  ready(timeoutMs: number): Promise<void> {
    if (this.state === 'open') return Promise.resolve();
    if (this.closed) return Promise.reject(new CarboncpError(ErrorCode.SHUTTING_DOWN, 'ready() called on a closed client'));
    return new Promise((resolve, reject) => {
      const waiter = {
        opened: () => {
          this.options.clock.clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve();
        },
        failed: (error: CarboncpError) => {
          this.options.clock.clearTimeout(timer);
          this.waiters.delete(waiter);
          reject(error);
        },
      };
      const timer = this.options.clock.setTimeout(() => {
        this.waiters.delete(waiter);
        reject(
          new CarboncpError(
            ErrorCode.NOT_READY,
            `no connection to ${this.options.url} within ${timeoutMs} ms` +
              (this.lastError ? ` (last error: ${this.lastError.code}: ${this.lastError.message})` : ''),
          ),
        );
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  close(): void {
    this.closed = true;
    this.state = 'closed';
    this.options.clock.clearTimeout(this.timer);
    this.keepalive.stop();
    this.pings.failAll(new CarboncpError(ErrorCode.SHUTTING_DOWN, 'the client was closed while the ping was in flight'));
    // A ready() still waiting would otherwise hold its timer (and the process) until it expires.
    const closedError = new CarboncpError(ErrorCode.SHUTTING_DOWN, 'the client was closed before it connected');
    for (const waiter of [...this.waiters]) waiter.failed(closedError);
    this.generation += 1;
    const socket = this.socket;
    this.socket = undefined;
    socket?.close(CloseCode.NORMAL, 'client closed');
  }

  /** One connect + handshake. Returns the error that ended it, or undefined once open. */
  private attempt(): Promise<CarboncpError | undefined> {
    const generation = ++this.generation;
    this.state = 'connecting';
    return new Promise((resolve) => {
      let handshaking = true;
      let settled = false;
      const settle = (error: CarboncpError | undefined) => {
        if (settled) return;
        settled = true;
        this.options.clock.clearTimeout(handshakeTimer);
        resolve(error);
      };
      const current = () => generation === this.generation && !this.closed;
      const fail = (error: CarboncpError) => {
        this.lastError = error;
        settle(error);
      };
      const handshakeTimer = this.options.clock.setTimeout(() => {
        if (!current() || !handshaking) return;
        const error = new CarboncpError(
          ErrorCode.TIMEOUT,
          `server ${this.options.url} did not answer the hello within ${this.options.handshakeTimeoutMs} ms`,
        );
        this.lastError = error;
        this.socket?.close(CloseCode.NORMAL, 'handshake timeout');
        this.dropped(generation, false);
        settle(error);
      }, this.options.handshakeTimeoutMs);

      const onMessage = (bytes: Uint8Array | readonly Uint8Array[]) => {
        if (!current()) return;
        let message: Message;
        try {
          message = decodeFrameFragments(bytes, { maxPayload: this.options.maxPayload });
        } catch (error) {
          const reason = error instanceof CarboncpError ? error : new CarboncpError(ErrorCode.BAD_FRAME, String(error));
          this.lastError = reason;
          this.socket?.close(reason.closeCode ?? CloseCode.PROTOCOL_ERROR, reason.code);
          return;
        }
        if (handshaking) {
          if (message.type === MessageType.HelloAck) {
            handshaking = false;
            this.state = 'open';
            this.backoff.reset();
            this.lastError = undefined;
            this.options.onOpen(message.body);
            this.keepalive.start((error) => this.keepaliveExpired(generation, error));
            // One ping at once: without it a device whose requests all carry payloads has no RTT
            // (so no network estimate: uplink samples wait for one) and no server context until
            // the first keepalive, seconds later. An unanswered one is the keepalive's to judge.
            if (this.options.keepaliveMs > 0) this.ping(this.options.keepaliveTimeoutMs).catch(() => {});
            for (const waiter of [...this.waiters]) waiter.opened();
            settle(undefined);
          } else if (message.type === MessageType.Error) {
            fail(new CarboncpError(message.body.code, `server refused the connection: ${message.body.message}`));
            this.socket?.close(CloseCode.NORMAL, 'refused');
            this.dropped(generation, false);
          }
          return;
        }
        this.keepalive.frameReceived();
        if (message.type === MessageType.Pong) {
          const receipt = this.pings.onPong(message.requestId, message.body);
          if (receipt) this.options.onPong?.(receipt);
          return;
        }
        if (message.type === MessageType.Error && message.requestId === 0) {
          this.lastError = new CarboncpError(message.body.code, `server: ${message.body.message}`);
          return;
        }
        this.options.onMessage(message, bytes instanceof Uint8Array ? bytes.byteLength : bytes.reduce((n, b) => n + b.byteLength, 0));
      };

      const onClose = (code: number, reason: string) => {
        if (!current()) return;
        const wasOpen = !handshaking;
        if (handshaking) {
          const error =
            this.lastError && settled
              ? this.lastError
              : code === CloseCode.POLICY_VIOLATION
                ? new CarboncpError(ErrorCode.UNAUTHORIZED, `server ${this.options.url} closed the connection: ${reason || 'policy violation'} (${code})`)
                : new CarboncpError(ErrorCode.CONNECTION_LOST, `server ${this.options.url} closed the connection during the handshake (${code} ${reason})`);
          fail(error);
        } else {
          this.lastError = new CarboncpError(ErrorCode.CONNECTION_LOST, `connection to ${this.options.url} closed (${code}${reason ? ` ${reason}` : ''})`);
        }
        this.dropped(generation, wasOpen);
      };

      this.options.transport.connect(this.options.url, { message: onMessage, close: onClose }).then(
        (socket) => {
          if (!current()) {
            socket.close(CloseCode.NORMAL, 'superseded');
            return;
          }
          this.socket = socket;
          const hello: HelloMessage = { ...this.options.hello(), protocol_version: PROTOCOL_VERSION };
          try {
            socket.send(encodeFrame({ type: MessageType.Hello, requestId: 0, body: hello }));
          } catch (error) {
            fail(new CarboncpError(ErrorCode.CONNECTION_LOST, `sending the hello to ${this.options.url} failed`, { cause: error }));
            socket.close(CloseCode.NORMAL, 'hello failed');
            this.dropped(generation, false);
          }
        },
        (error: unknown) => {
          if (!current()) return;
          fail(
            error instanceof CarboncpError
              ? error
              : new CarboncpError(ErrorCode.CONNECTION_LOST, `cannot connect to ${this.options.url}: ${(error as Error)?.message ?? String(error)}`, { cause: error }),
          );
          this.dropped(generation, false);
        },
      );
    });
  }

  /**
   * The server left a keepalive ping unanswered: the connection counts as dropped (requests in
   * flight fail over, reconnect with backoff) and the socket is torn down without waiting for a
   * closing handshake a dead peer would never complete.
   */
  private keepaliveExpired(generation: number, cause: CarboncpError): void {
    if (generation !== this.generation || this.closed || this.state !== 'open') return;
    this.lastError = new CarboncpError(
      ErrorCode.CONNECTION_LOST,
      `server ${this.options.url} did not answer a keepalive ping within ${this.options.keepaliveTimeoutMs} ms ` +
        `(${cause.code}); the connection is taken as dead`,
      { cause },
    );
    const socket = this.socket;
    this.dropped(generation, true);
    if (socket?.terminate) socket.terminate();
    else socket?.close(CloseCode.NORMAL, 'keepalive timeout');
  }

  private dropped(generation: number, wasOpen: boolean): void {
    if (generation !== this.generation || this.closed) return;
    this.generation += 1; // later events of this socket are stale
    this.socket = undefined;
    this.state = 'connecting';
    this.keepalive.stop();
    if (wasOpen) {
      const error = this.lastError ?? new CarboncpError(ErrorCode.CONNECTION_LOST, `connection to ${this.options.url} lost`);
      this.pings.failAll(error);
      this.options.onDown(error);
    }
    const delay = this.backoff.next();
    this.options.clock.clearTimeout(this.timer);
    // A reconnect timer alone must not keep a Node process alive.
    this.timer = this.options.clock.setTimeout(
      () => {
        if (!this.closed) void this.attempt();
      },
      delay,
      { unref: true },
    );
  }
}
