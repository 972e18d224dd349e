import type { DecisionCandidate } from '../candidates/candidate.js';
import type { CandidatePredictions } from './candidate-model.js';
import type { CandidateAssessment, Constraint, Decision, DecisionMode, Objective } from './decision-types.js';
import { explain } from './explain.js';

export type DecisionFields = Omit<Decision, 'explanation'>;

/**
 * A Decision whose explanation is written when first read: it costs as much as the rest of the
 * decision, and most requests never read it. (A getter in an object literal would cost more
 * still: V8 builds such literals slowly.) toJSON() includes it.
 */
export class DecisionRecord implements Decision {
  candidate: DecisionCandidate;
  chosen: CandidateAssessment;
  predictions: CandidatePredictions;
  mode: DecisionMode;
  objective: Objective;
  alpha: number;
  sloMs: number;
  maxOutputError?: number;
  minQuality?: number;
  maxCarbonG?: number;
  preferQuality?: boolean;
  assessments: CandidateAssessment[];
  bound: Constraint | 'none';
  sloUnmet: boolean;
  relaxed: Constraint[];
  explored: boolean;
  exploration?: Decision['exploration'];
  runnersUp: CandidateAssessment[];
  set?: Decision['set'];
  features: number[];
  index: number;
  private text: string | undefined;

  constructor(d: DecisionFields) {
    this.candidate = d.candidate;
    this.chosen = d.chosen;
    this.predictions = d.predictions;
    this.mode = d.mode;
    this.objective = d.objective;
    this.alpha = d.alpha;
    this.sloMs = d.sloMs;
    this.maxOutputError = d.maxOutputError;
    this.minQuality = d.minQuality;
    if (d.maxCarbonG !== undefined) this.maxCarbonG = d.maxCarbonG;
    if (d.preferQuality) this.preferQuality = true;
    this.assessments = d.assessments;
    this.bound = d.bound;
    this.sloUnmet = d.sloUnmet;
    this.relaxed = d.relaxed;
    this.explored = d.explored;
    this.exploration = d.exploration;
    this.runnersUp = d.runnersUp;
    this.set = d.set;
    this.features = d.features;
    this.index = d.index;
  }

  get explanation(): string {
    return (this.text ??= explain(this));
  }

  toJSON(): Decision {
    const { text: _text, ...fields } = this;
    return { ...fields, explanation: this.explanation };
  }
}
