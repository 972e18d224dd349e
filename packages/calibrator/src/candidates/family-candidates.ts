import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { checkModelFamily, type ModelFamily, type ModelProfile } from '@carboncp/core';
import { candidateId, candidatesFromProfile, type CandidatesFromProfileOptions, type DecisionCandidate } from './candidate.js';

/** What differs between the variants of a family: each is its own model, with its own plans and sizes. */
export type VariantCandidateOptions = Pick<
  CandidatesFromProfileOptions,
  'plans' | 'serverProfile' | 'planIds' | 'bytesPerSample' | 'outputError' | 'outputBytesPerSample'
>;

export interface CandidatesFromFamilyOptions extends Omit<CandidatesFromProfileOptions, keyof VariantCandidateOptions> {
  /** Only these variants (by name), in the family's order; default every variant. */
  variants?: readonly string[];
  /** Per variant (by name): its plans, server profile, plan ids, sizes, output errors. */
  perVariant?: Readonly<Record<string, VariantCandidateOptions>>;
  /** Output bytes per sample shared by every variant (a family has one task, so one output); perVariant overrides it. */
  outputBytesPerSample?: number;
}

/**
 * The candidates of a model family: every variant's candidates (candidatesFromProfile of its
 * profile), each carrying its variant's name and declared quality, with ids such as
 * 'split-3/int8/0.35' (candidateId with the variant). `profiles` holds each variant's measured
 * profile keyed by the variant's name or by its model's name. So the decision chooses variant x
 * plan x compression, and a quality floor (DecideOptions.minQuality) rules out variants by their
 * published quality. CARBONCP_BAD_MODEL_FAMILY for a malformed family; CARBONCP_INVALID_ARGUMENT
 * for an unknown variant name or a variant without a profile (and whatever candidatesFromProfile
 * refuses).
 */
export function candidatesFromFamily(
  family: ModelFamily,
  profiles: Readonly<Record<string, ModelProfile>>,
  options: CandidatesFromFamilyOptions = {},
): DecisionCandidate[] {
  const checked = checkModelFamily(family);
  const { variants: wanted, perVariant, ...shared } = options;
  const names = new Set(checked.variants.map((v) => v.name));
  for (const name of [...(wanted ?? []), ...Object.keys(perVariant ?? {})]) {
    if (!names.has(name)) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `family '${checked.name}' has no variant '${name}' (variants: ${[...names].join(', ')})`);
  }
  const out: DecisionCandidate[] = [];
  for (const variant of checked.variants) {
    if (wanted && !wanted.includes(variant.name)) continue;
    const profile = Object.hasOwn(profiles, variant.name) ? profiles[variant.name] : Object.hasOwn(profiles, variant.model) ? profiles[variant.model] : undefined;
    if (!profile) {
      throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `family '${checked.name}': no profile for variant '${variant.name}' (model '${variant.model}'); profile it (carboncp profile) or leave it out with options.variants`);
    }
    for (const c of candidatesFromProfile(profile, { ...shared, ...perVariant?.[variant.name] })) {
      out.push({ ...c, id: candidateId({ planId: c.planId, compression: c.compression, variant: variant.name }), variant: variant.name, quality: variant.quality.value });
    }
  }
  return out;
}
