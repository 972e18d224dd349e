import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { systemClock, type Clock, type ClockTimer } from './clock.js';

export interface KeepaliveOptions {
  /** Ping after this long without a frame from the server; 0 disables keepalive. */
  idleMs: number;
  /** How long a keepalive ping may go unanswered before the connection counts as dead. */
  timeoutMs: number;
  /** Sends a ping; resolves on its pong, rejects (CarboncpError) on timeout or when it cannot be sent. */
  ping(timeoutMs: number): Promise<unknown>;
  /** Default the system clock. */
  clock?: Clock;
}

/**
 * Detects a server that went silent without closing the socket (a crashed host, a dead NAT
 * mapping, a cable pulled): TCP alone may take minutes to notice. While a connection is open,
 * whenever no frame has arrived for `idleMs`, it sends a ping; a ping that fails or goes
 * unanswered for `timeoutMs` reports the connection dead. Any frame counts as a sign of life, so
 * a busy connection is never pinged. Its one timer is unref'd: it never keeps a Node process
 * alive.
 */
export class Keepalive {
  private timer: ClockTimer | undefined;
  private readonly clock: Clock;
  private lastFrameAt = 0;
  // Bumped by start and stop: a ping outcome from an earlier connection is ignored.
  private session = 0;

  constructor(private readonly options: KeepaliveOptions) {
    this.clock = options.clock ?? systemClock;
  }

  /** A connection opened: watch it until stop(); `onDead` is called at most once. */
  start(onDead: (error: CarboncpError) => void): void {
    this.stop();
    if (this.options.idleMs <= 0) return;
    const session = this.session;
    this.lastFrameAt = this.clock.now();
    this.schedule(session, this.options.idleMs, onDead);
  }

  frameReceived(): void {
    this.lastFrameAt = this.clock.now();
  }

  stop(): void {
    this.session += 1;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(session: number, delayMs: number, onDead: (error: CarboncpError) => void): void {
    this.timer = this.clock.setTimeout(() => this.tick(session, onDead), delayMs, { unref: true });
  }

  private tick(session: number, onDead: (error: CarboncpError) => void): void {
    this.timer = undefined;
    if (session !== this.session) return;
    const idle = this.clock.now() - this.lastFrameAt;
    if (idle < this.options.idleMs) {
      this.schedule(session, this.options.idleMs - idle, onDead);
      return;
    }
    this.options.ping(this.options.timeoutMs).then(
      () => {
        if (session === this.session) this.schedule(session, this.options.idleMs, onDead);
      },
      (error: unknown) => {
        if (session !== this.session) return;
        this.stop();
        onDead(error instanceof CarboncpError ? error : new CarboncpError(ErrorCode.INTERNAL, String(error), { cause: error }));
      },
    );
  }
}
