/**
 * Reads device profiles (`<id>.json` files checked by parseDeviceProfile) from a directory:
 * by default the copy this package ships in `profiles/` (the same files as the repository's
 * `devices/`, kept equal by a test), so that an installed package has them without the monorepo.
 */
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { parseDeviceProfile, type DeviceProfile } from '../device-profile.js';

/** The profiles shipped with @carboncp/carbon (src/node and dist/node both sit two levels below the package root). */
export const SHIPPED_DEVICE_PROFILES_DIR = fileURLToPath(new URL('../../profiles/', import.meta.url));

/** Files in a profiles directory that are not profiles. */
const NOT_PROFILES = new Set(['schema.json', 'package.json']);

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

/** Reads and checks one file; CARBONCP_BAD_DEVICE_PROFILE for invalid JSON, a schema break or an id that is not the file name. */
export async function loadDeviceProfileFile(file: string): Promise<DeviceProfile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = errorCode(error) === 'ENOENT' ? ErrorCode.NOT_FOUND : ErrorCode.IO;
    throw new CarboncpError(code, `cannot read device profile ${file}: ${(error as Error).message}`, { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new CarboncpError(ErrorCode.BAD_DEVICE_PROFILE, `device profile ${file} is not valid JSON: ${(error as Error).message}`, {
      cause: error,
      details: { field: '(json)', file },
    });
  }
  let profile: DeviceProfile;
  try {
    profile = parseDeviceProfile(json);
  } catch (error) {
    if (error instanceof CarboncpError) {
      throw new CarboncpError(error.code, `${file}: ${error.message}`, { cause: error, details: { ...error.details, file } });
    }
    throw error;
  }
  const expected = file.replace(/^.*[\\/]/, '').replace(/\.json$/, '');
  if (profile.id !== expected) {
    throw new CarboncpError(ErrorCode.BAD_DEVICE_PROFILE, `${file}: id '${profile.id}' must equal the file name '${expected}'`, {
      details: { field: 'id', file },
    });
  }
  return profile;
}

/**
 * Every `*.json` profile in `dir` (default: the shipped copy), sorted by id. CARBONCP_NOT_FOUND
 * when the directory does not exist; the first bad file fails the whole load (a profile set with
 * a broken member is not silently partial).
 */
export async function loadDeviceProfiles(dir: string = SHIPPED_DEVICE_PROFILES_DIR): Promise<DeviceProfile[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    const code = errorCode(error) === 'ENOENT' ? ErrorCode.NOT_FOUND : ErrorCode.IO;
    throw new CarboncpError(code, `cannot read the device profiles directory ${dir}: ${(error as Error).message}`, { cause: error });
  }
  const files = names.filter((name) => name.endsWith('.json') && !NOT_PROFILES.has(name)).sort();
  const profiles = await Promise.all(files.map((name) => loadDeviceProfileFile(join(dir, name))));
  return profiles.sort((a, b) => a.id.localeCompare(b.id));
}

/** One profile by id from `dir` (default: the shipped copy); CARBONCP_NOT_FOUND listing the ids there when it is absent. */
export async function loadDeviceProfile(id: string, dir: string = SHIPPED_DEVICE_PROFILES_DIR): Promise<DeviceProfile> {
  const profiles = await loadDeviceProfiles(dir);
  const found = profiles.find((profile) => profile.id === id);
  if (!found) {
    throw new CarboncpError(
      ErrorCode.NOT_FOUND,
      `no device profile '${id}' in ${dir} (there are: ${profiles.map((p) => p.id).join(', ')})`,
    );
  }
  return found;
}
