// A process whose user has no home (a container's numeric USER without HOME or a passwd entry):
// os.homedir() throws there, so the cache folder must be found without asking for it when
// CARBONCP_MODELS_CACHE or XDG_CACHE_HOME says where it is.
import { join, resolve } from 'node:path';
import { describe, expect, it, vi } from 'vitest';

vi.mock('node:os', async (importOriginal) => ({
  ...(await importOriginal<typeof import('node:os')>()),
  homedir: () => {
    throw Object.assign(new Error('A system error occurred: uv_os_homedir returned ENOENT (no such file or directory)'), { code: 'ERR_SYSTEM_ERROR' });
  },
}));

describe('modelsCacheDir without a home folder', () => {
  it('takes CARBONCP_MODELS_CACHE or XDG_CACHE_HOME without looking the home up', async () => {
    const { modelsCacheDir } = await import('./cache-dir.js');
    expect(modelsCacheDir({ CARBONCP_MODELS_CACHE: '/opt/carboncp/models' }, 'linux')).toBe(resolve('/opt/carboncp/models'));
    expect(modelsCacheDir({ XDG_CACHE_HOME: '/xdg' }, 'linux')).toBe(join('/xdg', 'carboncp', 'models'));
  });

  it('still fails, with the system error, where only the home could say', async () => {
    const { modelsCacheDir } = await import('./cache-dir.js');
    expect(() => modelsCacheDir({}, 'linux')).toThrow(/uv_os_homedir/);
  });

  it('lets the package be imported when CARBONCP_MODELS_CACHE is set', async () => {
    vi.stubEnv('CARBONCP_MODELS_CACHE', '/opt/carboncp/models');
    try {
      const { MODELS_CACHE_DIR } = await import('./index.js');
      expect(MODELS_CACHE_DIR).toBe(resolve('/opt/carboncp/models'));
    } finally {
      vi.unstubAllEnvs();
    }
  });
});
