import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import type { Plan } from '@carboncp/core';
import { EXIT, type Command, type Io } from '../command.js';
import { parseInputShapeOption } from '../input-shape-option.js';
import { loadAndPartition, parseCommon, positiveInteger } from './partition.js';
import { writeTritonRepository, type TritonBatching } from './triton-repository.js';

const usage = `Usage: carboncp export triton --model MODEL --out REPO [--cuts ID,ID,...] [--input-shape NAME=D,D,...]...
                              [--max-batch N] [--preferred-batch N,N,...] [--max-queue-delay-us US]

Writes an NVIDIA Triton model repository of the model's tails, so that a GPU fleet runs them:
one model per plan, REPO/<name>/config.pbtxt and REPO/<name>/1/model.onnx (onnxruntime
backend, platform onnxruntime_onnx). The 'server' plan (the whole model) is named after the
model; a split plan's tail is '<model>.tail.<planId>', the name 'carboncp serve' gives it on
its KServe route and asks for with --tail-backend. Inputs, outputs, data types and dims come
from each tail's ONNX file; where every input and output has a symbolic first dim it is the
batch: max_batch_size N, dims without it, and dynamic_batching on (otherwise max_batch_size 0).

Options:
  --model MODEL               the .onnx model
  --out REPO                  the repository directory (new or empty; written atomically)
  --cuts ID,ID,...            plan ids to export (default: every plan with a tail, 'server' included)
  --input-shape NAME=D,D,...  concrete input shape (repeatable); needed where an input has
                              symbolic dims other than the batch, to find the cuts
  --max-width K               most tensors a cut may send (default 4)
  --max-batch N               max_batch_size of batchable tails (default 8; 0 turns batching off)
  --preferred-batch N,N,...   dynamic_batching preferred_batch_size (default: the powers of 2 up to --max-batch)
  --max-queue-delay-us US     dynamic_batching max_queue_delay_microseconds (default 100)

Exit codes: 0 ok, 2 bad command line, 3 bad model, shape or plan id, 4 run-time error.`;

export interface ExportTritonArgs {
  model: string;
  out: string;
  cuts: string[] | undefined;
  inputShapes: Record<string, number[]> | undefined;
  maxWidth: number;
  batching: TritonBatching;
}

function usageError(message: string): CarboncpError {
  return new CarboncpError(ErrorCode.USAGE, `export: ${message}\n\n${usage}`);
}

function integerList(value: string, flag: string): number[] {
  const items = value.split(',').map((s) => s.trim());
  if (items.some((s) => !/^\d+$/.test(s) || Number(s) < 1)) throw usageError(`${flag} takes positive integers separated by commas, got '${value}'`);
  return items.map(Number);
}

export function parseExportArgs(args: string[]): ExportTritonArgs {
  const [target, ...rest] = args;
  if (target !== 'triton') throw usageError(target === undefined ? 'missing the target (triton)' : `unknown target '${target}'; the one target is triton`);
  const { values, positionals } = parseCommon(
    rest,
    {
      model: { type: 'string' },
      out: { type: 'string' },
      cuts: { type: 'string' },
      'input-shape': { type: 'string', multiple: true },
      'max-width': { type: 'string' },
      'max-batch': { type: 'string' },
      'preferred-batch': { type: 'string' },
      'max-queue-delay-us': { type: 'string' },
    },
    'export',
  );
  if (positionals.length > 0) throw usageError(`unexpected argument '${positionals[0]}'`);
  const model = values.model as string | undefined;
  const out = values.out as string | undefined;
  if (model === undefined) throw usageError('--model is required');
  if (out === undefined) throw usageError('--out is required');
  const maxBatchText = values['max-batch'] as string | undefined;
  if (maxBatchText !== undefined && !/^\d+$/.test(maxBatchText)) throw usageError(`--max-batch must be an integer >= 0, got '${maxBatchText}'`);
  const maxBatch = maxBatchText === undefined ? 8 : Number(maxBatchText);
  const preferredText = values['preferred-batch'] as string | undefined;
  const preferred = preferredText === undefined ? [1, 2, 4, 8, 16, 32, 64, 128, 256].filter((n) => n <= maxBatch && n > 1) : integerList(preferredText, '--preferred-batch');
  const over = preferred.filter((n) => n > maxBatch);
  if (over.length > 0) throw usageError(`--preferred-batch ${over.join(',')} exceeds --max-batch ${maxBatch}`);
  const delay = values['max-queue-delay-us'] as string | undefined;
  if (delay !== undefined && !/^\d+$/.test(delay)) throw usageError(`--max-queue-delay-us must be an integer >= 0, got '${delay}'`);
  const cuts = values.cuts === undefined ? undefined : [...new Set((values.cuts as string).split(',').map((s) => s.trim()).filter(Boolean))];
  if (cuts !== undefined && cuts.length === 0) throw usageError('--cuts needs at least one plan id');
  return {
    model,
    out,
    cuts,
    inputShapes: parseInputShapeOption((values['input-shape'] as string[] | undefined) ?? [], 'export'),
    maxWidth: positiveInteger(values['max-width'] as string | undefined, '--max-width', 4),
    batching: { maxBatch, preferred, maxQueueDelayUs: delay === undefined ? 100 : Number(delay) },
  };
}

async function run(args: string[], io: Io): Promise<number> {
  const parsed = parseExportArgs(args);
  const partition = await loadAndPartition(parsed.model, parsed.inputShapes, parsed.maxWidth, io);
  const withTail = partition.plans.filter((p) => p.kind !== 'device');
  let plans: Plan[] = withTail;
  if (parsed.cuts) {
    plans = parsed.cuts.map((id) => {
      const plan = partition.plans.find((p) => p.id === id);
      if (!plan) throw new CarboncpError(ErrorCode.UNKNOWN_PLAN, `model '${partition.model.name}' has no plan '${id}'; see 'carboncp partition ${parsed.model}'`);
      if (plan.kind === 'device') throw new CarboncpError(ErrorCode.UNKNOWN_PLAN, `plan '${id}' runs entirely on the device; it has no tail to export`);
      return plan;
    });
  }
  const entries = await writeTritonRepository(parsed.out, partition, plans, parsed.batching);
  for (const entry of entries) {
    const batch = entry.config.maxBatchSize > 0 ? `max_batch_size ${entry.config.maxBatchSize}` : 'no batching';
    io.out(`${entry.name}  (plan ${entry.plan.id}; ${entry.config.inputs.map((t) => t.name).join(', ')} -> ${entry.config.outputs.map((t) => t.name).join(', ')}; ${batch})`);
  }
  io.err(`carboncp: wrote ${entries.length} model(s) into ${parsed.out}`);
  return EXIT.OK;
}

export const command: Command = {
  name: 'export',
  summary: 'write a Triton model repository of a model\'s tails (export triton)',
  usage,
  run,
};
