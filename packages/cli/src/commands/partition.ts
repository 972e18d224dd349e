import { parseArgs } from 'node:util';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { getPlan, type Partition, type Plan } from '@carboncp/core';
import { jsonNumbers, partitionWithProbe, readModelFile, writePlanFiles } from '@carboncp/core/node';
import { EXIT, type Command, type Io } from '../command.js';
import { parseInputShapeOption } from '../input-shape-option.js';

const usage = `Usage: carboncp partition MODEL [--input-shape NAME=1,3,224,224]... [--max-width 4] [--json]
       carboncp partition MODEL --at ID --out DIR [--input-shape ...]

Lists the cut points of an ONNX model: for each plan, the tensors the device would send, their
bytes per sample (and their size relative to the raw input: below 1x means the cut sends less
than the input itself), the head's and tail's MFLOPs per sample (a multiply-add counts 2) and
parameter bytes. 'server' runs everything on the server, 'device' everything on the device,
'split-K' puts the first K compute nodes on the device.

With --at and --out, writes that plan's head.onnx, tail.onnx and plan.json into DIR (a new or
empty directory; written atomically).

Options:
  --input-shape NAME=D,D,...  concrete shape of an input (repeatable); needed where an input
                              has symbolic dims other than the batch (which defaults to 1)
  --max-width K               most tensors a cut may send (default 4)
  --json                      print {model, plans} as JSON (unknown numbers are null)
  --at ID                     the plan to extract (an id from the table)
  --out DIR                   where to write it

Exit codes: 0 ok, 2 bad command line, 3 bad model, shape or plan id, 4 run-time error.`;

export interface PartitionArgs {
  model: string;
  inputShapes: Record<string, number[]> | undefined;
  maxWidth: number;
  json: boolean;
  at: string | undefined;
  out: string | undefined;
}

function usageError(message: string): CarboncpError {
  return new CarboncpError(ErrorCode.USAGE, `${message}\n\n${usage}`);
}

/** Parses flags; bad flags are CARBONCP_USAGE (exit 2). Shared with `verify`. */
export function parseCommon<T extends Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>>(
  args: string[],
  options: T,
  command: string,
): { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] } {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true }) as {
      values: Record<string, string | boolean | string[] | undefined>;
      positionals: string[];
    };
  } catch (cause) {
    throw new CarboncpError(ErrorCode.USAGE, `${command}: ${(cause as Error).message}; see 'carboncp ${command} --help'`, { cause });
  }
}

export function positiveInteger(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new CarboncpError(ErrorCode.USAGE, `${flag} must be a positive integer, got '${value}'`);
  return Number(value);
}

export function parsePartitionArgs(args: string[]): PartitionArgs {
  const { values, positionals } = parseCommon(
    args,
    {
      'input-shape': { type: 'string', multiple: true },
      'max-width': { type: 'string' },
      json: { type: 'boolean' },
      at: { type: 'string' },
      out: { type: 'string' },
    },
    'partition',
  );
  if (positionals.length !== 1) throw usageError(positionals.length === 0 ? 'partition: missing MODEL' : `partition: one MODEL expected, got ${positionals.length}`);
  const at = values.at as string | undefined;
  const out = values.out as string | undefined;
  if ((at === undefined) !== (out === undefined)) throw usageError('partition: --at and --out go together');
  const specs = (values['input-shape'] as string[] | undefined) ?? [];
  return {
    model: positionals[0],
    inputShapes: parseInputShapeOption(specs, 'partition'),
    maxWidth: positiveInteger(values['max-width'] as string | undefined, '--max-width', 4),
    json: values.json === true,
    at,
    out,
  };
}

