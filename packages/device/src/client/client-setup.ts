import { planSetFromJson, type PlanSet } from '@carboncp/core';
import { badOption } from './client-options.js';

/**
 * Set-up shared by the platform entries' createClient (./node, ./browser): reading plan JSON
 * against the caller's input shapes, and the options passed to SplitClient as given.
 */

/** The plan set of `plans` (carboncp partition --json output or a plan.json), checked against inputShapes the caller gave. */
export function readPlanSet(plans: string | Record<string, unknown>, inputShapes: Record<string, number[]> | undefined): PlanSet {
  const set = planSetFromJson(plans);
  if (inputShapes && set.inputShapes && JSON.stringify(sortedShapes(inputShapes)) !== JSON.stringify(sortedShapes(set.inputShapes))) {
    throw badOption(
      `inputShapes ${JSON.stringify(inputShapes)} differ from those the plans were sized for (${JSON.stringify(set.inputShapes)}); leave inputShapes out to use the plans'`,
    );
  }
  return set;
}

const sortedShapes = (shapes: Record<string, number[]>) => Object.entries(shapes).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

/** createClient options that go to SplitClient.open unchanged when given. */
export const PASSED_TO_SPLIT_CLIENT = [
  'token',
  'timeoutMs',
  'reconnect',
  'compression',
  'defaultCut',
  'handshakeTimeoutMs',
  'keepaliveMs',
  'keepaliveTimeoutMs',
  'clock',
  'network',
  'networkProbe',
  'powerSampler',
  'footprint',
] as const;

export function pickDefined<O extends object, K extends keyof O>(source: O, keys: readonly K[]): Partial<Pick<O, K>> {
  const picked: Partial<Pick<O, K>> = {};
  for (const key of keys) if (source[key] !== undefined) picked[key] = source[key];
  return picked;
}

/** A plan.json holds one plan: it is the default cut unless the caller names another. */
export function planJsonDefaultCut(defaultCut: string | undefined, set: PlanSet | undefined): { defaultCut?: string } {
  return defaultCut === undefined && set?.plans.length === 1 ? { defaultCut: set.plans[0].id } : {};
}
