/**
 * Where HAProxy is: the path given, else `haproxy` on PATH, else Debian's /usr/sbin/haproxy (not
 * on a normal user's PATH). Shared by `carboncp fleet` and the fleet tests.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export const DEBIAN_HAPROXY = '/usr/sbin/haproxy';

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The HAProxy binary to run, or undefined when none is found (an explicit path is only checked). */
export function findHaproxy(explicit?: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (explicit !== undefined) return executable(explicit) ? explicit : undefined;
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && executable(join(dir, 'haproxy'))) return join(dir, 'haproxy');
  }
  return executable(DEBIAN_HAPROXY) ? DEBIAN_HAPROXY : undefined;
}
