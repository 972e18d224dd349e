import { writeFile } from 'node:fs/promises';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import type { ModelProfile } from '@carboncp/core';
import { jsonNumbers, profileModel, type ExecutionProvider } from '@carboncp/core/node';
import { EXIT, type Command, type Io } from '../command.js';
import { parseInputShapeOption } from '../input-shape-option.js';
import { loadAndPartition, parseCommon, positiveInteger } from './partition.js';

const usage = `Usage: carboncp profile MODEL [--input-shape NAME=D,D,...]... [--runs 20] [--warmup 3] [--threads N] [--ep cpu|cuda] [--check-cuts 5] [--check-runs 10] [--opt-level all] [--out FILE] [--json]

Measures every plan's head and tail latency on this machine without running each half:
onnxruntime profiles each node of --runs full-model runs, node times are summed per segment
between cuts, and each half is charged the per-run overhead (wall time minus node time) once.
Then the real halves of --check-cuts cuts are run and the gap to the prediction is reported.

Options:
  --input-shape NAME=D,D,...  concrete input shape (repeatable), as for partition
  --runs N                    profiled full-model runs (default 20)
  --warmup N                  untimed runs first (default 3)
  --threads N                 onnxruntime intra-op threads (default: onnxruntime's)
  --ep cpu|cuda               execution provider (default cpu)
  --check-cuts N              cuts whose real halves are timed against the prediction (default 5; 0: none)
  --check-runs N              timed runs per checked half (default 10)
  --opt-level LEVEL           onnxruntime graph optimisation: disabled|basic|extended|all (default all, as
                              carboncp's sessions run)
  --max-width K               as for partition (default 4)
  --out FILE                  write the profile JSON to FILE
  --json                      print the profile JSON on stdout instead of the table

Exit codes: 0 ok, 2 bad command line, 3 bad model or shape, 4 run-time error.`;

const LEVELS = ['disabled', 'basic', 'extended', 'all'] as const;

function count(value: string | undefined, flag: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < min) throw new CarboncpError(ErrorCode.USAGE, `${flag} must be an integer >= ${min}, got '${value}'`);
  return Number(value);
}

async function run(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommon(
    args,
    {
      'input-shape': { type: 'string', multiple: true },
      runs: { type: 'string' },
      warmup: { type: 'string' },
      threads: { type: 'string' },
      ep: { type: 'string' },
      'check-cuts': { type: 'string' },
      'check-runs': { type: 'string' },
      'opt-level': { type: 'string' },
      'max-width': { type: 'string' },
      out: { type: 'string' },
      json: { type: 'boolean' },
    },
    'profile',
  );
  if (positionals.length !== 1) {
    throw new CarboncpError(ErrorCode.USAGE, `profile: ${positionals.length === 0 ? 'missing MODEL' : `one MODEL expected, got ${positionals.length}`}\n\n${usage}`);
  }
  const runs = count(values.runs as string | undefined, '--runs', 20, 1);
  const warmup = count(values.warmup as string | undefined, '--warmup', 3, 0);
  const threadsText = values.threads as string | undefined;
  const threads = threadsText === undefined ? undefined : count(threadsText, '--threads', 1, 1);
  const checkCuts = count(values['check-cuts'] as string | undefined, '--check-cuts', 5, 0);
  const checkRuns = count(values['check-runs'] as string | undefined, '--check-runs', 10, 1);
  const ep = (values.ep as string | undefined) ?? 'cpu';
  if (ep !== 'cpu' && ep !== 'cuda') throw new CarboncpError(ErrorCode.USAGE, `--ep must be cpu or cuda, got '${ep}'`);
  const level = (values['opt-level'] as string | undefined) ?? 'all';
  if (!(LEVELS as readonly string[]).includes(level)) throw new CarboncpError(ErrorCode.USAGE, `--opt-level must be one of ${LEVELS.join(', ')}, got '${level}'`);
  const maxWidth = positiveInteger(values['max-width'] as string | undefined, '--max-width', 4);
  const inputShapes = parseInputShapeOption((values['input-shape'] as string[] | undefined) ?? [], 'profile');

  const partition = await loadAndPartition(positionals[0], inputShapes, maxWidth, io);
  io.err(`carboncp: profiling ${partition.plans.length} plans of ${partition.model.name} (${warmup} + ${runs} full runs)`);
  const profile = await profileModel(partition, {
    inputShapes,
    runs,
    warmup,
    threads,
    executionProvider: ep as ExecutionProvider,
    graphOptimizationLevel: level as (typeof LEVELS)[number],
    checkCuts,
    checkRuns,
    log: (message) => io.err(`carboncp: ${message}`),
  });
  const json = JSON.stringify(profile, jsonNumbers, 2);
  const out = values.out as string | undefined;
  if (out !== undefined) {
    try {
      await writeFile(out, `${json}\n`);
    } catch (cause) {
      throw new CarboncpError(ErrorCode.IO, `cannot write the profile to ${out}: ${(cause as Error).message}`, { cause });
    }
    io.err(`carboncp: wrote ${out}`);
  }
  io.out(values.json === true ? json : formatProfile(profile));
  return EXIT.OK;
}

