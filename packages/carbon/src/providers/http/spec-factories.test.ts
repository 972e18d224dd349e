import { describe, expect, it } from 'vitest';
import { createProvider, parseProviderSpec } from '../../provider-spec.js';
import { httpProviderFactories, PROVIDER_ENV } from './spec-factories.js';

/** A fetch that records the URLs asked for and answers nothing useful: the specs are judged by where they go. */
function recordingFetch(): { urls: string[]; headers: Record<string, string>[]; fetch: typeof fetch } {
  const urls: string[] = [];
  const headers: Record<string, string>[] = [];
  const fetchLike = async (url: string | URL | Request, init?: RequestInit) => {
    urls.push(String(url));
    headers.push({ ...(init?.headers as Record<string, string>) });
    return new Response('{}', { status: 500 });
  };
  return { urls, headers, fetch: fetchLike as typeof fetch };
}

describe('HTTP providers from a spec', () => {
  it('uk: national by default, a region for GB-<n>, a postcode otherwise', async () => {
    for (const [spec, path] of [
      ['uk', '/intensity'],
      ['uk,zone=GB', '/intensity'],
      ['uk,zone=GB-13', '/regional/regionid/13'],
      ['uk,zone=RG10', '/regional/postcode/RG10'],
    ] as const) {
      const seen = recordingFetch();
      const provider = await createProvider(spec, httpProviderFactories, { fetch: seen.fetch });
      await provider.current().catch(() => undefined);
      expect(seen.urls.length, spec).toBeGreaterThan(0);
      expect(new URL(seen.urls[0] as string).pathname.startsWith(path), `${spec} -> ${seen.urls[0]}`).toBe(true);
    }
  });

  it('electricitymaps and watttime take their keys from the environment only, and need a zone', async () => {
    await expect(createProvider('electricitymaps,zone=DE', httpProviderFactories, { env: {} })).rejects.toMatchObject({
      code: 'CARBONCP_INVALID_ARGUMENT',
      message: expect.stringContaining(PROVIDER_ENV.electricityMapsKey),
    });
    await expect(createProvider('electricitymaps', httpProviderFactories, { env: { [PROVIDER_ENV.electricityMapsKey]: 'k' } })).rejects.toMatchObject({
      code: 'CARBONCP_INVALID_ARGUMENT',
      message: expect.stringContaining('zone'),
    });
    await expect(createProvider('electricitymaps,zone=DE,apikey=x', httpProviderFactories, { env: {} })).rejects.toMatchObject({ code: 'CARBONCP_INVALID_ARGUMENT' });
    const seen = recordingFetch();
    const em = await createProvider('electricitymaps,zone=DE', httpProviderFactories, { env: { [PROVIDER_ENV.electricityMapsKey]: 'secret-key' }, fetch: seen.fetch });
    await em.current().catch(() => undefined);
    expect(seen.urls[0]).toContain('zone=DE');
    expect(JSON.stringify(seen.headers[0])).toContain('secret-key');

    await expect(createProvider('watttime,zone=CAISO_NORTH', httpProviderFactories, { env: { [PROVIDER_ENV.wattTimePassword]: 'p' } })).rejects.toMatchObject({
      message: expect.stringContaining(PROVIDER_ENV.wattTimeUser),
    });
    const wt = recordingFetch();
    const watt = await createProvider('watttime,zone=CAISO_NORTH', httpProviderFactories, {
      env: { [PROVIDER_ENV.wattTimeUserAlias]: 'u', [PROVIDER_ENV.wattTimePassword]: 'p' },
      fetch: wt.fetch,
    });
    await watt.current().catch(() => undefined);
    expect(new URL(wt.urls[0] as string).pathname).toBe('/login');
  });

  it('carbon-aware-sdk needs its URL and a location', async () => {
    await expect(createProvider('carbon-aware-sdk,zone=westus', httpProviderFactories)).rejects.toMatchObject({ code: 'CARBONCP_INVALID_ARGUMENT' });
    await expect(createProvider('carbon-aware-sdk:http://127.0.0.1:9', httpProviderFactories)).rejects.toMatchObject({ code: 'CARBONCP_INVALID_ARGUMENT' });
    const seen = recordingFetch();
    const sdk = await createProvider(parseProviderSpec('carbon-aware-sdk:http://127.0.0.1:9,zone=westus'), httpProviderFactories, { fetch: seen.fetch });
    await sdk.current().catch(() => undefined);
    expect(seen.urls[0]).toMatch(/^http:\/\/127\.0\.0\.1:9\/emissions\/bylocation\?.*location=westus/);
  });
});
