import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

/**
 * Where generated zoo models are cached: a per-user cache directory, never the package's own
 * folder (an installed package lives in node_modules, which may be read-only, shared by several
 * apps, or wiped by every install). In order:
 * - `CARBONCP_MODELS_CACHE` (a directory, taken as given);
 * - `$XDG_CACHE_HOME/carboncp/models` when XDG_CACHE_HOME is an absolute path;
 * - macOS `~/Library/Caches/carboncp/models`, Windows `%LOCALAPPDATA%\carboncp\cache\models`;
 * - else `~/.cache/carboncp/models`.
 */
export function modelsCacheDir(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
  home?: string,
): string {
  if (env.CARBONCP_MODELS_CACHE) return resolve(env.CARBONCP_MODELS_CACHE);
  const xdg = env.XDG_CACHE_HOME;
  if (xdg && isAbsolute(xdg)) return join(xdg, 'carboncp', 'models');
  return underHome(env, platform, home ?? homedir());
}

// The home folder is looked up only here: a process with no HOME whose user has no passwd
// entry (a container's numeric USER) has none, and os.homedir() throws there, which would
// break every import of this package even with CARBONCP_MODELS_CACHE set.
function underHome(env: NodeJS.ProcessEnv, platform: NodeJS.Platform, home: string): string {
  if (platform === 'darwin') return join(home, 'Library', 'Caches', 'carboncp', 'models');
  if (platform === 'win32' && env.LOCALAPPDATA) return join(env.LOCALAPPDATA, 'carboncp', 'cache', 'models');
  return join(home, '.cache', 'carboncp', 'models');
}
