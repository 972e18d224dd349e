/** Reads the published GPU power-cap curves (data/gpu-power-caps.json, shipped with the package) or another file of that layout. */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { parseGpuPowerCapCurves, type PowerCapCurves } from '../gpu-power-caps.js';

/** The curves shipped with @carboncp/carbon (src/node and dist/node both sit two levels below the package root). */
export const SHIPPED_GPU_POWER_CAPS_FILE = fileURLToPath(new URL('../../data/gpu-power-caps.json', import.meta.url));

/** CARBONCP_NOT_FOUND for a missing file; CARBONCP_BAD_DEVICE_PROFILE (naming the field) for one that is not valid. */
export async function loadGpuPowerCapCurves(file: string = SHIPPED_GPU_POWER_CAPS_FILE): Promise<PowerCapCurves> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code === 'ENOENT' ? ErrorCode.NOT_FOUND : ErrorCode.IO;
    throw new CarboncpError(code, `cannot read GPU power-cap curves ${file}: ${(error as Error).message}`, { cause: error });
  }
  try {
    return parseGpuPowerCapCurves(JSON.parse(text));
  } catch (error) {
    if (error instanceof SyntaxError) throw new CarboncpError(ErrorCode.BAD_DEVICE_PROFILE, `GPU power-cap curves ${file} are not valid JSON: ${error.message}`, { cause: error });
    throw error;
  }
}
