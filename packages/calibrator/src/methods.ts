import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { ConformalizedQuantileRegression } from './conformal/cqr.js';
import { MondrianConformal } from './conformal/mondrian.js';
import { NormalizedConformal } from './conformal/normalized.js';
import { SplitConformal } from './conformal/split.js';
import { WeightedConformal } from './conformal/weighted.js';
import { AdaptiveConformal } from './online/aci.js';
import { ConformalPid } from './online/conformal-pid.js';
import { DynamicallyTunedConformal } from './online/dtaci.js';
import { OnlineRidge } from './predictors/online-ridge.js';
import type { Features, IntervalPredictor } from './types.js';

/** What every method needs to be built from the command line or a config: no code, only settings. */
export interface MethodSettings {
  alpha: number;
  /** Feature count of the rows it will see. */
  dimensions: number;
  /** Calibration scores kept; default the method's own. */
  window?: number;
  /** Mondrian: the bin of a row (its context class). */
  binOf?: (x: Features) => string;
}

type MethodBuilder = (settings: MethodSettings) => IntervalPredictor;

/**
 * The conformal methods by name, each over its default point predictor (an online ridge
 * regression on the features, learning from every revealed target). One table, so that
 * `carboncp calibrate --method`, the decision's modes and saved states name methods alike.
 */
const ridge = (s: MethodSettings) => new OnlineRidge({ dimensions: s.dimensions });
const common = (s: MethodSettings) => ({ alpha: s.alpha, ...(s.window ? { window: s.window } : {}) });

const builders = new Map<string, MethodBuilder>([
  ['split', (s) => new SplitConformal(ridge(s), common(s))],
  ['normalized', (s) => new NormalizedConformal(ridge(s), common(s))],
  ['cqr', (s) => ConformalizedQuantileRegression.linear({ ...common(s), dimensions: s.dimensions })],
  [
    'mondrian',
    (s) => {
      if (!s.binOf) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, "method 'mondrian' needs a bin function (binOf)");
      // Each bin (and the pooled stand-in) is split conformal over its own predictor.
      return new MondrianConformal({ alpha: s.alpha, bin: s.binOf, create: () => new SplitConformal(ridge(s), common(s)) });
    },
  ],
  ['weighted', (s) => new WeightedConformal(ridge(s), common(s))],
  ['aci', (s) => new AdaptiveConformal(ridge(s), common(s))],
  ['dtaci', (s) => new DynamicallyTunedConformal(ridge(s), common(s))],
  ['pid', (s) => new ConformalPid(ridge(s), common(s))],
]);

/** Adds (or replaces) a method under its name. */
export function registerMethod(name: string, build: MethodBuilder): void {
  builders.set(name, build);
}

export function methodNames(): string[] {
  return [...builders.keys()];
}

/** Builds the named method; CARBONCP_INVALID_ARGUMENT for an unknown name, listing the known ones. */
export function createMethod(name: string, settings: MethodSettings): IntervalPredictor {
  const build = builders.get(name);
  if (!build) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `unknown conformal method '${name}' (known: ${methodNames().join(', ')})`);
  return build(settings);
}