const pct = (x: number): string => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`;
const ms = (value: number, n: number): string => (n === 0 ? '-' : value.toFixed(2));

/** The profile as a table: one row per plan, head and tail median [p10, p90], then the check. */
export function formatProfile(profile: ModelProfile): string {
  const width = Math.max(4, ...profile.plans.map((p) => p.id.length));
  const half = (d: ModelProfile['plans'][number]['head']): string =>
    d.n === 0 ? '-'.padStart(24) : `${ms(d.medianMs, d.n).padStart(8)} [${ms(d.p10Ms, d.n)}, ${ms(d.p90Ms, d.n)}]`.padStart(24);
  const d = profile.device;
  const m = profile.method;
  const lines = [
    `${profile.modelName} on ${d.cpu} (${d.cores} cores, ${d.os}), onnxruntime ${d.onnxruntime} ${d.executionProvider}, threads ${d.threads ?? 'default'}, optimisation ${d.graphOptimizationLevel}`,
    `full model ${m.fullModel.medianMs.toFixed(2)} ms median of ${m.runs}; node time ${m.attributedMs.toFixed(2)} ms attributed, ${m.unattributedMs.toFixed(2)} ms unattributed; overhead ${m.overheadMs.toFixed(2)} ms per half`,
    '',
    `${'plan'.padEnd(width)}  ${'head ms [p10, p90]'.padStart(24)}  ${'tail ms [p10, p90]'.padStart(24)}`,
    ...profile.plans.map((p) => `${p.id.padEnd(width)}  ${half(p.head)}  ${half(p.tail)}`),
  ];
  const check = profile.segmentCheck;
  if (check) {
    lines.push(
      '',
      `check (${check.runs} paired runs per half): median |gap| ${(check.medianAbsGap * 100).toFixed(1)}% drift-corrected, ${(check.medianAbsRawGap * 100).toFixed(1)}% raw; max ${(check.maxAbsGap * 100).toFixed(1)}% (goal ${(check.goal * 100).toFixed(0)}%: ${check.met ? 'met' : 'NOT met'})`,
      ...check.gaps.map(
        (g) =>
          `  ${g.planId} ${g.half}: predicted ${g.predictedMs.toFixed(2)} ms, measured ${g.measuredMs.toFixed(2)} ms with the full model at ${g.fullModelMs.toFixed(2)} ms (${pct(g.gap)}, raw ${pct(g.rawGap)})`,
      ),
    );
  }
  return lines.join('\n');
}

export const command: Command = {
  name: 'profile',
  summary: 'measure every plan\'s head and tail latency on this machine, in one pass',
  usage,
  run,
};
