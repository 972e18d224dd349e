import { readFile, writeFile } from 'node:fs/promises';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { auditOnline, createMethod, methodNames, parseTable, tableFormatOf, binCell, type AuditInterval } from '@carboncp/calibrator';
import { EXIT, type Command, type Io } from '../command.js';
import { parseCommon } from './partition.js';

const usage = `Usage: carboncp calibrate --data FILE --target COLUMN --features A,B,... [--method M]
                          [--alpha 0.1] [--warmup N] [--window N] [--bin COLUMN]
                          [--out intervals.csv] [--json]

Audits a conformal method's coverage on data in time order, as a deployment would see it: the
first N usable rows are only revealed (the method scores and learns from them), then every later
row gets an interval before its target is revealed, and is revealed after.

Data: CSV with a header line, or JSON Lines (.jsonl/.ndjson), e.g. the device SDK's telemetry
log (nested fields are dotted columns: footprint.totalCarbonG). Rows whose target or a feature
is missing or not a number are skipped (and counted).

Options:
  --data FILE         the rows, oldest first (required)
  --target COLUMN     what to bound (required), e.g. totalMs
  --features A,B,...  numeric columns the point predictor (online ridge regression) uses;
                      may be empty (--features '') for an intercept-only predictor
  --method M          conformal method (default split): METHODS
  --alpha A           miscoverage in (0, 1); intervals aim at coverage 1 - A (default 0.1)
  --warmup N          rows revealed before the first judged one (default 100)
  --window N          calibration scores kept (default: the method's)
  --bin COLUMN        mondrian: the column whose value is a row's bin (text or number)
  --out FILE          write row,lower,upper,target per judged row (CSV; row is the 1-based
                      data row; unbounded ends are -Infinity/Infinity)
  --json              print { "method", "alpha", "rows", "coverage", "meanWidth", ... }

Exit codes: 0 ok, 2 bad command line, 3 bad input (no such file, unreadable rows, an unknown
column, no usable row), 4 run-time error.`;

function parseAlpha(text: string | undefined): number {
  if (text === undefined) return 0.1;
  const a = Number(text);
  if (text.trim() === '' || !(a > 0 && a < 1)) throw new CarboncpError(ErrorCode.USAGE, `--alpha must be a number in (0, 1), got '${text}'`);
  return a;
}

function parseCount(text: string | undefined, flag: string, fallback: number | undefined, min: number): number | undefined {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < min) throw new CarboncpError(ErrorCode.USAGE, `${flag} must be a whole number >= ${min}, got '${text}'`);
  return Number(text);
}

function intervalsCsv(intervals: readonly AuditInterval[]): string {
  return ['row,lower,upper,target', ...intervals.map((i) => `${i.row},${i.lower},${i.upper},${i.target}`)].join('\n') + '\n';
}

async function run(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommon(
    args,
    {
      data: { type: 'string' },
      target: { type: 'string' },
      features: { type: 'string' },
      method: { type: 'string' },
      alpha: { type: 'string' },
      warmup: { type: 'string' },
      window: { type: 'string' },
      bin: { type: 'string' },
      out: { type: 'string' },
      json: { type: 'boolean' },
    },
    'calibrate',
  );
  if (positionals.length > 0) throw new CarboncpError(ErrorCode.USAGE, `calibrate: unexpected argument '${positionals[0]}'\n\n${usage}`);
  const data = values.data as string | undefined;
  const target = values.target as string | undefined;
  const featuresText = values.features as string | undefined;
  if (!data || !target || featuresText === undefined) {
    throw new CarboncpError(ErrorCode.USAGE, `calibrate: --data, --target and --features are required\n\n${usage.replace('METHODS', methodNames().join(', '))}`);
  }
  const features = featuresText.split(',').map((f) => f.trim()).filter((f) => f !== '');
  const alpha = parseAlpha(values.alpha as string | undefined);
  const warmup = parseCount(values.warmup as string | undefined, '--warmup', 100, 0)!;
  const window = parseCount(values.window as string | undefined, '--window', undefined, 1);
  const name = (values.method as string | undefined) ?? 'split';
  if (!methodNames().includes(name)) throw new CarboncpError(ErrorCode.USAGE, `--method must be one of ${methodNames().join(', ')}, got '${name}'`);
  const bin = values.bin as string | undefined;
  if (name === 'mondrian' && bin === undefined) throw new CarboncpError(ErrorCode.USAGE, '--method mondrian needs --bin COLUMN');

  let text: string;
  try {
    text = await readFile(data, 'utf8');
  } catch (cause) {
    throw new CarboncpError(ErrorCode.NOT_FOUND, `cannot read --data ${data}: ${(cause as Error).message}`, { cause });
  }
  let rows = parseTable(text, tableFormatOf(data));
  for (const column of [target, ...features, ...(bin ? [bin] : [])]) {
    if (!rows.some((r) => Object.hasOwn(r, column))) {
      throw new CarboncpError(ErrorCode.NOT_FOUND, `no row of ${data} has a column '${column}' (columns: ${Object.keys(rows[0] ?? {}).join(', ')})`);
    }
  }
  // A Mondrian bin is the row's bin value; it travels as one extra feature (a code per value)
  // that the bin function reads back, and that the point predictor sees as one more input.
  const codes = new Map<string, number>();
  const names: string[] = [];
  let columns = features;
  if (bin) {
    const binColumn = `\u0000bin`;
    rows = rows.map((r) => {
      const key = binCell(r, bin);
      if (!codes.has(key)) {
        codes.set(key, codes.size);
        names.push(key);
      }
      return { ...r, [binColumn]: codes.get(key)! };
    });
    columns = [...features, binColumn];
  }
  const method = createMethod(name, {
    alpha,
    dimensions: columns.length,
    ...(window !== undefined ? { window } : {}),
    ...(bin ? { binOf: (x: readonly number[]) => names[x[x.length - 1]!] ?? '' } : {}),
  });
  const { summary, intervals } = auditOnline(rows, { target, features: columns, warmup, method });
  if (summary.rows === 0) {
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `no row left to judge after a warmup of ${warmup} (${summary.skipped} rows skipped of ${rows.length})`);
  }
  if (values.out) await writeFile(values.out as string, intervalsCsv(intervals));
  if (values.json === true) {
    io.out(JSON.stringify({ ...summary, target, features, ...(bin ? { bin, bins: names.length } : {}) }, null, 2));
    return EXIT.OK;
  }
  const width = summary.meanWidth === null ? 'none finite' : summary.meanWidth.toPrecision(4);
  io.out(
    [
      `method ${summary.method}, alpha ${alpha} (target coverage ${(1 - alpha) * 100}%)`,
      `rows judged ${summary.rows} after ${summary.warmup} warm-up rows (${summary.skipped} skipped)`,
      `coverage ${(summary.coverage * 100).toFixed(2)}%   mean width ${width}${summary.infinite ? `   infinite intervals ${summary.infinite}` : ''}`,
    ].join('\n'),
  );
  return EXIT.OK;
}

export const command: Command = {
  name: 'calibrate',
  summary: 'audit a conformal method\'s coverage on data or telemetry in time order',
  get usage() {
    return usage.replace('METHODS', methodNames().join(', '));
  },
  run,
};
