import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import type { Plan } from '@carboncp/core';
import { maxAbsDiffOfOutputs, readModelFile, seededInputs } from '@carboncp/core/node';
import { createClient, type CarboncpClient, type RequestTelemetry } from '@carboncp/device/node';
import { ensureModel, getZooModel, listModels } from '@carboncp/models';
import { COMPRESSIONS, CarboncpError, compressionList, isCompression, type Compression, ErrorCode } from '@carboncp/protocol';
import { startServer } from '@carboncp/server';
import { EXIT, type Command, type Io } from '../command.js';
import { parseInputShapeOption, shapesForModel } from '../input-shape-option.js';
import { formatAutoReport, runAutoDemo } from './demo-auto.js';

const DEFAULT_MODELS = ['resnet18', 'ppocr-cls'];
/** Requests per candidate before the auto steps: enough scores for finite bounds at alpha 0.1 (9). */
const AUTO_WARMUP = 10;
/** Output error allowed per compression; 'none' must match local inference (float noise only). */
export const DEMO_TOLERANCE: Record<Compression, number> = { none: 1e-4, fp16: 5e-2, int8: 5e-1 };

const usage = `Usage: carboncp demo [--model NAME|PATH]... [--input-shape NAME=D,D,...]... [--cuts ID,ID,...] [--runs N] [--compression ${COMPRESSIONS.join('|')}] [--tol X] [--json]

Starts a carboncp server on 127.0.0.1 (a free port), connects a device client to it and runs
split inference at several cuts, printing per cut the bytes sent and the head, transfer, tail
and total milliseconds (median of the runs), and the largest difference from running the whole
model locally.

Options:
  --model NAME|PATH   a zoo model or an .onnx file; repeatable; default: ${DEFAULT_MODELS.join(' and ')}
                      zoo: ${listModels().map((m) => m.name).join(', ')}
  --input-shape NAME=D,D,...
                      input shape (repeatable); applies to each model with an input NAME,
                      over a zoo model's own shape; needed for a file with symbolic dims
  --cuts ID,...       plan ids to run (see 'carboncp partition'); default: server, three splits
                      (early, middle, late; preferring those that send less than the input), device
  --runs N            timed runs per cut after one warm-up run; default 3
  --compression C     compress crossing activations: ${compressionList('')} (default none)
  --tol X             largest allowed max-abs difference; default ${DEMO_TOLERANCE.none} (fp16: ${DEMO_TOLERANCE.fp16}, int8: ${DEMO_TOLERANCE.int8})
  --auto-steps N      then run N requests with cut 'auto' (default 16; 0: none): the calibrated
                      carbon-aware decision on --auto-model over a replayed Mahimahi cellular
                      uplink, with GB (device) and FR (server) grid intensity advancing an hour
                      per request; prints each step and the latency intervals' coverage
  --auto-model NAME   zoo model of the auto section (default resnet18)
  --slo-ms N          latency SLO of the auto section (default 700)
  --json              print the results as JSON

Exit codes: 0 every cut ran split/remote and matched local inference, 1 a cut fell back to local
execution or differed by more than the tolerance, 2 bad flags, 3 bad model or cut, 4 run-time error.`;

interface DemoOptions {
  autoSteps: number;
  autoModel: string;
  sloMs: number;
  models: string[];
  inputShapes: Record<string, number[]> | undefined;
  cuts: string[] | undefined;
  runs: number;
  compression: Compression;
  tol: number;
  json: boolean;
}

export interface DemoRow {
  cut: string;
  path: RequestTelemetry['path'];
  bytesUp: number;
  bytesDown: number;
  /** Medians of the request telemetry (device clock; serverMs on the server's): see RequestTelemetry. */
  waitMs: number;
  headMs: number;
  transferMs: number;
  /** serverMs (which includes the server's queue time) + tailLocalMs. */
  tailMs: number;
  totalMs: number;
  maxAbsDiff: number;
  ok: boolean;
  error?: string;
}

