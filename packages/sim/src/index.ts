export { simulate, type SimulationResult } from './simulate.js';
export type { CarbonView, RequestRecord, SimulationOptions, UtilisationTrace } from './options.js';
export { BUDGET_POLICIES, POLICY_NAMES, VARIANT_POLICIES, isPolicyName, type PolicyName } from './policy-names.js';
export type { FixedVariantChoice, FixedVariantRun } from './fixed-variant.js';
export { headScaleOf, type ResolvedSettings } from './settings.js';
export type { PolicyResult } from './metrics.js';
export { SITE_POLICIES, type SitePolicyResult } from './site-policies.js';
export type { SimSite, SiteOptions } from './site-world.js';
export type { SimulationStep, StepPolicy } from './series.js';
