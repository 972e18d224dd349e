// Where the browser suites find a chromium (plain JS: scripts/test.mjs reads it too). Debian's
// package, since playwright's own browser download is unreachable here; CARBONCP_CHROMIUM first.
import { existsSync } from 'node:fs';

export const CHROMIUM_PATHS = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

export const SKIP_LINE = 'browser tests: skipped, no chromium found (install one: apt-get install chromium, or set CARBONCP_CHROMIUM to its path)';

/** The chromium to drive, or undefined where none is installed. */
export function findChromium() {
  return [process.env.CARBONCP_CHROMIUM, ...CHROMIUM_PATHS].find((path) => typeof path === 'string' && path !== '' && existsSync(path));
}
