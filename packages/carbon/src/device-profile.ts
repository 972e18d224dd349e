/**
 * Device profiles: what the calibrator knows about a class of device before it has measured
 * anything on it (idle and busy power, battery, the radios' energy per byte and tail, speed on a
 * named model). Profiles are JSON files (`devices/*.json` in the repository, a copy shipped in
 * this package's `profiles/`); `devices/schema.json` is their JSON Schema and this module is a
 * hand-written validator that agrees with it (a test runs both on every profile and on seeded
 * mutations of them). Every number is a `Quantity` that carries its unit, how it was obtained and
 * its source, so that an estimate built on a profile can say what it rests on.
 *
 * Platform-neutral: no file access here (`@carboncp/carbon/node` reads the directory).
 */
import { CarboncpError, ErrorCode } from '@carboncp/protocol';

export const DEVICE_PROFILE_SCHEMA_VERSION = 1;

/**
 * How a number was obtained. `measured`: by a meter or timer (the source says where);
 * `datasheet`: the maker's specification; `published`: a value printed in a paper or review;
 * `derived`: computed from cited values (`how` shows the computation); `estimated`: an assumption
 * or model (`how` says which); `unknown`: no citable value was found (`value` is null).
 */
export type QuantityKind = 'measured' | 'datasheet' | 'published' | 'derived' | 'estimated' | 'unknown';

export interface Quantity<U extends string = string> {
  value: number | null;
  unit: U;
  kind: QuantityKind;
  /** A citation with a URL or DOI, a datasheet, or a file of ../shared/data or test/bench/results. */
  source: string;
  /** The computation (derived) or the assumption (estimated); required for those two kinds. */
  how?: string;
}

export type RadioKind = 'wifi' | 'lte' | 'nr5g';
export const RADIO_KINDS: readonly RadioKind[] = ['wifi', 'lte', 'nr5g'];

export interface RadioProfile {
  /** Marginal energy per byte sent (J/B), on top of the radio being up. */
  energyPerByteUpJ: Quantity<'J/B'>;
  /** Marginal energy per byte received (J/B). */
  energyPerByteDownJ: Quantity<'J/B'>;
  /** Energy the radio spends in its high-power tail after the last byte, once per burst (J). */
  tailEnergyJ: Quantity<'J'>;
  /** Energy of waking the radio from idle before the first byte (J), where the source gives it. */
  promotionEnergyJ?: Quantity<'J'>;
}

export interface SpeedProfile {
  /** Zoo model name the latency is for (e.g. 'resnet18'); relative speed compares like with like. */
  model: string;
  /** Input, precision and batch (e.g. '1x3x224x224 FP32'). */
  input: string;
  /** Runtime, provider and threads (e.g. 'onnxruntime-node 1.30.0 CPU, 1 thread'). */
  runtime: string;
  latencyMs: Quantity<'ms'>;
}

export type DeviceClass = 'single-board' | 'embedded-gpu' | 'phone' | 'laptop' | 'server';
export const DEVICE_CLASSES: readonly DeviceClass[] = ['single-board', 'embedded-gpu', 'phone', 'laptop', 'server'];

export interface DeviceProfile {
  schemaVersion: typeof DEVICE_PROFILE_SCHEMA_VERSION;
  /** Kebab-case id; the file is `<id>.json`. */
  id: string;
  name: string;
  class: DeviceClass;
  cpu: string;
  cores: number;
  power: { idleW: Quantity<'W'>; activeW: Quantity<'W'> };
  /** null: no battery (mains-powered). */
  battery: { capacityWh: Quantity<'Wh'> } | null;
  radios: Partial<Record<RadioKind, RadioProfile>>;
  /** null: no citable latency on a zoo model was found for this device. */
  speed: SpeedProfile | null;
  notes?: string;
}

/** The profile every `relativeSpeed` compares against unless told otherwise: this project's development machine, measured. */
export const REFERENCE_DEVICE_PROFILE_ID = 'dev-machine';

