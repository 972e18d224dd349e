import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import type { Features } from '../types.js';
import { checkWindow } from './score-window.js';

/**
 * The last `capacity` calibration scores with the context x each was scored at and a weight
 * per score, kept in arrival order (a ring of slots) and sorted by score (slot indices), so
 * that a weighted quantile is one pass over the prefix sums after any change and a binary
 * search after none. An add is a binary search and a splice: O(capacity), no re-sort.
 */
export class WeightedScoreWindow {
  private readonly scores: Float64Array;
  private readonly weights: Float64Array;
  private contexts: Float64Array = new Float64Array(0);
  private dims = -1;
  /** Slots in ascending order of score. */
  private readonly order: number[] = [];
  private next = 0;
  /** Cumulative weights along `order`; stale while `dirty`. */
  private readonly prefix: Float64Array;
  private sumSquares = 0;
  private dirty = true;

  constructor(readonly capacity: number) {
    checkWindow(capacity);
    this.scores = new Float64Array(capacity);
    this.weights = new Float64Array(capacity);
    this.prefix = new Float64Array(capacity);
  }

  get size(): number {
    return this.order.length;
  }

  /** The feature count, fixed by the first context (-1 before). */
  get dimensions(): number {
    return this.dims;
  }

  add(score: number, x: Features, weight: number): void {
    if (Number.isNaN(score)) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, 'a conformal score must not be NaN');
    this.fixDimensions(x);
    const slot = this.next;
    if (this.order.length === this.capacity) this.order.splice(this.positionOf(slot), 1);
    this.scores[slot] = score;
    this.weights[slot] = weight;
    this.contexts.set(x, slot * this.dims);
    this.order.splice(this.firstAbove(score), 0, slot);
    this.next = (slot + 1) % this.capacity;
    this.dirty = true;
  }

  /** Reweighs every score: weightOf(x) for its context. */
  reweigh(weightOf: (contexts: Float64Array, offset: number) => number): void {
    for (const slot of this.order) this.weights[slot] = weightOf(this.contexts, slot * this.dims);
    this.dirty = true;
  }

  /** The contexts, row-major, `size` rows (slot order). */
  contextRows(): Float64Array {
    return this.contexts.subarray(0, this.order.length * Math.max(this.dims, 0));
  }

  /** Sum of the weights. */
  totalWeight(): number {
    this.refresh();
    return this.order.length === 0 ? 0 : this.prefix[this.order.length - 1]!;
  }

  /** Kish's effective sample size (sum w)^2 / sum w^2: n for equal weights, 1 when one score holds all. */
  effectiveSampleSize(): number {
    const total = this.totalWeight();
    return this.sumSquares > 0 ? (total * total) / this.sumSquares : 0;
  }

  /**
   * The weighted conformal quantile (Tibshirani et al. 2019): the 1 - alpha quantile of the
   * distribution with mass w_i / (W + w_test) on each score and w_test / (W + w_test) on
   * +Infinity, W the sum of the window's weights. With equal weights it is the
   * ceil((n + 1)(1 - alpha))-th smallest score, as in split conformal.
   */
  quantile(alpha: number, testWeight: number): number {
    const n = this.order.length;
    const total = this.totalWeight() + testWeight;
    if (n === 0 || !(total > 0)) return Number.POSITIVE_INFINITY;
    // The tolerance, relative to the mean weight, matches conformalRank's for equal weights.
    const threshold = (1 - alpha) * total - 1e-9 * (total / (n + 1));
    if (this.prefix[n - 1]! < threshold) return Number.POSITIVE_INFINITY;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.prefix[mid]! < threshold) lo = mid + 1;
      else hi = mid;
    }
    return this.scores[this.order[lo]!]!;
  }

  /** Scores with their contexts, oldest first. */
  entries(): { score: number; x: number[] }[] {
    const out: { score: number; x: number[] }[] = [];
    const n = this.order.length;
    const start = n < this.capacity ? 0 : this.next;
    for (let k = 0; k < n; k += 1) {
      const slot = (start + k) % this.capacity;
      out.push({ score: this.scores[slot]!, x: Array.from(this.contexts.subarray(slot * this.dims, (slot + 1) * this.dims)) });
    }
    return out;
  }

  private refresh(): void {
    if (!this.dirty) return;
    let running = 0;
    let squares = 0;
    for (let k = 0; k < this.order.length; k += 1) {
      const w = this.weights[this.order[k]!]!;
      running += w;
      squares += w * w;
      this.prefix[k] = running;
    }
    this.sumSquares = squares;
    this.dirty = false;
  }

  private fixDimensions(x: Features): void {
    if (this.dims < 0) {
      this.dims = x.length;
      this.contexts = new Float64Array(this.capacity * this.dims);
    } else if (x.length !== this.dims) {
      throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `expected ${this.dims} features, got ${x.length}`);
    }
  }

  /** First position in `order` whose score is > score. */
  private firstAbove(score: number): number {
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.scores[this.order[mid]!]! <= score) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Position of a slot in `order`: the first of its score's run, then along the ties. */
  private positionOf(slot: number): number {
    const score = this.scores[slot]!;
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.scores[this.order[mid]!]! < score) lo = mid + 1;
      else hi = mid;
    }
    while (this.order[lo] !== slot) lo += 1;
    return lo;
  }
}
