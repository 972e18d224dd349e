import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CarboncpError, ErrorCode } from '@carboncp/core';

/**
 * Writes `bytes` to `path` so that no reader, in this process or another, ever sees a partial
 * file: write a uniquely named temp file in the same directory, then rename over the target.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await mkdir(dir, { recursive: true });
    await writeFile(temp, bytes);
    await rename(temp, path);
  } catch (cause) {
    // Best effort: the temp file may never have been created (e.g. the directory is a file).
    await rm(temp, { force: true }).catch(() => undefined);
    throw new CarboncpError(ErrorCode.WRITE_FAILED, `could not write ${path}: ${(cause as Error).message}`, { cause });
  }
}
