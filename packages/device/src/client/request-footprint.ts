import { footprintFromTelemetry, type DeviceProfile, type IntensityPoint, type RadioKind } from '@carboncp/carbon';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { badOption } from './client-options.js';
import type { RequestTelemetry } from './types.js';

/**
 * What a client needs to put energy and carbon by side into every request's telemetry. The
 * intensities are read on each request, so they must be cached values (a provider wrapped in
 * withLastKnown, read with peek(), refreshed on a timer): the request path never fetches.
 */
export interface FootprintOptions {
  /** The device's profile (devices/): its radio's energy per byte and tail. */
  profile: DeviceProfile;
  /** The radio the device's bytes go over. */
  radio: RadioKind;
  /** Intensity of the grid where the device is, now; undefined while none is known yet. */
  deviceIntensity: () => IntensityPoint | undefined;
  /** Intensity where the server is; default: the one the server reported with its energy. */
  serverIntensity?: () => IntensityPoint | undefined;
}

export function checkFootprintOptions(options: FootprintOptions | undefined): FootprintOptions | undefined {
  if (options === undefined) return undefined;
  if (options === null || typeof options !== 'object') throw badOption('footprint must be an object { profile, radio, deviceIntensity }');
  if (typeof options.profile?.id !== 'string') throw badOption('footprint.profile must be a device profile (parseDeviceProfile of @carboncp/carbon)');
  if (!options.profile.radios?.[options.radio]) {
    throw badOption(`footprint.radio ${JSON.stringify(options.radio)} is not a radio of device profile '${options.profile.id}'`);
  }
  if (typeof options.deviceIntensity !== 'function') throw badOption('footprint.deviceIntensity must be a function returning a cached IntensityPoint');
  if (options.serverIntensity !== undefined && typeof options.serverIntensity !== 'function') {
    throw badOption('footprint.serverIntensity must be a function returning a cached IntensityPoint');
  }
  return options;
}

/**
 * Adds `footprint` to a finished request's telemetry, or `footprintUnavailable` saying which part
 * was missing (no device energy, no server figure, no intensity yet). Never throws: accounting
 * must not fail the request it accounts for.
 */
export function addFootprint(telemetry: RequestTelemetry, options: FootprintOptions): void {
  try {
    const deviceIntensity = options.deviceIntensity();
    if (!deviceIntensity) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, 'no carbon intensity is known yet where the device is');
    const serverIntensity = options.serverIntensity?.();
    telemetry.footprint = footprintFromTelemetry(telemetry, {
      profile: options.profile,
      radio: options.radio,
      deviceIntensity,
      ...(serverIntensity ? { serverIntensity } : {}),
    });
  } catch (error) {
    telemetry.footprintUnavailable = error instanceof Error ? error.message : String(error);
  }
}
