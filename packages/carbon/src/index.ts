export type { IntensityKind, IntensityPoint, IntensityProvider, IntensityQuery, IntensitySignal } from './intensity.js';
