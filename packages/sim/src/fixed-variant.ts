import { allowedByLimits } from '@carboncp/calibrator';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import type { SimulationOptions } from './options.js';
import type { ResolvedSettings } from './settings.js';
import type { SimulationResult } from './simulate.js';

/** One variant's run for 'best-fixed-variant': 'robust' mode over that variant's candidates alone. */
export interface FixedVariantRun {
  carbonG: number;
  sloViolationRate: number;
  quality: number | null;
}

export interface FixedVariantChoice {
  /** The variant 'best-fixed-variant' ran. */
  variant: string;
  /** Why: every allowed variant's run, by name. */
  runs: Record<string, FixedVariantRun>;
}

/**
 * The best fixed variant, in hindsight: every variant with a candidate the hard rules allow
 * (output-error limit, quality floor) is run alone over the same requests ('carboncp-robust' on
 * its candidates, the same seed, the same server service time); the one with the least carbon
 * among those whose SLO miss rate is within alpha is taken (none within: the fewest misses).
 * A stronger baseline than any choice made in advance; switching must beat it per request.
 */
export function bestFixedVariant(options: SimulationOptions, s: ResolvedSettings, run: (o: SimulationOptions) => SimulationResult): FixedVariantChoice {
  const limits = { maxOutputError: s.maxOutputError ?? undefined, minQuality: s.minQuality ?? undefined };
  const variants: string[] = [];
  for (const c of options.candidates) {
    if (c.variant !== undefined && allowedByLimits(c, limits) && !variants.includes(c.variant)) variants.push(c.variant);
  }
  if (variants.length === 0) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `no variant meets the quality floor ${s.minQuality} and the output-error limit ${s.maxOutputError}`);
  const runs: Record<string, FixedVariantRun> = {};
  let best: string | undefined;
  for (const variant of variants) {
    const candidates = options.candidates.filter((c) => c.variant === variant);
    const { onRequest: _onRequest, onProgress: _onProgress, ...rest } = options;
    const result = run({ ...rest, candidates, policies: ['carboncp-robust'], server: { ...options.server, serviceMs: s.serviceMs }, maxSteps: 1 });
    const r = result.policies[0]!;
    runs[variant] = { carbonG: r.carbonG, sloViolationRate: r.sloViolationRate, quality: r.meanQuality };
    if (best === undefined || better(runs[variant]!, runs[best]!, s.alpha)) best = variant;
  }
  return { variant: best!, runs };
}

/** Within the miss budget beats outside it; then less carbon (within) or fewer misses (outside). */
function better(a: FixedVariantRun, b: FixedVariantRun, alpha: number): boolean {
  const aIn = a.sloViolationRate <= alpha;
  const bIn = b.sloViolationRate <= alpha;
  if (aIn !== bIn) return aIn;
  return aIn ? a.carbonG < b.carbonG : a.sloViolationRate < b.sloViolationRate || (a.sloViolationRate === b.sloViolationRate && a.carbonG < b.carbonG);
}
