/**
 * Energy and carbon per request: the platform-neutral accounting. Given the energy each side of a
 * split request spent (the device's head and local work, the network's bytes, the server's tail)
 * and the grid carbon intensity where and when each was spent, it gives grams of CO2-equivalent
 * per side and in total, every figure labelled with how it was obtained and where it came from.
 *
 * It reads no sensor and fetches nothing: callers bring energies (a counter delta, a power
 * model, a radio profile) and intensity points (a provider's cached value). Pure arithmetic, so
 * it may run on a request path.
 *
 *   grams = joules / 3.6e6 (J per kWh) x gPerKwh
 */
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import type { IntensityPoint } from './intensity.js';
import { radioEnergyJ, type DeviceProfile, type RadioEnergyOptions, type RadioKind } from './device-profile.js';

/** Joules in one kilowatt-hour. */
export const JOULES_PER_KWH = 3.6e6;

/**
 * How an energy figure was obtained: `measured` by a meter or counter (RAPL, a battery gauge,
 * nvidia-smi), `estimated` from a model (power x time, bytes x J/B).
 */
export type EnergyKind = 'measured' | 'estimated';

/** One energy figure with its provenance. */
export interface EnergyPart {
  energyJ: number;
  kind: EnergyKind;
  /** What it rests on, e.g. 'rapl package-0 counter delta' or "linear power model of device profile 'pi-4'". */
  source: string;
}

/** One side of a request: its energy, the carbon that energy is worth, and where both came from. */
export interface SideFootprint {
  energyJ: number;
  /** Grams CO2e: energyJ / JOULES_PER_KWH x intensity.gPerKwh. */
  carbonG: number;
  /** The energy's kind. The intensity's own kind (measured, forecast, estimated) is in `intensity.kind`. */
  kind: EnergyKind;
  /** The energy's source. */
  source: string;
  /** The grid intensity applied: where, when and from whom. */
  intensity: IntensityPoint;
}

/** Energy and carbon of one request, split by where it was spent. */
export interface RequestFootprint {
  device: SideFootprint;
  network: SideFootprint;
  server: SideFootprint;
  totalEnergyJ: number;
  totalCarbonG: number;
  /** `measured` only if all three sides' energies are. */
  kind: EnergyKind;
}

export interface FootprintInput {
  device: EnergyPart;
  network: EnergyPart;
  server: EnergyPart;
  intensity: {
    /** Intensity where and when the device spent its energy. */
    device: IntensityPoint;
    /**
     * Intensity for the network's energy. The radio energy counted here is spent by the device's
     * radio, so the default is the device's intensity.
     */
    network?: IntensityPoint;
    /** Intensity where and when the server ran the tail (its provider's value). */
    server: IntensityPoint;
  };
}

function checkEnergy(part: EnergyPart, what: string): void {
  if (!Number.isFinite(part.energyJ) || part.energyJ < 0) {
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `${what} energy must be a finite number of joules >= 0, got ${part.energyJ}`);
  }
  if (part.kind !== 'measured' && part.kind !== 'estimated') {
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `${what} energy kind must be 'measured' or 'estimated', got ${JSON.stringify(part.kind)}`);
  }
  if (typeof part.source !== 'string' || part.source.length === 0) {
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `${what} energy needs a source`);
  }
}

/** Grams CO2e of `energyJ` joules at `gPerKwh`. CARBONCP_INVALID_ARGUMENT for a negative or non-finite input. */
export function carbonGrams(energyJ: number, gPerKwh: number): number {
  if (!Number.isFinite(energyJ) || energyJ < 0) {
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `energy must be a finite number of joules >= 0, got ${energyJ}`);
  }
  if (!Number.isFinite(gPerKwh) || gPerKwh < 0) {
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `carbon intensity must be a finite gPerKwh >= 0, got ${gPerKwh}`);
  }
  return (energyJ / JOULES_PER_KWH) * gPerKwh;
}

