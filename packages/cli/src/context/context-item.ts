/**
 * One thing `carboncp context` reports, with how it is known. `measured`: read from a sensor,
 * the OS or a timer here; `estimated`: computed from a model or a profile (the source names
 * which); `forecast`: a carbon provider's prediction; `reported`: a figure the server sent whose
 * kind the protocol does not carry (its carbon intensity); `unavailable`: nothing answered, and
 * the source says why. Never a silent constant.
 */
export type ItemKind = 'measured' | 'estimated' | 'forecast' | 'reported' | 'unavailable';

export interface Item<V> {
  value: V | null;
  unit?: string;
  kind: ItemKind;
  source: string;
}

export function item<V>(value: V, kind: Exclude<ItemKind, 'unavailable'>, source: string, unit?: string): Item<V> {
  return { value, ...(unit !== undefined ? { unit } : {}), kind, source };
}

export function unavailable<V = never>(why: string, unit?: string): Item<V> {
  return { value: null, ...(unit !== undefined ? { unit } : {}), kind: 'unavailable', source: why };
}

