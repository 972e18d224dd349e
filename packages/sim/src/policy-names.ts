/**
 * The policies compared (issue #9, section 2), in report order:
 *
 * - `device`, `server`: everything on the device; everything on the server (fixed).
 * - `neurosurgeon`: the fastest candidate by point estimates (Kang et al., ASPLOS 2017).
 * - `energy-optimal`: the least device energy by point estimates, no SLO (Neurosurgeon's energy mode).
 * - `carbon-greedy`: the least carbon by point estimates, the SLO held on point estimates.
 *   These three read the calibrator's structural predictions from the profile (a decider in
 *   'mean' mode that never learns): no learnt correction, no interval.
 * - `carboncp-mean`, `-robust`, `-adaptive`, `-set`: the calibrator's decision in each mode,
 *   learning online from the outcome of the candidate it ran (what a device observes).
 * - `carboncp-budget`: 'robust' mode with the calibrator's SloBudget: the SLO-miss budget alpha
 *   spent over the long run (the margin of the interval held to the SLO moves after each request)
 *   rather than held per request.
 * - `carboncp-set-full`: 'set' mode calibrated and trained on every candidate's outcome
 *   (observeAll): full information, as CarbonCP's offline calibration has it and no device does.
 * - `oracle`: knows every candidate's true outcome; the least carbon within the SLO, else the fastest.
 * - `best-fixed-variant` (issue #11, section 5): model variants' baseline: one variant for the
 *   whole run, 'robust' mode choosing its cut; the variant is the one, among those meeting the
 *   quality floor, whose run emits least carbon within the SLO miss rate alpha (in hindsight: a
 *   run per variant first).
 * - `carboncp-variants`: Clover-style switching: 'robust' mode choosing variant x cut x
 *   compression per request under the quality floor (over a family's candidates it is the
 *   decision carboncp-robust makes; the name says which lever a report compares).
 * The last two need candidates of model variants (candidatesFromFamily) and are left out of the
 * default list when the candidates carry none.
 * - `single-site`, `carboncp-sites`, `carboncp-sites-equity` (issue #11, section 3): several
 *   server sites (SimulationOptions.sites; see site-policies.ts). They need sites, and with sites
 *   the default list is device, oracle and these three.
 * - `carboncp-paced` (issue #11, section 2): a carbon budget (SimulationOptions.budget) paced by
 *   the calibrator's CarbonBudget over the grid's forecast with its conformal upper bounds: 'mean'
 *   mode preferring quality (with variants; else speed) under the budget's per-request cap.
 * - `greedy-spender`: the same budget and preference, spent first-come: no cap until the period's
 *   budget is gone, then the least carbon. These two need a budget and are left out without one.
 * - `server-uncapped`, `carboncp-power-cap` (issue #11, section 4): GPU power caps on the server,
 *   modelled from published curves (SimulationOptions.powerCap; see power-cap-world.ts): both
 *   carboncp-robust's decision, the first at the GPU's default limit, the second at the cap the
 *   server's own policy chooses. They need a power cap and are left out without one.
 */
export const POLICY_NAMES = [
  'device',
  'server',
  'neurosurgeon',
  'energy-optimal',
  'carbon-greedy',
  'carboncp-mean',
  'carboncp-robust',
  'carboncp-adaptive',
  'carboncp-set',
  'carboncp-budget',
  'carboncp-set-full',
  'oracle',
  'best-fixed-variant',
  'carboncp-variants',
  'single-site',
  'carboncp-sites',
  'carboncp-sites-equity',
  'carboncp-paced',
  'greedy-spender',
  'server-uncapped',
  'carboncp-power-cap',
] as const;

export type PolicyName = (typeof POLICY_NAMES)[number];

/** The policies that compare model variants: they need candidates that carry one. */
export const VARIANT_POLICIES: readonly PolicyName[] = ['best-fixed-variant', 'carboncp-variants'];

/** The policies that spend a carbon budget: they need SimulationOptions.budget. */
export const BUDGET_POLICIES: readonly PolicyName[] = ['carboncp-paced', 'greedy-spender'];

export function isPolicyName(name: string): name is PolicyName {
  return (POLICY_NAMES as readonly string[]).includes(name);
}