const KINDS: readonly QuantityKind[] = ['measured', 'datasheet', 'published', 'derived', 'estimated', 'unknown'];
const ID_PATTERN = /^[a-z0-9]+(-[a-z0-9]+)*$/;
/** A source must say something checkable: at least this many characters. */
export const MIN_SOURCE_LENGTH = 10;

/** @internal Shared with gpu-power-caps.ts (same Quantity rules); not exported from the package. */
export function fail(field: string, problem: string, id?: string): never {
  throw new CarboncpError(ErrorCode.BAD_DEVICE_PROFILE, `device profile${id ? ` '${id}'` : ''}: ${field} ${problem}`, {
    details: { field },
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** @internal Shared with gpu-power-caps.ts (same Quantity rules); not exported from the package. */
export function checkKeys(value: Record<string, unknown>, field: string, allowed: readonly string[], id?: string): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) fail(field ? `${field}.${key}` : key, 'is not a known field', id);
  }
}

/** @internal Shared with gpu-power-caps.ts (same Quantity rules); not exported from the package. */
export function record(value: unknown, field: string, id?: string): Record<string, unknown> {
  if (!isRecord(value)) fail(field, 'must be an object', id);
  return value;
}

/** @internal Shared with gpu-power-caps.ts (same Quantity rules); not exported from the package. */
export function nonEmptyString(value: unknown, field: string, id?: string, minLength = 1): string {
  if (typeof value !== 'string' || value.trim().length < minLength) {
    fail(field, minLength > 1 ? `must be a string of at least ${minLength} characters` : 'must be a non-empty string', id);
  }
  return value;
}

/** @internal Shared with gpu-power-caps.ts (same Quantity rules); not exported from the package. */
export function quantity<U extends string>(
  value: unknown,
  field: string,
  unit: U,
  id: string | undefined,
  bounds: { positive?: boolean } = {},
): Quantity<U> {
  const q = record(value, field, id);
  checkKeys(q, field, ['value', 'unit', 'kind', 'source', 'how'], id);
  if (q.unit !== unit) fail(`${field}.unit`, `must be '${unit}'`, id);
  if (typeof q.kind !== 'string' || !KINDS.includes(q.kind as QuantityKind)) {
    fail(`${field}.kind`, `must be one of ${KINDS.join(', ')}`, id);
  }
  const kind = q.kind as QuantityKind;
  nonEmptyString(q.source, `${field}.source`, id, MIN_SOURCE_LENGTH);
  if (kind === 'unknown') {
    if (q.value !== null) fail(`${field}.value`, "must be null when kind is 'unknown'", id);
  } else {
    if (typeof q.value !== 'number' || !Number.isFinite(q.value)) fail(`${field}.value`, 'must be a finite number', id);
    if (bounds.positive ? q.value <= 0 : q.value < 0) fail(`${field}.value`, bounds.positive ? 'must be > 0' : 'must be >= 0', id);
  }
  if (kind === 'derived' || kind === 'estimated') nonEmptyString(q.how, `${field}.how`, id, MIN_SOURCE_LENGTH);
  else if (q.how !== undefined) nonEmptyString(q.how, `${field}.how`, id);
  return q as unknown as Quantity<U>;
}

function radio(value: unknown, field: string, id: string | undefined): RadioProfile {
  const r = record(value, field, id);
  checkKeys(r, field, ['energyPerByteUpJ', 'energyPerByteDownJ', 'tailEnergyJ', 'promotionEnergyJ'], id);
  quantity(r.energyPerByteUpJ, `${field}.energyPerByteUpJ`, 'J/B', id);
  quantity(r.energyPerByteDownJ, `${field}.energyPerByteDownJ`, 'J/B', id);
  quantity(r.tailEnergyJ, `${field}.tailEnergyJ`, 'J', id);
  if (r.promotionEnergyJ !== undefined) quantity(r.promotionEnergyJ, `${field}.promotionEnergyJ`, 'J', id);
  return r as unknown as RadioProfile;
}

