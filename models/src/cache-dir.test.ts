import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { modelsCacheDir } from './cache-dir.js';

describe('modelsCacheDir', () => {
  const home = '/home/someone';
  it('prefers CARBONCP_MODELS_CACHE, resolved', () => {
    expect(modelsCacheDir({ CARBONCP_MODELS_CACHE: 'rel/cache', XDG_CACHE_HOME: '/xdg' }, 'linux', home)).toBe(resolve('rel/cache'));
  });
  it('uses an absolute XDG_CACHE_HOME, ignores a relative one', () => {
    expect(modelsCacheDir({ XDG_CACHE_HOME: '/xdg' }, 'linux', home)).toBe(join('/xdg', 'carboncp', 'models'));
    expect(modelsCacheDir({ XDG_CACHE_HOME: 'relative' }, 'linux', home)).toBe(join(home, '.cache', 'carboncp', 'models'));
  });
  it('falls back to the platform cache directory, never the package folder', () => {
    expect(modelsCacheDir({}, 'linux', home)).toBe(join(home, '.cache', 'carboncp', 'models'));
    expect(modelsCacheDir({}, 'darwin', home)).toBe(join(home, 'Library', 'Caches', 'carboncp', 'models'));
    expect(modelsCacheDir({ LOCALAPPDATA: 'C:\\Users\\x\\AppData\\Local' }, 'win32', home)).toBe(join('C:\\Users\\x\\AppData\\Local', 'carboncp', 'cache', 'models'));
    expect(modelsCacheDir({}, 'linux', home)).not.toContain('node_modules');
  });
});
