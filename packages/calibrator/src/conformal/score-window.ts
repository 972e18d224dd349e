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

/** Slots a window starts with: a window that never fills (a cold candidate's) stays small. */
const INITIAL_SLOTS = 16;

/**
 * The last `capacity` calibration scores, kept both in arrival order (to forget the oldest) and
 * sorted (to read any quantile in O(1)). The arrival order is a ring and the sorted copy a
 * sorted prefix, both of doubles, grown by doubling up to `capacity` and never past it: 16
 * bytes per score when full. Once full, an update forgets the oldest and inserts the new score
 * in one move of the scores between their two places (a third of the window on average),
 * where a splice out and a splice in would move two tails.
 */
export class ScoreWindow {
  /** Arrival order: `count` scores from `head` (0 until the window is full), wrapping. */
  private ring: Float64Array;
  private head = 0;
  /** The same scores, ascending, in [0, count). */
  private sorted: Float64Array;
  private count = 0;

  constructor(readonly capacity: number) {
    checkWindow(capacity);
    const slots = Math.min(capacity, INITIAL_SLOTS);
    this.ring = new Float64Array(slots);
    this.sorted = new Float64Array(slots);
  }

  get size(): number {
    return this.count;
  }

  add(score: number): void {
    if (Number.isNaN(score)) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, 'a conformal score must not be NaN');
    const n = this.count;
    const sorted = this.sorted;
    if (n === this.capacity) {
      const oldest = this.ring[this.head]!;
      this.ring[this.head] = score;
      this.head = this.head + 1 === n ? 0 : this.head + 1;
      // Removing the oldest (its first copy) and inserting after equal scores, as two splices
      // would, but moving only what lies between the two places.
      const out = lowerBoundIn(sorted, n, oldest);
      const at = upperBoundIn(sorted, n, score);
      if (at <= out) {
        sorted.copyWithin(at + 1, at, out);
        sorted[at] = score;
      } else {
        sorted.copyWithin(out, out + 1, at);
        sorted[at - 1] = score;
      }
      return;
    }
    if (n === sorted.length) this.grow(Math.min(this.capacity, 2 * n));
    this.ring[n] = score;
    const at = upperBoundIn(this.sorted, n, score);
    this.sorted.copyWithin(at + 1, at, n);
    this.sorted[at] = score;
    this.count = n + 1;
  }

  /** The k-th smallest score, 1-based; +Infinity above the window's size, -Infinity below 1. */
  kth(k: number): number {
    if (k > this.count) return Number.POSITIVE_INFINITY;
    if (k < 1) return Number.NEGATIVE_INFINITY;
    return this.sorted[k - 1]!;
  }

  /** The conformal quantile at miscoverage alpha (see conformalRank). */
  quantile(alpha: number): number {
    return this.kth(conformalRank(this.count, alpha));
  }

  /** How many scores are below x (strictly): x's rank among them, 0-based. */
  countBelow(x: number): number {
    return lowerBoundIn(this.sorted, this.count, x);
  }

  /** Scores in arrival order, oldest first (a copy). */
  values(): number[] {
    const n = this.count;
    const out = new Array<number>(n);
    for (let i = 0, j = this.head; i < n; i += 1) {
      out[i] = this.ring[j]!;
      j = j + 1 === n ? 0 : j + 1;
    }
    return out;
  }

  /** The scores, ascending (a copy). */
  sortedValues(): readonly number[] {
    return Array.from(this.sorted.subarray(0, this.count));
  }

  clear(): void {
    this.head = 0;
    this.count = 0;
  }

  /** Room for `slots` scores; only before the window is full, so the ring has not wrapped. */
  private grow(slots: number): void {
    const ring = new Float64Array(slots);
    ring.set(this.ring);
    this.ring = ring;
    const sorted = new Float64Array(slots);
    sorted.set(this.sorted);
    this.sorted = sorted;
  }
}

/** First index whose value is >= x. */
export function lowerBound(sorted: ArrayLike<number>, x: number): number {
  return lowerBoundIn(sorted, sorted.length, x);
}

/** First index whose value is > x. */
export function upperBound(sorted: ArrayLike<number>, x: number): number {
  return upperBoundIn(sorted, sorted.length, x);
}

/** lowerBound over the first n values. */
function lowerBoundIn(sorted: ArrayLike<number>, n: number, x: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** upperBound over the first n values. */
function upperBoundIn(sorted: ArrayLike<number>, n: number, x: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