/** `measured` only if every kind is; no kinds at all is `estimated` (nothing was measured). */
export function combineKinds(kinds: readonly EnergyKind[]): EnergyKind {
  return kinds.length > 0 && kinds.every((k) => k === 'measured') ? 'measured' : 'estimated';
}

/**
 * The sum of several energy parts (a device's head and its local tail, say): joules add, the
 * kind is `measured` only if all parts are, the sources are joined with ' + ' (each once, in
 * order). CARBONCP_INVALID_ARGUMENT for no parts or an invalid one.
 */
export function sumEnergy(parts: readonly EnergyPart[]): EnergyPart {
  if (parts.length === 0) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, 'sumEnergy needs at least one part');
  parts.forEach((p, i) => checkEnergy(p, `part ${i}`));
  const sources: string[] = [];
  for (const p of parts) if (!sources.includes(p.source)) sources.push(p.source);
  return {
    energyJ: parts.reduce((s, p) => s + p.energyJ, 0),
    kind: combineKinds(parts.map((p) => p.kind)),
    source: sources.join(' + '),
  };
}

/**
 * Energy from a power figure held for a time, times a PUE (power usage effectiveness, >= 1, the
 * data centre's total power over its IT power; 1 for a device): J = ms / 1000 x W x PUE.
 */
export function powerTimeEnergy(options: { durationMs: number; powerW: number; pue?: number; kind: EnergyKind; source: string }): EnergyPart {
  const { durationMs, powerW } = options;
  const pue = options.pue ?? 1;
  if (!Number.isFinite(durationMs) || durationMs < 0) {
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `duration must be a finite number of ms >= 0, got ${durationMs}`);
  }
  if (!Number.isFinite(powerW) || powerW < 0) {
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `power must be a finite number of watts >= 0, got ${powerW}`);
  }
  checkPue(pue);
  const part: EnergyPart = {
    energyJ: (durationMs / 1000) * powerW * pue,
    kind: options.kind,
    source: pue === 1 ? options.source : `${options.source} x PUE ${pue}`,
  };
  checkEnergy(part, 'power x time');
  return part;
}

/** CARBONCP_INVALID_ARGUMENT unless `pue` is a finite number >= 1. */
export function checkPue(pue: number): void {
  if (!Number.isFinite(pue) || pue < 1) {
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `PUE must be a finite number >= 1, got ${pue}`);
  }
}

/**
 * The network side from a device profile's radio: bytes up and down x energy per byte plus the
 * tail (see radioEnergyJ), always `estimated`, its source naming the radio and the profile.
 */
export function radioEnergyPart(
  profile: DeviceProfile,
  radio: RadioKind,
  bytesUp: number,
  bytesDown: number,
  options: RadioEnergyOptions = {},
): EnergyPart {
  return {
    energyJ: radioEnergyJ(profile, radio, bytesUp, bytesDown, options),
    kind: 'estimated',
    source: `${radio} radio model of device profile '${profile.id}' (${bytesUp} B up, ${bytesDown} B down)`,
  };
}

function checkIntensity(point: IntensityPoint, what: string): void {
  if (!point || !Number.isFinite(point.gPerKwh) || point.gPerKwh < 0) {
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `${what} intensity must have a finite gPerKwh >= 0, got ${point?.gPerKwh}`);
  }
}

/** One side: its energy valued at `intensity`. */
export function sideFootprint(part: EnergyPart, intensity: IntensityPoint, what = 'side'): SideFootprint {
  checkEnergy(part, what);
  checkIntensity(intensity, what);
  return {
    energyJ: part.energyJ,
    carbonG: carbonGrams(part.energyJ, intensity.gPerKwh),
    kind: part.kind,
    source: part.source,
    intensity,
  };
}

/**
 * The footprint of one request: each side's energy at the intensity where and when it was spent,
 * and the totals. CARBONCP_INVALID_ARGUMENT for a negative or non-finite energy or intensity, an
 * unknown kind or an empty source.
 */