export interface DemoModelReport {
  model: string;
  file: string;
  inputShapes: Record<string, number[]>;
  inputBytes: number;
  splits: number;
  /** Split plans that send fewer bytes per sample than the raw input, in plan order. */
  worthShipping: { id: string; bytesPerSample: number }[];
  rows: DemoRow[];
}

function usageError(message: string): never {
  throw new CarboncpError(ErrorCode.USAGE, `${message}\n\n${usage}`);
}

export function parseDemoArgs(args: string[]): DemoOptions {
  const shapeSpecs: string[] = [];
  const options: DemoOptions = { autoSteps: 16, autoModel: 'resnet18', sloMs: 700, models: [], inputShapes: undefined, cuts: undefined, runs: 3, compression: 'none', tol: NaN, json: false };
  for (let i = 0; i < args.length; i++) {
    const flag = args[i];
    const value = () => {
      const next = args[++i];
      if (next === undefined || next.startsWith('--')) usageError(`${flag} needs a value`);
      return next;
    };
    switch (flag) {
      case '--model':
        options.models.push(value());
        break;
      case '--input-shape':
        shapeSpecs.push(value());
        break;
      case '--cuts':
        options.cuts = value().split(',').map((cut) => cut.trim()).filter(Boolean);
        if (options.cuts.length === 0) usageError('--cuts needs at least one plan id');
        break;
      case '--runs': {
        const text = value();
        const runs = Number(text);
        if (!Number.isInteger(runs) || runs < 1 || runs > 1000) usageError(`--runs must be an integer from 1 to 1000, got '${text}'`);
        options.runs = runs;
        break;
      }
      case '--compression': {
        const text = value();
        if (!isCompression(text)) usageError(`--compression must be ${compressionList('')}, got '${text}'`);
        options.compression = text;
        break;
      }
      case '--tol': {
        const text = value();
        const tol = Number(text);
        if (!(tol >= 0) || !Number.isFinite(tol)) usageError(`--tol must be a non-negative number, got '${text}'`);
        options.tol = tol;
        break;
      }
      case '--json':
        options.json = true;
        break;
      case '--auto-steps': {
        const text = value();
        if (!/^\d+$/.test(text) || Number(text) > 10_000) usageError(`--auto-steps must be an integer from 0 to 10000, got '${text}'`);
        options.autoSteps = Number(text);
        break;
      }
      case '--auto-model': {
        const text = value();
        if (!listModels().some((m) => m.name === text)) usageError(`--auto-model must be a zoo model (${listModels().map((m) => m.name).join(', ')}), got '${text}'`);
        options.autoModel = text;
        break;
      }
      case '--slo-ms': {
        const text = value();
        const slo = Number(text);
        if (!(slo > 0) || !Number.isFinite(slo)) usageError(`--slo-ms must be a positive number, got '${text}'`);
        options.sloMs = slo;
        break;
      }
      default:
        usageError(`unknown option '${flag}'`);
    }
  }
  if (options.models.length === 0) options.models = [...DEFAULT_MODELS];
  options.inputShapes = parseInputShapeOption(shapeSpecs, 'demo');
  if (Number.isNaN(options.tol)) options.tol = DEMO_TOLERANCE[options.compression];
  return options;
}

/** Every --input-shape name must be an input of some model (a typo would otherwise be ignored). */
async function checkShapeNames(options: DemoOptions): Promise<void> {
  const names = new Set<string>();
  for (const spec of options.models) {
    const { file } = await resolveModel(spec);
    for (const input of (await readModelFile(file)).inputs) names.add(input.name);
  }
  const unknown = Object.keys(options.inputShapes ?? {}).filter((name) => !names.has(name));
  if (unknown.length > 0) {
    throw new CarboncpError(ErrorCode.UNKNOWN_INPUT, `--input-shape names ${unknown.map((n) => `'${n}'`).join(', ')}, not an input of ${options.models.join(', ')} (inputs: ${[...names].join(', ')})`);
  }
}

