import { CarboncpError, ErrorCode } from '@carboncp/protocol';

/**
 * The conformal quantile rank: the ceil((n + 1)(1 - alpha))-th smallest of n scores (1-based)
 * bounds a new exchangeable score with probability >= 1 - alpha. A rank above n means no finite
 * bound exists yet (too few scores for this alpha), and the interval is infinite.
 */
export function conformalRank(n: number, alpha: number): number {
  // The epsilon keeps (n+1)(1-alpha) that is an integer in exact arithmetic (n = 9, alpha = 0.1)
  // from rounding up past it in floating point.
  return Math.ceil((n + 1) * (1 - alpha) - 1e-9);
}

/** Refuses alpha outside (0, 1) with CARBONCP_INVALID_ARGUMENT. */
export function checkAlpha(alpha: number): void {
  if (!(alpha > 0 && alpha < 1)) {
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `alpha must be in (0, 1), got ${alpha}`);
  }
}

/** Refuses a window size that is not an integer >= 1 with CARBONCP_INVALID_ARGUMENT. */
export function checkWindow(size: number): void {
  if (!Number.isInteger(size) || size < 1) {
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `a calibration window must hold at least 1 score, got ${size}`);
  }
}

/**
 * The last `capacity` calibration scores, kept both in arrival order (to forget the oldest) and
 * sorted (to read any quantile in O(1)). An update is one binary search and one splice per
 * insert or removal: no re-sort per observation.
 */
export class ScoreWindow {
  private readonly fifo: number[] = [];
  private head = 0;
  private readonly sorted: number[] = [];

  constructor(readonly capacity: number) {
    checkWindow(capacity);
  }

  get size(): number {
    return this.sorted.length;
  }

  add(score: number): void {
    if (Number.isNaN(score)) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, 'a conformal score must not be NaN');
    if (this.sorted.length === this.capacity) {
      const oldest = this.fifo[this.head]!;
      this.head += 1;
      this.sorted.splice(lowerBound(this.sorted, oldest), 1);
      // Compact the arrival queue now and then so it does not grow without bound.
      if (this.head >= this.capacity) {
        this.fifo.splice(0, this.head);
        this.head = 0;
      }
    }
    this.fifo.push(score);
    this.sorted.splice(upperBound(this.sorted, score), 0, score);
  }

  /** The k-th smallest score, 1-based; +Infinity above the window's size, -Infinity below 1. */
  kth(k: number): number {
    if (k > this.sorted.length) return Number.POSITIVE_INFINITY;
    if (k < 1) return Number.NEGATIVE_INFINITY;
    return this.sorted[k - 1]!;
  }

  /** The conformal quantile at miscoverage alpha (see conformalRank). */
  quantile(alpha: number): number {
    return this.kth(conformalRank(this.sorted.length, alpha));
  }

  /** Scores in arrival order, oldest first. */
  values(): number[] {
    return this.fifo.slice(this.head);
  }

  /** A sorted view (do not modify). */
  sortedValues(): readonly number[] {
    return this.sorted;
  }

  clear(): void {
    this.fifo.length = 0;
    this.head = 0;
    this.sorted.length = 0;
  }
}

/** First index whose value is >= x. */
export function lowerBound(sorted: readonly number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index whose value is > x. */
export function upperBound(sorted: readonly number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