export function requestFootprint(input: FootprintInput): RequestFootprint {
  const device = sideFootprint(input.device, input.intensity.device, 'device');
  const network = sideFootprint(input.network, input.intensity.network ?? input.intensity.device, 'network');
  const server = sideFootprint(input.server, input.intensity.server, 'server');
  return {
    device,
    network,
    server,
    totalEnergyJ: device.energyJ + network.energyJ + server.energyJ,
    totalCarbonG: device.carbonG + network.carbonG + server.carbonG,
    kind: combineKinds([device.kind, network.kind, server.kind]),
  };
}

/**
 * The parts of a device request's telemetry the footprint needs (RequestTelemetry of
 * @carboncp/device has them; typed here by shape, so this package does not depend on it).
 */
export interface TelemetryEnergy {
  path: 'local' | 'split' | 'remote' | 'local-fallback';
  bytesUp: number;
  bytesDown: number;
  deviceEnergy?: EnergyPart;
  serverEnergy?: EnergyPart & { intensity?: { valueGPerKwh: number; source: string } };
}

export interface TelemetryFootprintOptions {
  /** The device's profile, for the radio's energy per byte and tail. */
  profile: DeviceProfile;
  /** The radio the bytes went over. */
  radio: RadioKind;
  /** Intensity where the device is (its provider's cached value: withLastKnown(...).peek()). */
  deviceIntensity: IntensityPoint;
  /**
   * Intensity where the server is. Default: the one the server reported with its energy, as a
   * point of kind 'estimated' (the wire carries no kind), zone 'server', time deviceIntensity's.
   */
  serverIntensity?: IntensityPoint;
}

const NOTHING_SENT = 'nothing crossed: the request ran on the device';

/**
 * A request's footprint from its telemetry: the device part is telemetry.deviceEnergy, the
 * network part the profile's radio model over bytesUp and bytesDown (with the tail), the server
 * part telemetry.serverEnergy. A request that sent nothing (path 'local', or a fallback before
 * any byte crossed) has 0 J, measured, for network and server. CARBONCP_INVALID_ARGUMENT when a
 * needed part is missing (no deviceEnergy: the client had no powerSampler; bytes sent but no
 * serverEnergy: the server reported none) or no server intensity is known.
 */
export function footprintFromTelemetry(telemetry: TelemetryEnergy, options: TelemetryFootprintOptions): RequestFootprint {
  if (!telemetry.deviceEnergy) {
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, 'the telemetry has no deviceEnergy: give the client a powerSampler');
  }
  const sent = telemetry.bytesUp > 0 || telemetry.bytesDown > 0;
  const none: EnergyPart = { energyJ: 0, kind: 'measured', source: NOTHING_SENT };
  const network = sent ? radioEnergyPart(options.profile, options.radio, telemetry.bytesUp, telemetry.bytesDown) : none;
  let server: EnergyPart = none;
  let serverIntensity = options.serverIntensity ?? options.deviceIntensity;
  if (sent) {
    const reported = telemetry.serverEnergy;
    if (!reported) {
      if (telemetry.path === 'local-fallback') {
        // The request failed over: whether the server ran anything is unknown; nothing was reported.
        server = { energyJ: 0, kind: 'estimated', source: 'no answer from the server (fell back to the device)' };
      } else {
        throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, 'the telemetry has no serverEnergy: the server reported none (start it with a power figure, carboncp serve --server-power-w)');
      }
    } else {
      server = { energyJ: reported.energyJ, kind: reported.kind, source: reported.source };
      if (!options.serverIntensity) {
        if (!reported.intensity) {
          throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, 'no server intensity: the server reported none (carboncp serve --carbon SPEC) and none was given');
        }
        serverIntensity = {
          time: options.deviceIntensity.time,
          gPerKwh: reported.intensity.valueGPerKwh,
          zone: 'server',
          source: reported.intensity.source,
          kind: 'estimated',
        };
      }
    }
  }
  return requestFootprint({
    device: { energyJ: telemetry.deviceEnergy.energyJ, kind: telemetry.deviceEnergy.kind, source: telemetry.deviceEnergy.source },
    network,
    server,
    intensity: { device: options.deviceIntensity, server: serverIntensity },
  });
}
