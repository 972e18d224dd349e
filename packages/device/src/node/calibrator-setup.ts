import type { ClientBudgetOptions } from '../client/budget-pacer.js';
import { type DeviceProfile } from '@carboncp/carbon';
import { loadDeviceProfile, loadDeviceProfileFile } from '@carboncp/carbon/node';
import type { Partition, Plan } from '@carboncp/core';
import { profileModel } from '@carboncp/core/node';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import type { CalibratedContextOptions, CalibratedPolicy } from '../client/calibrated-policy.js';
import { createCalibratedPolicy, type CalibratorOptions } from '../client/calibrator-setup.js';
import type { ClientTensorInfo } from '../client/types.js';
import { fetchTrusting, type TrustedCa } from './tls-trust.js';

/** createClient's `calibrator` in Node: a device profile by id or file, and the model's latency profile measured at start when not given. */
export interface NodeCalibratorOptions extends Omit<CalibratorOptions, 'deviceProfile'> {
  /** The device's profile: a profile id of devices/ ('raspberry-pi-4'), a JSON file, or the parsed profile. */
  deviceProfile: DeviceProfile | string;
  /** Timed runs when the profile is measured at start (default 10; the profile's segment check is skipped). */
  profileRuns?: number;
}

/** The calibrated cut policy of a Node client (client/calibrator-setup.ts), with Node's device-profile files and on-the-spot profiling. */
export async function createNodeCalibratedPolicy(
  partition: Partition,
  outputs: readonly ClientTensorInfo[],
  server: string,
  options: NodeCalibratorOptions,
  extra: { power?: CalibratedContextOptions['power']; inputShapes?: Record<string, number[]>; log?: (message: string) => void; ca?: TrustedCa; sites?: readonly string[]; budget?: { options: ClientBudgetOptions; startMs: number } },
): Promise<CalibratedPolicy<Plan>> {
  if (options === null || typeof options !== 'object') throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, 'calibrator must be an options object');
  const { deviceProfile: ref, profileRuns, ...rest } = options;
  const deviceProfile = await resolveDeviceProfile(ref);
  const { inputShapes, log, power, ca, sites, budget } = extra;
  return createCalibratedPolicy(partition, outputs, server, { ...rest, deviceProfile }, {
    ...(power ? { power } : {}),
    ...(sites ? { sites } : {}),
    ...(budget ? { budget } : {}),
    ...(log ? { log } : {}),
    // The server's profile comes from its HTTPS port, signed by the same private CA as its WSS.
    ...(ca !== undefined ? { fetch: fetchTrusting(ca) } : {}),
    measure: () => profileModel(partition, { runs: profileRuns ?? 10, warmup: 2, checkCuts: 0, ...(inputShapes ? { inputShapes } : {}), ...(log ? { log } : {}) }),
  });
}

/** A device profile given by id of devices/ ('raspberry-pi-4'), by JSON file, or parsed. */
export async function resolveDeviceProfile(ref: DeviceProfile | string): Promise<DeviceProfile> {
  return typeof ref === 'string' ? (/\.json$/i.test(ref) ? loadDeviceProfileFile(ref) : loadDeviceProfile(ref)) : ref;
}