/** Loads a model and partitions it, probing shapes (one seeded run) where the model lacks them. */
export async function loadAndPartition(path: string, inputShapes: Record<string, number[]> | undefined, maxWidth: number, io: Io): Promise<Partition> {
  io.err(`carboncp: reading ${path}`);
  const model = await readModelFile(path);
  io.err(`carboncp: partitioning ${model.name} (${model.model.graph!.node.length} nodes, ${formatBytes(model.bytes.byteLength)})`);
  return partitionWithProbe(model, { inputShapes, maxWidth });
}

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return '?';
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(2)} MiB`;
}

/** A shape of unknown rank (partitioned without a probe) shows as [?]. */
function formatShape(shape: (number | string)[] | null): string {
  return shape === null ? '[?]' : `[${shape.join(',')}]`;
}

function mflops(flops: number): string {
  return Number.isFinite(flops) ? (flops / 1e6).toFixed(2) : '?';
}

/** The cut table: one row per plan, padded columns, the ratio to the raw input marked where below 1. */
export function formatPlanTable(partition: Partition): string {
  const server = getPlan(partition, 'server');
  const inputBytes = server.bytesPerSample;
  const header = ['id', 'crossing tensors', 'bytes/sample', 'vs input', 'head MFLOPs', 'tail MFLOPs', 'head params', 'tail params'];
  const rows = partition.plans.map((plan: Plan) => {
    const ratio = plan.kind === 'device' ? '-' : Number.isFinite(plan.bytesPerSample / inputBytes) ? `${(plan.bytesPerSample / inputBytes).toFixed(2)}x${plan.bytesPerSample < inputBytes ? ' *' : ''}` : '?';
    return [
      plan.id,
      plan.kind === 'device' ? '(none: all on device)' : plan.crossing.map((c) => `${c.name}${formatShape(c.shape)}`).join(' '),
      plan.kind === 'device' ? '0' : Number.isFinite(plan.bytesPerSample) ? String(plan.bytesPerSample) : '?',
      ratio,
      mflops(plan.headFlops),
      mflops(plan.tailFlops),
      formatBytes(plan.headParamBytes),
      formatBytes(plan.tailParamBytes),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const numeric = new Set([2, 3, 4, 5, 6, 7]);
  const line = (cells: string[]): string => cells.map((c, i) => (numeric.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  const inputs = partition.model.inputs.map((i) => `${i.name} ${i.dtype} ${formatShape(server.crossing.find((c) => c.name === i.name)?.shape ?? i.shape)}`).join(', ');
  return [
    `model ${partition.model.name}  sha256 ${partition.model.digest}`,
    `input ${inputs}: ${Number.isFinite(inputBytes) ? inputBytes : '?'} bytes per sample`,
    '',
    line(header),
    ...rows.map(line),
    '',
    `${partition.plans.length} plans; '*' marks cuts that send less than the raw input. MFLOPs per sample, a multiply-add counts 2.`,
  ].join('\n');
}

export function partitionJson(partition: Partition): string {
  const { model } = partition;
  return JSON.stringify({ model: { name: model.name, digest: model.digest, inputs: model.inputs, outputs: model.outputs }, plans: partition.plans }, jsonNumbers, 2);
}

async function run(args: string[], io: Io): Promise<number> {
  const options = parsePartitionArgs(args);
  const partition = await loadAndPartition(options.model, options.inputShapes, options.maxWidth, io);
  if (options.at !== undefined && options.out !== undefined) {
    const plan = getPlan(partition, options.at);
    io.err(`carboncp: extracting ${plan.id} into ${options.out}`);
    const written = await writePlanFiles(options.out, partition, plan, options.inputShapes ? { inputShapes: options.inputShapes } : {});
    if (options.json) io.out(JSON.stringify({ files: written, plan }, jsonNumbers, 2));
    else io.out([`plan ${plan.id} (digest ${plan.digest})`, ...Object.values(written).map((path) => `wrote ${path}`)].join('\n'));
    return EXIT.OK;
  }
  io.out(options.json ? partitionJson(partition) : formatPlanTable(partition));
  return EXIT.OK;
}

export const command: Command = {
  name: 'partition',
  summary: 'list the cut points of an ONNX model, or extract one head/tail pair',
  usage,
  run,
};
