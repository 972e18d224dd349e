import { splitCsvLine } from '@carboncp/carbon';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';

/** One record of a data file: column name -> cell (numbers where the cell is one, else text). */
export type TableRow = Readonly<Record<string, number | string | boolean | null>>;

export type TableFormat = 'csv' | 'jsonl';

/**
 * Reads rows in file order from CSV (a header line, RFC 4180 quotes) or JSON Lines (one object
 * per line; nested objects become dotted columns, so a telemetry record's
 * `footprint.device.carbonG` is a column). Blank lines are skipped.
 */
export function parseTable(text: string, format: TableFormat): TableRow[] {
  const lines = text.split(/\r?\n/);
  if (format === 'jsonl') {
    const rows: TableRow[] = [];
    lines.forEach((line, i) => {
      if (line.trim() === '') return;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (cause) {
        throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `line ${i + 1} is not JSON`, { cause });
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `line ${i + 1} is not a JSON object`);
      }
      rows.push(flatten(value as Record<string, unknown>));
    });
    return rows;
  }
  const first = lines.findIndex((l) => l.trim() !== '');
  if (first < 0) return [];
  const header = splitCsvLine(lines[first]!.replace(/^\uFEFF/, '')).map((h) => h.trim());
  const rows: TableRow[] = [];
  for (let i = first + 1; i < lines.length; i += 1) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    const cells = splitCsvLine(line);
    if (cells.length !== header.length) {
      throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `line ${i + 1} has ${cells.length} fields, the header ${header.length}`);
    }
    const row: Record<string, number | string> = {};
    header.forEach((name, j) => {
      const cell = cells[j]!.trim();
      const n = cell === '' ? Number.NaN : Number(cell);
      row[name] = Number.isNaN(n) ? cell : n;
    });
    rows.push(row);
  }
  return rows;
}

/** The format a file name implies: .jsonl/.ndjson are JSON Lines, anything else CSV. */
export function tableFormatOf(fileName: string): TableFormat {
  return /\.(jsonl|ndjson)$/i.test(fileName) ? 'jsonl' : 'csv';
}

function flatten(value: Record<string, unknown>, prefix = '', into: Record<string, number | string | boolean | null> = {}): Record<string, number | string | boolean | null> {
  for (const [key, v] of Object.entries(value)) {
    const name = prefix ? `${prefix}.${key}` : key;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) flatten(v as Record<string, unknown>, name, into);
    else if (Array.isArray(v)) into[name] = JSON.stringify(v);
    else into[name] = v as number | string | boolean | null;
  }
  return into;
}

/** A cell as a finite number, or undefined (missing, text, non-finite). */
export function numericCell(row: TableRow, column: string): number | undefined {
  const v = row[column];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** A cell as a bin key (any value, as text; missing is ''). */
export function binCell(row: TableRow, column: string): string {
  const v = row[column];
  return v === undefined || v === null ? '' : String(v);
}
