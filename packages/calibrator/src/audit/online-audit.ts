import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import type { IntervalPredictor } from '../types.js';
import { numericCell, type TableRow } from './table.js';

export interface AuditOptions {
  target: string;
  features: readonly string[];
  /** Rows that only train and calibrate before the first interval is judged. */
  warmup: number;
  /** The method, built for `features.length` features. */
  method: IntervalPredictor;
}

export interface AuditInterval {
  /** 1-based index of the row among the file's data rows. */
  row: number;
  lower: number;
  upper: number;
  target: number;
}

export interface AuditSummary {
  method: string;
  alpha: number;
  /** Rows judged (after the warmup). */
  rows: number;
  /** Share of judged rows whose target fell inside its interval. */
  coverage: number;
  /** Mean of upper - lower over the judged rows with finite intervals (null when none was finite). */
  meanWidth: number | null;
  /** Judged rows whose interval was infinite (too few scores for alpha yet). */
  infinite: number;
  warmup: number;
  /** Rows left out: a target or feature missing or not a number. */
  skipped: number;
}

/**
 * Replays rows in time order as a deployment sees them: the first `warmup` usable rows are only
 * revealed (the method scores and learns), then each later row gets an interval before its
 * target is revealed, and is revealed after. Intervals are never built with their own target.
 */
export function auditOnline(rows: readonly TableRow[], options: AuditOptions): { summary: AuditSummary; intervals: AuditInterval[] } {
  if (!Number.isInteger(options.warmup) || options.warmup < 0) {
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `warmup must be a whole number of rows >= 0, got ${options.warmup}`);
  }
  const { method } = options;
  const intervals: AuditInterval[] = [];
  let seen = 0;
  let skipped = 0;
  let covered = 0;
  let widthSum = 0;
  let finite = 0;
  rows.forEach((row, i) => {
    const y = numericCell(row, options.target);
    const x = options.features.map((f) => numericCell(row, f));
    if (y === undefined || x.some((v) => v === undefined)) {
      skipped += 1;
      return;
    }
    const features = x as number[];
    if (seen >= options.warmup) {
      const p = method.predict(features);
      intervals.push({ row: i + 1, lower: p.lower, upper: p.upper, target: y });
      if (y >= p.lower && y <= p.upper) covered += 1;
      if (Number.isFinite(p.upper - p.lower)) {
        widthSum += p.upper - p.lower;
        finite += 1;
      }
    }
    method.observe(features, y);
    seen += 1;
  });
  const judged = intervals.length;
  return {
    intervals,
    summary: {
      method: method.method,
      alpha: method.alpha,
      rows: judged,
      coverage: judged ? covered / judged : Number.NaN,
      meanWidth: finite ? widthSum / finite : null,
      infinite: judged - finite,
      warmup: Math.min(options.warmup, seen),
      skipped,
    },
  };
}
