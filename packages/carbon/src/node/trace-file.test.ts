import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@carboncp/protocol';
import { createProvider } from '../provider-spec.js';
import { nodeProviderContext, nodeProviderFactories, traceProviderFromFile, zoneFromFileName } from './trace-file.js';

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));

describe('trace files', () => {
  it('reads a CSV file into a trace provider, a plain file named after its zone', async () => {
    const de = await traceProviderFromFile(fixture('DE.csv'));
    expect(de.zones()).toEqual(['DE']);
    expect(await de.current({ at: Date.UTC(2022, 5, 1, 0, 30) })).toMatchObject({ gPerKwh: 543.24, zone: 'DE', source: `csv:${fixture('DE.csv')}` });
    const em = await traceProviderFromFile(fixture('electricitymaps-fr-gb-2022-01-24.csv'), { zone: 'GB' });
    expect(em.zones()).toEqual(['GB']);
    expect(zoneFromFileName('/a/b/CA-QC.csv')).toBe('CA-QC');
  });

  it('a missing file is NOT_FOUND; the Node factories cover static, csv and the HTTP providers', async () => {
    await expect(traceProviderFromFile(fixture('nope.csv'))).rejects.toThrow(expect.objectContaining({ code: ErrorCode.NOT_FOUND }));
    expect(Object.keys(nodeProviderFactories)).toEqual(['static', 'csv', 'uk', 'electricitymaps', 'watttime', 'carbon-aware-sdk']);
    const p = await createProvider(`csv:${fixture('DE.csv')},zone=DE-1`, nodeProviderFactories, nodeProviderContext());
    expect(await p.current({ at: Date.UTC(2022, 5, 3, 23) })).toMatchObject({ zone: 'DE-1', kind: 'measured' });
  });
});
