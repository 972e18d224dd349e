import { describe, expect, it } from 'vitest';
import { numericCell, parseTable, tableFormatOf } from './table.js';

describe('parseTable', () => {
  it('reads CSV with a header, quotes, numbers and text', () => {
    const rows = parseTable('a,"b, c",d\n1,2.5,x\n\n3,"4",\n', 'csv');
    expect(rows).toEqual([
      { a: 1, 'b, c': 2.5, d: 'x' },
      { a: 3, 'b, c': 4, d: '' },
    ]);
  });

  it('reads JSON Lines, nested objects as dotted columns', () => {
    const rows = parseTable('{"totalMs":12.5,"footprint":{"device":{"carbonG":0.1}},"path":"split"}\n{"totalMs":3}\n', 'jsonl');
    expect(rows[0]).toEqual({ totalMs: 12.5, 'footprint.device.carbonG': 0.1, path: 'split' });
    expect(numericCell(rows[1]!, 'footprint.device.carbonG')).toBeUndefined();
    expect(numericCell(rows[1]!, 'totalMs')).toBe(3);
  });

  it('refuses ragged CSV and non-object JSON lines with the line number', () => {
    expect(() => parseTable('a,b\n1\n', 'csv')).toThrow(/line 2 has 1 fields/);
    expect(() => parseTable('{"a":1}\n[1]\n', 'jsonl')).toThrow(/line 2 is not a JSON object/);
    expect(() => parseTable('{"a":\n', 'jsonl')).toThrow(/line 1 is not JSON/);
  });

  it('tells the format by the file name', () => {
    expect(tableFormatOf('t.jsonl')).toBe('jsonl');
    expect(tableFormatOf('t.NDJSON')).toBe('jsonl');
    expect(tableFormatOf('t.csv')).toBe('csv');
  });
});
