import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@carboncp/protocol';
import { createProvider, csvFactory, parseProviderSpec, staticFactory, type ProviderFactory } from './provider-spec.js';
import { StaticProvider } from './providers/static.js';
import { TraceProvider } from './providers/trace.js';

const invalid = expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT });

describe('parseProviderSpec', () => {
  it('splits NAME[:ARGUMENT][,KEY=VALUE]...', () => {
    expect(parseProviderSpec('static:300')).toEqual({ name: 'static', argument: '300', options: {}, text: 'static:300' });
    expect(parseProviderSpec('csv:data/DE 2022.csv,zone=DE,Value=Carbon Intensity')).toMatchObject({
      name: 'csv',
      argument: 'data/DE 2022.csv',
      options: { zone: 'DE', value: 'Carbon Intensity' },
    });
    expect(parseProviderSpec('carbon-aware-sdk:http://127.0.0.1:8080/api,location=eastus')).toMatchObject({
      name: 'carbon-aware-sdk',
      argument: 'http://127.0.0.1:8080/api',
      options: { location: 'eastus' },
    });
    expect(parseProviderSpec('UK')).toEqual({ name: 'uk', options: {}, text: 'UK' });
    expect(parseProviderSpec('watttime,region=CAISO_NORTH')).toMatchObject({ name: 'watttime', options: { region: 'CAISO_NORTH' } });
    for (const bad of ['', ':300', 'csv:a,zone', 'csv:a,zone=A,zone=B', 'csv:a,=x', '3d:1']) expect(() => parseProviderSpec(bad), bad).toThrow(invalid);
  });
});

describe('createProvider', () => {
  it('looks the name up in the factories given, so other providers plug in', async () => {
    const seen: unknown[] = [];
    const fake: ProviderFactory = (spec, context) => {
      seen.push([spec.argument, spec.options, context.env?.KEY]);
      return new StaticProvider(1);
    };
    const p = await createProvider('electricitymaps:x,zone=DE', { static: staticFactory, electricitymaps: fake }, { env: { KEY: 'k' } });
    expect(p).toBeInstanceOf(StaticProvider);
    expect(seen).toEqual([['x', { zone: 'DE' }, 'k']]);
    await expect(createProvider('uk', { static: staticFactory })).rejects.toThrow(/unknown carbon provider 'uk' \(known: static\)/);
    await expect(createProvider('toString', { static: staticFactory })).rejects.toThrow(invalid);
  });

  it('builds static and csv providers from specs and refuses bad options', async () => {
    const s = await createProvider('static:250.5,zone=SE', { static: staticFactory });
    expect(await s.current({ at: 0 })).toMatchObject({ gPerKwh: 250.5, zone: 'SE', kind: 'estimated' });
    for (const bad of ['static', 'static:', 'static:abc', 'static:-1', 'static:1,colour=red', 'static:1,signal=mean']) {
      await expect(createProvider(bad, { static: staticFactory }), bad).rejects.toThrow(invalid);
    }
    const files: Record<string, string> = { 'NL.csv': 'Time,Carbon Intensity\n2024-01-01 00:00,10\n2024-01-01 00:30,20\n' };
    const context = { readText: async (path: string) => files[path] ?? '' };
    const csv = csvFactory((path) => path.replace(/\.csv$/, ''));
    const trace = await createProvider('csv:NL.csv,step=30,method=persistence,signal=marginal', { csv }, context);
    expect(trace).toBeInstanceOf(TraceProvider);
    expect(await trace.current({ at: Date.UTC(2024, 0, 1, 0, 45) })).toMatchObject({ gPerKwh: 20, zone: 'NL', source: 'csv:NL.csv', signal: 'marginal', durationMinutes: 30 });
    // [00:45, 01:45): the half hours from 00:30, 01:00 and 01:30; persistence repeats 20.
    expect((await trace.forecast(1, { at: Date.UTC(2024, 0, 1, 0, 45) })).map((p) => [p.time.slice(11, 16), p.gPerKwh, p.kind])).toEqual([
      ['00:30', 20, 'measured'],
      ['01:00', 20, 'forecast'],
      ['01:30', 20, 'forecast'],
    ]);
    for (const bad of ['csv:', 'csv:NL.csv,step=10', 'csv:NL.csv,wrap=month', 'csv:NL.csv,method=magic', 'csv:NL.csv,sep=;']) {
      await expect(createProvider(bad, { csv }, context), bad).rejects.toThrow(invalid);
    }
    await expect(createProvider('csv:NL.csv', { csv })).rejects.toThrow(/no readText/);
  });
});
