import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { getPlan } from '@carboncp/core';
import { jsonNumbers, verifyPlans } from '@carboncp/core/node';
import { EXIT, type Command, type Io } from '../command.js';
import { parseInputShapeOption } from '../input-shape-option.js';
import { loadAndPartition, parseCommon, positiveInteger } from './partition.js';

const usage = `Usage: carboncp verify MODEL [--cuts all|ID,...] [--input-shape NAME=D,D,...]... [--tol 1e-4] [--seed 42] [--max-width 4] [--json]

Runs the full model and, for each chosen plan, its head then its tail (onnxruntime-node, CPU)
on the same seeded random inputs, and prints the largest absolute difference over all outputs.

Options:
  --cuts all|ID,...           plans to check (ids from 'carboncp partition'); default all
  --input-shape NAME=D,D,...  concrete input shape (repeatable), as for partition
  --tol X                     largest allowed difference (default 1e-4)
  --seed N                    seed of the random inputs (default 42)
  --max-width K               as for partition (default 4)
  --json                      print [{planId, maxAbsDiff, ok}] as JSON

Exit codes: 0 every plan within the tolerance, 1 some plan over it, 2 bad command line,
3 bad model, shape or plan id, 4 run-time error.`;

function nonNegativeNumber(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new CarboncpError(ErrorCode.USAGE, `${flag} must be a non-negative number, got '${value}'`);
  return n;
}

async function run(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommon(
    args,
    {
      cuts: { type: 'string' },
      'input-shape': { type: 'string', multiple: true },
      tol: { type: 'string' },
      seed: { type: 'string' },
      'max-width': { type: 'string' },
      json: { type: 'boolean' },
    },
    'verify',
  );
  if (positionals.length !== 1) {
    throw new CarboncpError(ErrorCode.USAGE, `verify: ${positionals.length === 0 ? 'missing MODEL' : `one MODEL expected, got ${positionals.length}`}\n\n${usage}`);
  }
  const tol = nonNegativeNumber(values.tol as string | undefined, '--tol', 1e-4);
  const seedText = values.seed as string | undefined;
  if (seedText !== undefined && !/^\d+$/.test(seedText)) throw new CarboncpError(ErrorCode.USAGE, `--seed must be a non-negative integer, got '${seedText}'`);
  const seed = seedText === undefined ? 42 : Number(seedText);
  const maxWidth = positiveInteger(values['max-width'] as string | undefined, '--max-width', 4);
  const specs = (values['input-shape'] as string[] | undefined) ?? [];
  const inputShapes = parseInputShapeOption(specs, 'verify');
  const cutsText = (values.cuts as string | undefined) ?? 'all';

  const partition = await loadAndPartition(positionals[0], inputShapes, maxWidth, io);
  const plans = cutsText === 'all' ? partition.plans.map((p) => p.id) : cutsText.split(',').map((id) => id.trim()).filter((id) => id !== '');
  if (plans.length === 0) throw new CarboncpError(ErrorCode.USAGE, `--cuts names no plan: '${cutsText}'`);
  for (const id of plans) getPlan(partition, id);

  const results = await verifyPlans(partition, {
    plans,
    tol,
    seed,
    inputShapes,
    onProgress: (done, total, planId, result) => io.err(`[${done}/${total}] ${planId}: max |diff| ${result.maxAbsDiff.toExponential(2)} ${result.ok ? 'ok' : 'OVER TOLERANCE'}`),
  });
  const failed = results.filter((r) => !r.ok);
  if (values.json === true) {
    io.out(JSON.stringify(results, jsonNumbers, 2));
  } else {
    const width = Math.max(4, ...results.map((r) => r.planId.length));
    io.out(
      [
        `${'plan'.padEnd(width)}  max |diff|  result`,
        ...results.map((r) => `${r.planId.padEnd(width)}  ${r.maxAbsDiff.toExponential(2).padStart(10)}  ${r.ok ? 'ok' : 'FAIL'}`),
        '',
        failed.length === 0
          ? `${results.length} plans of ${partition.model.name} within ${tol} (seed ${seed})`
          : `${failed.length} of ${results.length} plans over ${tol}: ${failed.map((r) => r.planId).join(', ')}`,
      ].join('\n'),
    );
  }
  return failed.length === 0 ? EXIT.OK : EXIT.CHECK_FAILED;
}

export const command: Command = {
  name: 'verify',
  summary: 'check that head then tail computes the same as the full model, per cut',
  usage,
  run,
};
