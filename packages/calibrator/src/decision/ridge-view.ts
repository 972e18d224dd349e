import type { OnlineRidge } from '../predictors/online-ridge.js';
import type { Features, PointPredictor } from '../types.js';

/**
 * A metric's correction as its interval methods see it: the ridge's prediction, with no `update`
 * (the model trains the ridge once, after every method has scored the target), and the last
 * answer kept, since the model and then each method ask for the same features in turn. The
 * answer lives in a slot of a buffer the model owns, next to the candidate's other numbers, and
 * the model may fill it itself (prime) when it has computed the same sum from the same weights.
 */
export class RidgeView implements PointPredictor {
  private lastX: Features | undefined;

  constructor(
    readonly ridge: OnlineRidge,
    private readonly cache: Float64Array,
    private readonly slot: number,
  ) {}

  predict(x: Features): number {
    if (x !== this.lastX) {
      this.cache[this.slot] = this.ridge.predict(x);
      this.lastX = x;
    }
    return this.cache[this.slot]!;
  }

  /** The ridge's prediction for x, computed by the caller from the ridge's weights (the same sum in the same order). */
  prime(x: Features, y: number): void {
    this.cache[this.slot] = y;
    this.lastX = x;
  }

  train(x: Features, y: number): void {
    this.lastX = undefined;
    this.ridge.update(x, y);
  }
}