/** Server first, then early/middle/late splits (preferring ones smaller than the input), then device. */
export function chooseCuts(plans: readonly Plan[]): string[] {
  const server = plans.find((plan) => plan.kind === 'server');
  const splits = plans.filter((plan) => plan.kind === 'split');
  const smaller = server ? splits.filter((plan) => plan.bytesPerSample < server.bytesPerSample) : [];
  const pool = smaller.length >= 3 ? smaller : splits;
  const picked = new Set<string>();
  for (const fraction of [0.15, 0.5, 0.85]) {
    const plan = pool[Math.min(pool.length - 1, Math.floor(fraction * pool.length))];
    if (plan) picked.add(plan.id);
  }
  return [
    ...(server ? [server.id] : []),
    ...splits.filter((plan) => picked.has(plan.id)).map((plan) => plan.id),
    ...plans.filter((plan) => plan.kind === 'device').map((plan) => plan.id),
  ];
}

const median = (values: number[]) => {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

async function resolveModel(spec: string): Promise<{ name: string; file: string; inputShapes?: Record<string, number[]> }> {
  if (listModels().some((model) => model.name === spec)) {
    return { name: spec, file: await ensureModel(spec), inputShapes: getZooModel(spec).inputShapes };
  }
  if (existsSync(spec)) return { name: basename(spec), file: spec };
  throw new CarboncpError(
    ErrorCode.NOT_FOUND,
    `'${spec}' is neither a zoo model (${listModels().map((m) => m.name).join(', ')}) nor an existing .onnx file`,
  );
}

async function runModel(
  spec: string,
  options: DemoOptions,
  io: Io,
): Promise<DemoModelReport> {
  const resolved = await resolveModel(spec);
  const { name, file } = resolved;
  const inputShapes = options.inputShapes
    ? shapesForModel((await readModelFile(file)).inputs.map((input) => input.name), resolved.inputShapes, options.inputShapes)
    : resolved.inputShapes;
  io.err(`[demo] ${name}: starting a server and partitioning ${file}`);
  const served = basename(file).replace(/\.onnx$/i, '');
  const server = await startServer({
    models: [file],
    host: '127.0.0.1',
    port: 0,
    ...(inputShapes ? { inputShapes: { [served]: inputShapes } } : {}),
    log: () => {},
  });
  let client: CarboncpClient | undefined;
  try {
    client = await createClient({ model: file, server: server.url, ...(inputShapes ? { inputShapes } : {}), compression: options.compression });
    await client.ready(10_000);
    const plans = client.plans;
    const cuts = options.cuts ?? chooseCuts(plans);
    for (const cut of cuts) client.remoteStatus(cut); // unknown ids fail here, before any run
    const serverPlan = plans.find((plan) => plan.kind === 'server');
    const inputBytes = serverPlan?.bytesPerSample ?? NaN;
    const splits = plans.filter((plan) => plan.kind === 'split');
    const report: DemoModelReport = {
      model: name,
      file,
      inputShapes: inputShapes ?? {},
      inputBytes,
      splits: splits.length,
      worthShipping: splits.filter((plan) => plan.bytesPerSample < inputBytes).map((plan) => ({ id: plan.id, bytesPerSample: plan.bytesPerSample })),
      rows: [],
    };
    const feeds = seededInputs(client.partition.model, inputShapes, 42);
    const reference = (await client.infer(feeds, { cut: 'device' })).outputs;
    for (const cut of cuts) {
      const samples: RequestTelemetry[] = [];
      let worst = 0;
      for (let run = 0; run <= options.runs; run++) {
        const { outputs, telemetry } = await client.infer(feeds, { cut });
        // Strict about NaN: a cut whose outputs are NaN like the reference's has shown nothing.
        worst = Math.max(worst, maxAbsDiffOfOutputs(outputs, reference, { equalNaN: false }));
        if (run > 0) samples.push(telemetry); // run 0 loads the sessions
      }
      const fellBack = samples.find((t) => t.path === 'local-fallback');
      const row: DemoRow = {
        cut,
        path: fellBack ? 'local-fallback' : samples[0].path,
        bytesUp: median(samples.map((t) => t.bytesUp)),
        bytesDown: median(samples.map((t) => t.bytesDown)),
        waitMs: median(samples.map((t) => t.waitMs)),
        headMs: median(samples.map((t) => t.headMs)),
        transferMs: median(samples.map((t) => t.transferMs)),
        // serverMs already includes queueMs (the telemetry contract): adding it again double-counts.
        tailMs: median(samples.map((t) => t.serverMs + t.tailLocalMs)),
        totalMs: median(samples.map((t) => t.totalMs)),
        maxAbsDiff: worst,
        ok: worst <= options.tol && !fellBack,
        ...(fellBack?.error ? { error: `${fellBack.error.code}: ${fellBack.error.message}` } : {}),
      };
      report.rows.push(row);
      io.err(`[demo] ${name} ${cut}: ${row.totalMs.toFixed(1)} ms (${row.path})`);
    }
    return report;
  } finally {
    await client?.close();
    await server.close({ drainMs: 1_000 });
  }
}

/** How many of the cuts that send less than the input the text report names. */
const CHEAPEST_LISTED = 6;

/** Bytes for people: whole bytes below 1 KiB (a cut after the last layer sends a few), else KiB. */
const formatBytes = (bytes: number) => (!Number.isFinite(bytes) ? '?' : bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} KiB`);

export function formatReport(report: DemoModelReport, tol: number): string {
  const shapes = Object.entries(report.inputShapes).map(([n, s]) => `${n} [${s.join(', ')}]`).join(', ');
  const worth = report.worthShipping;
  const cheapest = [...worth].sort((a, b) => a.bytesPerSample - b.bytesPerSample).slice(0, CHEAPEST_LISTED);
  const lines = [
    `${report.model}  (${report.file})`,
    `  input ${shapes || '(model shapes)'}: ${formatBytes(report.inputBytes)} per sample; ${report.splits} split cuts, ` +
      `${worth.length} send less than the input` +
      (worth.length
        ? `; cheapest: ${cheapest.map((p) => `${p.id} ${formatBytes(p.bytesPerSample)}`).join(', ')}${worth.length > CHEAPEST_LISTED ? ', …' : ''}`
        : ''),
    '',
  ];
  const header = ['cut', 'path', 'bytes up', 'wait ms', 'head ms', 'transfer ms', 'tail ms', 'total ms', 'max abs diff', ''];
  const rows = report.rows.map((row) => [
    row.cut,
    row.path,
    String(row.bytesUp),
    row.waitMs.toFixed(2),
    row.headMs.toFixed(2),
    row.transferMs.toFixed(2),
    row.tailMs.toFixed(2),
    row.totalMs.toFixed(2),
    row.maxAbsDiff.toExponential(2),
    row.ok ? 'ok' : row.error ? `FALLBACK ${row.error}` : `OVER ${tol}`,
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const format = (cells: string[]) =>
    `  ${cells.map((cell, c) => (c === 0 || c === 1 || c === cells.length - 1 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ')}`.trimEnd();
  lines.push(format(header), ...rows.map(format));
  return lines.join('\n');
}

export const command: Command = {
  name: 'demo',
  summary: 'start a server and run live split inference on a bundled model',
  usage,
  async run(args: string[], io: Io): Promise<number> {
    const options = parseDemoArgs(args);
    if (options.inputShapes) await checkShapeNames(options);
    const reports: DemoModelReport[] = [];
    for (const spec of options.models) {
      const report = await runModel(spec, options, io);
      reports.push(report);
      if (!options.json) io.out(`${formatReport(report, options.tol)}\n`);
    }
    const auto = options.autoSteps > 0 ? await runAutoDemo({ model: options.autoModel, steps: options.autoSteps, warmup: AUTO_WARMUP, sloMs: options.sloMs }, io) : undefined;
    if (auto && !options.json) io.out(`${formatAutoReport(auto)}\n`);
    const ok = reports.every((report) => report.rows.every((row) => row.ok));
    if (options.json) io.out(JSON.stringify({ compression: options.compression, tol: options.tol, ok, models: reports, ...(auto ? { auto } : {}) }, null, 2));
    else io.out(ok ? `all cuts match local inference within ${options.tol}` : `some cuts fell back or exceeded ${options.tol}`);
    return ok ? EXIT.OK : EXIT.CHECK_FAILED;
  },
};
