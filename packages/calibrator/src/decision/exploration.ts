import { mulberry32 } from '@carboncp/core';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import type { CandidateAssessment } from './decision-types.js';

export interface ExplorationOptions {
  /** Most share of decisions that explore, in (0, 1); 0 turns exploration off. Default 0.02. */
  rate?: number;
  /** A candidate is stale when it has not been observed for this many decisions. Default 200. */
  staleAfter?: number;
  /**
   * Whether candidates with too few calibration scores for a finite latency bound may be tried
   * (when their point prediction is within warmupMargin x SLO). Default true.
   */
  warmup?: boolean;
  /** Default 0.8. */
  warmupMargin?: number;
  /**
   * Only candidates whose objective point prediction is at most (1 + costMargin) x the best
   * candidate's are tried. Exploration then spends at most rate x costMargin of the objective
   * in expectation (0.5% at the defaults, where predictions hold), instead of rate x the worst
   * candidate's cost: on a phone whose LTE tail costs ~30x a local inference, an unbounded 2%
   * exploration cost ~50% more carbon in simulation. Candidates far from the best need no
   * refreshing: their structural prediction follows the context, and when the context brings
   * one near the best it becomes eligible. Infinity: no cost bound. Default 0.25.
   */
  costMargin?: number;
  /** Default 1. */
  seed?: number;
}

export const DEFAULT_EXPLORATION: Readonly<Required<ExplorationOptions>> = { rate: 0.02, staleAfter: 200, warmup: true, warmupMargin: 0.8, costMargin: 0.25, seed: 1 };

export interface ExplorerState {
  options: Required<ExplorationOptions>;
  decisions: number;
  explored: number;
  draws: number;
}

/** What the explorer needs of a candidate beyond its assessment. */
export interface Freshness {
  observations: number;
  lastObservedAt: number | null;
}

/**
 * Bounded exploration. A decision may explore only if a seeded coin with probability `rate`
 * says so and fewer than rate x decisions + 1 have explored so far (a hard cap, not only an
 * expectation). It then tries, instead of the best candidate, one that keeps every rule and
 *
 *  - 'refresh': meets the SLO by its own latency bound and is stale (not observed for
 *    staleAfter decisions). Its bound is the same conformal bound the choice is held to, so the
 *    chance that it misses the SLO is at most alpha, as for the best candidate: refreshing never
 *    raises the miss rate above alpha.
 *  - 'warmup': has no finite bound yet (too few scores for this alpha), and its point prediction
 *    is within warmupMargin x SLO. Nothing bounds its miss chance, so these requests may miss:
 *    at most `rate` of all requests, so the miss rate stays below alpha + rate. Build the methods
 *    at alpha - rate where alpha must hold exactly, or turn warm-up off.
 *
 * Either way only candidates whose predicted objective is within costMargin of the best's.
 * Among those it takes the least observed, then the longest unobserved. One coin is drawn per
 * decision that may explore, so a saved and restored explorer draws the same coins.
 */
export class Explorer {
  readonly options: Required<ExplorationOptions>;
  private random: () => number;
  decisions = 0;
  explored = 0;
  private draws = 0;

  constructor(options: ExplorationOptions = {}, state?: ExplorerState) {
    const o = { ...DEFAULT_EXPLORATION, ...(state?.options ?? {}), ...options };
    if (!(o.rate >= 0 && o.rate < 1)) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `exploration rate must be in [0, 1), got ${o.rate}`);
    if (!(Number.isInteger(o.staleAfter) && o.staleAfter >= 1)) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `staleAfter must be an integer >= 1, got ${o.staleAfter}`);
    if (!(o.warmupMargin > 0 && o.warmupMargin <= 1)) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `warmupMargin must be in (0, 1], got ${o.warmupMargin}`);
    if (!(o.costMargin >= 0)) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `costMargin must be >= 0 (Infinity: no bound), got ${o.costMargin}`);
    this.options = o;
    this.random = mulberry32(o.seed);
    if (state) {
      this.decisions = state.decisions;
      this.explored = state.explored;
      for (let i = 0; i < state.draws; i += 1) this.random();
      this.draws = state.draws;
    }
  }

  /** Counts a decision; call once per decide(), before consider(). */
  tick(): number {
    return this.decisions++;
  }

  /**
   * The candidate to explore instead of `exploit`, or undefined. `freshness[i]` belongs to
   * `assessments[i]`. In 'mean' mode bounds are points, so nothing there is ever thin.
   */
  consider(
    assessments: readonly CandidateAssessment[],
    freshness: readonly Freshness[],
    exploit: CandidateAssessment,
    sloMs: number,
  ): { index: number; kind: 'refresh' | 'warmup' } | undefined {
    const { rate, staleAfter, warmup, warmupMargin, costMargin } = this.options;
    if (rate === 0 || this.explored + 1 > rate * this.decisions + 1) return undefined;
    this.draws += 1;
    if (this.random() >= rate) return undefined;
    // A negative objective (none today) would flip the ratio: bound by the absolute margin then.
    const maxObjective = exploit.objectiveValue + costMargin * Math.abs(exploit.objectiveValue);
    let pick: { index: number; kind: 'refresh' | 'warmup' } | undefined;
    for (let i = 0; i < assessments.length; i += 1) {
      const a = assessments[i]!;
      if (a === exploit || a.excludedBy.includes('error') || a.excludedBy.includes('quality') || a.excludedBy.includes('battery') || a.excludedBy.includes('site')) continue;
      if (!(a.objectiveValue <= maxObjective)) continue;
      const f = freshness[i]!;
      let kind: 'refresh' | 'warmup' | undefined;
      if (a.latencyBound <= sloMs) {
        const stale = f.lastObservedAt === null || this.decisions - 1 - f.lastObservedAt >= staleAfter;
        if (stale) kind = 'refresh';
      } else if (warmup && a.latencyBound === Number.POSITIVE_INFINITY && a.latency.point <= warmupMargin * sloMs) {
        kind = 'warmup';
      }
      if (!kind) continue;
      if (!pick || fresher(freshness[pick.index]!, f)) pick = { index: i, kind };
    }
    if (pick) this.explored += 1;
    return pick;
  }

  toJSON(): ExplorerState {
    return { options: { ...this.options }, decisions: this.decisions, explored: this.explored, draws: this.draws };
  }
}

/** Whether `a` has been observed more (or more recently) than `b`, so `b` is the better pick. */
function fresher(a: Freshness, b: Freshness): boolean {
  if (a.observations !== b.observations) return a.observations > b.observations;
  const at = a.lastObservedAt ?? -1;
  const bt = b.lastObservedAt ?? -1;
  return at > bt;
}
