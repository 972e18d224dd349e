import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { CarboncpError, ErrorCode } from '@carboncp/protocol';

/**
 * Small readers for sysfs attribute files. A missing attribute is normal (drivers expose
 * different sets), so they return undefined; a file that exists and cannot be read (EACCES on
 * RAPL since the 2020 PLATYPUS fix) is a fact worth reporting: CARBONCP_IO with
 * `details: { path, errno }` (see isDenied).
 */
export async function readAttr(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') throw new CarboncpError(ErrorCode.IO, `${path}: ${code}`, { cause: error, details: { path, errno: code } });
    // ENOENT, ENODATA (a battery that is not present), EIO (a gauge that is not answering).
    return undefined;
  }
}

/** The path and errno of a read refused by permissions (from readAttr), else undefined. */
export function isDenied(error: unknown): { path: string; errno: string } | undefined {
  if (!(error instanceof CarboncpError) || error.code !== ErrorCode.IO) return undefined;
  const { path, errno } = (error.details ?? {}) as { path?: unknown; errno?: unknown };
  return typeof path === 'string' && typeof errno === 'string' ? { path, errno } : undefined;
}

export async function readNumber(path: string): Promise<number | undefined> {
  const text = await readAttr(path);
  if (text === undefined || text === '') return undefined;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
}

export async function listDir(path: string): Promise<string[]> {
  try {
    return (await readdir(path)).sort();
  } catch {
    return [];
  }
}

export { join };