/**
 * Checks a parsed JSON value against the device-profile schema (devices/schema.json) and returns
 * it typed. Throws CARBONCP_BAD_DEVICE_PROFILE naming the first bad field (message and
 * `details.field`, a dotted path such as `radios.lte.tailEnergyJ.unit`).
 */
export function parseDeviceProfile(json: unknown): DeviceProfile {
  const p = record(json, '(profile)');
  const id = typeof p.id === 'string' ? p.id : undefined;
  checkKeys(
    p,
    '',
    ['$schema', 'schemaVersion', 'id', 'name', 'class', 'cpu', 'cores', 'power', 'battery', 'radios', 'speed', 'notes'],
    id,
  );
  if (p.$schema !== undefined) nonEmptyString(p.$schema, '$schema', id);
  if (p.schemaVersion !== DEVICE_PROFILE_SCHEMA_VERSION) fail('schemaVersion', `must be ${DEVICE_PROFILE_SCHEMA_VERSION}`, id);
  if (typeof p.id !== 'string' || !ID_PATTERN.test(p.id)) fail('id', 'must be a kebab-case string (a-z, 0-9, -)', id);
  nonEmptyString(p.name, 'name', id);
  if (typeof p.class !== 'string' || !DEVICE_CLASSES.includes(p.class as DeviceClass)) {
    fail('class', `must be one of ${DEVICE_CLASSES.join(', ')}`, id);
  }
  nonEmptyString(p.cpu, 'cpu', id);
  if (typeof p.cores !== 'number' || !Number.isInteger(p.cores) || p.cores < 1) fail('cores', 'must be an integer >= 1', id);

  const power = record(p.power, 'power', id);
  checkKeys(power, 'power', ['idleW', 'activeW'], id);
  // active >= idle is not checked here: JSON Schema cannot say it, and the schema and this
  // validator accept exactly the same files (the shipped profiles are checked for it in a test).
  quantity(power.idleW, 'power.idleW', 'W', id);
  quantity(power.activeW, 'power.activeW', 'W', id);

  if (p.battery !== null) {
    const battery = record(p.battery, 'battery', id);
    checkKeys(battery, 'battery', ['capacityWh'], id);
    quantity(battery.capacityWh, 'battery.capacityWh', 'Wh', id, { positive: true });
  }

  const radios = record(p.radios, 'radios', id);
  checkKeys(radios, 'radios', RADIO_KINDS, id);
  for (const kind of RADIO_KINDS) if (radios[kind] !== undefined) radio(radios[kind], `radios.${kind}`, id);

  if (p.speed !== null) {
    const speed = record(p.speed, 'speed', id);
    checkKeys(speed, 'speed', ['model', 'input', 'runtime', 'latencyMs'], id);
    nonEmptyString(speed.model, 'speed.model', id);
    nonEmptyString(speed.input, 'speed.input', id);
    nonEmptyString(speed.runtime, 'speed.runtime', id);
    quantity(speed.latencyMs, 'speed.latencyMs', 'ms', id, { positive: true });
  }
  if (p.notes !== undefined) nonEmptyString(p.notes, 'notes', id);
  return p as unknown as DeviceProfile;
}

function known(q: Quantity, field: string, profile: DeviceProfile): number {
  if (q.value === null) {
    throw new CarboncpError(
      ErrorCode.DEVICE_PROFILE_INCOMPLETE,
      `device profile '${profile.id}': ${field} is unknown (${q.source})`,
      { details: { field, profile: profile.id } },
    );
  }
  return q.value;
}

/**
 * A model, not a measurement: device power at a CPU utilisation in [0, 1], linear from the
 * profile's idle power (0) to its active power (1). Real devices are not linear (DVFS steps,
 * race-to-idle), so anything built on this value is `estimated`; say so with
 * `powerModelSource(profile)`. CARBONCP_INVALID_ARGUMENT outside [0, 1];
 * CARBONCP_DEVICE_PROFILE_INCOMPLETE when the profile does not know idle or active power.
 */
