import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { SplitConformal } from './conformal/split.js';
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
const builders = new Map<string, MethodBuilder>([
  ['split', (s) => new SplitConformal(new OnlineRidge({ dimensions: s.dimensions }), { alpha: s.alpha, ...(s.window ? { window: s.window } : {}) })],
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
