import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import type { RequestTelemetry } from '../client/types.js';

/**
 * Appends each request's telemetry to a JSON Lines file: one object per line, `at` (ms since the
 * epoch, when it was written) first, then the telemetry's fields as they are. `carboncp
 * calibrate --data FILE.jsonl` reads it (nested fields as dotted columns, e.g. footprint.totalCarbonG),
 * and so can any tool that reads JSON Lines.
 *
 * Writing never waits on the disk: a line is handed to the stream, and while the stream holds
 * more than `maxBufferedBytes` unwritten, lines are dropped and counted (`dropped`), so a slow
 * disk cannot grow the app's memory without bound.
 */
export class TelemetryLog {
  private readonly stream: WriteStream;
  private droppedLines = 0;
  private writtenLines = 0;
  private failure: Error | undefined;

  private constructor(stream: WriteStream, private readonly maxBufferedBytes: number, private readonly now: () => number) {
    this.stream = stream;
    stream.on('error', (error) => {
      this.failure = error;
    });
  }

  /** Opens (creating or appending to) the file; CARBONCP_IO when it cannot be opened. */
  static async open(path: string, options: { maxBufferedBytes?: number; now?: () => number } = {}): Promise<TelemetryLog> {
    const stream = createWriteStream(path, { flags: 'a' });
    try {
      await once(stream, 'open');
    } catch (cause) {
      throw new CarboncpError(ErrorCode.IO, `cannot open the telemetry log ${path}: ${(cause as Error).message}`, { cause });
    }
    return new TelemetryLog(stream, options.maxBufferedBytes ?? 1 << 20, options.now ?? Date.now);
  }

  /** Lines written (handed to the stream) and dropped so far. */
  get written(): number {
    return this.writtenLines;
  }

  get dropped(): number {
    return this.droppedLines;
  }

  /** Appends one record; false when it was dropped (the stream is backed up or failed). */
  write(telemetry: RequestTelemetry | Record<string, unknown>): boolean {
    if (this.failure || this.stream.writableLength > this.maxBufferedBytes || this.stream.writableEnded) {
      this.droppedLines += 1;
      return false;
    }
    this.stream.write(`${JSON.stringify({ at: this.now(), ...telemetry })}\n`);
    this.writtenLines += 1;
    return true;
  }

  /** Flushes and closes; rejects with CARBONCP_IO if a write failed. */
  async close(): Promise<void> {
    if (!this.stream.writableEnded) {
      this.stream.end();
      await once(this.stream, 'close').catch(() => undefined);
    }
    if (this.failure) throw new CarboncpError(ErrorCode.IO, `the telemetry log failed: ${this.failure.message}`, { cause: this.failure });
  }
}