export function estimatePowerW(profile: DeviceProfile, utilisation: number): number {
  if (!(utilisation >= 0 && utilisation <= 1)) {
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `utilisation must be in [0, 1], got ${utilisation}`);
  }
  const idle = known(profile.power.idleW, 'power.idleW', profile);
  const active = known(profile.power.activeW, 'power.activeW', profile);
  return idle + (active - idle) * utilisation;
}

/** The source label of a value from estimatePowerW: the model and the profile it rests on. */
export function powerModelSource(profile: DeviceProfile): string {
  return `linear power model (idle -> active) of device profile '${profile.id}'`;
}

export interface RadioEnergyOptions {
  /** Add the tail energy (default true: an isolated burst after which the radio idles). */
  tail?: boolean;
  /** Add the promotion energy where the profile has one (default true: the radio was idle before). */
  promotion?: boolean;
}

/**
 * A model, not a measurement: energy (J) the named radio spends on one burst of `bytesUp` sent
 * and `bytesDown` received: bytes x energy per byte each way, plus the tail (and the promotion,
 * where known) once per burst. Back-to-back bursts share one tail; pass `{ tail: false }` for
 * all but the last. CARBONCP_INVALID_ARGUMENT for negative or non-integer byte counts or a radio
 * the profile lacks; CARBONCP_DEVICE_PROFILE_INCOMPLETE for an unknown number it needs.
 */
export function radioEnergyJ(
  profile: DeviceProfile,
  radioKind: RadioKind,
  bytesUp: number,
  bytesDown: number,
  options: RadioEnergyOptions = {},
): number {
  for (const [name, bytes] of [['bytesUp', bytesUp], ['bytesDown', bytesDown]] as const) {
    if (!Number.isSafeInteger(bytes) || bytes < 0) {
      throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `${name} must be a non-negative integer, got ${bytes}`);
    }
  }
  const r = profile.radios[radioKind];
  if (!r) {
    throw new CarboncpError(
      ErrorCode.INVALID_ARGUMENT,
      `device profile '${profile.id}' has no ${radioKind} radio (it has: ${Object.keys(profile.radios).join(', ') || 'none'})`,
    );
  }
  const field = `radios.${radioKind}`;
  let joules =
    bytesUp * known(r.energyPerByteUpJ, `${field}.energyPerByteUpJ`, profile) +
    bytesDown * known(r.energyPerByteDownJ, `${field}.energyPerByteDownJ`, profile);
  if (options.tail ?? true) joules += known(r.tailEnergyJ, `${field}.tailEnergyJ`, profile);
  if ((options.promotion ?? true) && r.promotionEnergyJ) {
    joules += known(r.promotionEnergyJ, `${field}.promotionEnergyJ`, profile);
  }
  return joules;
}

/**
 * How many times faster `profile` runs its speed model than `reference` runs the same model
 * (reference latency / profile latency; > 1 is faster). Both need a known latency on the same
 * model: CARBONCP_DEVICE_PROFILE_INCOMPLETE otherwise. Latencies from different runtimes (a
 * phone's TFLite against onnxruntime) compare hardware and runtime together; read them so.
 */
export function relativeSpeed(profile: DeviceProfile, reference: DeviceProfile): number {
  const speed = profile.speed;
  const ref = reference.speed;
  if (!speed || !ref) {
    const missing = !speed ? profile : reference;
    throw new CarboncpError(ErrorCode.DEVICE_PROFILE_INCOMPLETE, `device profile '${missing.id}': speed is null (no latency on a zoo model)`, {
      details: { field: 'speed', profile: missing.id },
    });
  }
  if (speed.model !== ref.model) {
    throw new CarboncpError(
      ErrorCode.DEVICE_PROFILE_INCOMPLETE,
      `device profile '${profile.id}': speed.model is ${speed.model}, the reference '${reference.id}' has ${ref.model}`,
      { details: { field: 'speed.model', profile: profile.id } },
    );
  }
  return known(ref.latencyMs, 'speed.latencyMs', reference) / known(speed.latencyMs, 'speed.latencyMs', profile);
}
