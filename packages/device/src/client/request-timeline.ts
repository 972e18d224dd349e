import type { Clock } from './clock.js';
import type { RequestTelemetry } from './types.js';

/**
 * Cuts one request's time on the device clock into consecutive spans, each credited to one
 * telemetry part, so that the parts tile totalMs: every span starts where the previous ended.
 */
export class RequestTimeline {
  private mark: number;

  constructor(
    private readonly clock: Clock,
    private readonly started: number,
    readonly telemetry: RequestTelemetry,
  ) {
    this.mark = started;
  }

  /** The span since the last mark was device time in no other part (checks, loads, hand-overs). */
  waited(): void {
    this.telemetry.waitMs += this.lap();
  }

  /** The span since the last mark ended with a run that computed `computeMs`; the rest of it was waiting. */
  ran(part: 'headMs' | 'tailLocalMs', computeMs: number): void {
    const span = this.lap();
    const compute = Math.min(span, Math.max(0, Number.isFinite(computeMs) ? computeMs : span));
    this.telemetry[part] += compute;
    this.telemetry.waitMs += span - compute;
  }

  /**
   * The span since the last mark was a round trip to the server (answered or not). The server's
   * own time is credited to serverMs (capped at the span: it cannot have taken longer than the
   * round trip the device saw) and the rest to transferMs.
   */
  roundTrip(server?: { serverMs: unknown; queueMs: unknown }): void {
    const span = this.lap();
    const serverMs = Math.min(span, nonNegative(server?.serverMs));
    this.telemetry.serverMs += serverMs;
    this.telemetry.queueMs += Math.min(serverMs, nonNegative(server?.queueMs));
    this.telemetry.transferMs += span - serverMs;
  }

  /** Closes the last span as waiting and sets totalMs. */
  finish(): RequestTelemetry {
    this.waited();
    this.telemetry.totalMs = this.mark - this.started;
    return this.telemetry;
  }

  private lap(): number {
    const now = this.clock.now();
    const span = Math.max(0, now - this.mark);
    this.mark = Math.max(this.mark, now);
    return span;
  }
}

function nonNegative(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : 0;
}
