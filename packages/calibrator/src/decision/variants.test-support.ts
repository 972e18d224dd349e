/**
 * A small family world (decision.test-support's context and structural model) for the quality
 * floor, worked out by hand: three variants of one task, each with a declared quality.
 *
 *   candidate            quality  head  bytes    tail  latency  device J                      carbon x 3.6e6 g
 *   device/none/small    60       10    0        0     10       5 x 0.010 = 0.05              0.05 x 800 = 40
 *   split-2/none/small   60       3     25_000   2     40       0.015 + 0.0025 + 0.05 = 0.0675 54 + 0.2 x 50 = 64
 *   device/none/mid      68       20    0        0     20       0.1                           80
 *   split-2/none/mid     68       5     50_000   3     68       0.025 + 0.005 + 0.05 = 0.08    64 + 0.3 x 50 = 79
 *   (large, 72: WORLD)   72       device 160, split-2/none 113, split-2/int8 107, server 128
 */
import type { DecisionCandidate } from '../candidates/candidate.js';
import { WORLD, candidate } from './decision.test-support.js';

const variant = (name: string, quality: number) => (c: DecisionCandidate): DecisionCandidate => ({ ...c, id: `${c.id}/${name}`, variant: name, quality });

export const SMALL = [candidate('device/none', 'device', 10, 0, 0), candidate('split-2/none', 'split', 3, 2, 25_000)].map(variant('small', 60));
export const MID = [candidate('device/none', 'device', 20, 0, 0), candidate('split-2/none', 'split', 5, 3, 50_000)].map(variant('mid', 68));
export const LARGE = WORLD.map(variant('large', 72));
export const FAMILY_WORLD: readonly DecisionCandidate[] = [...SMALL, ...MID, ...LARGE];
