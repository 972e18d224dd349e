import { createRequire } from 'node:module';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { EXIT, stdio, type Command, type Io } from './command.js';

// Loaded lazily so that `carboncp --help` does not load onnxruntime.
const commands: Record<string, () => Promise<{ command: Command }>> = {
  partition: () => import('./commands/partition.js'),
  export: () => import('./commands/export.js'),
  verify: () => import('./commands/verify.js'),
  profile: () => import('./commands/profile.js'),
  serve: () => import('./commands/serve.js'),
  fleet: () => import('./commands/fleet.js'),
  demo: () => import('./commands/demo.js'),
  carbon: () => import('./commands/carbon.js'),
  calibrate: () => import('./commands/calibrate.js'),
  context: () => import('./commands/context.js'),
  simulate: () => import('./commands/simulate.js'),
};

const summaries: Record<string, string> = {
  partition: 'list the cut points of an ONNX model, or extract one head/tail pair',
  export: 'write a Triton model repository of a model\'s tails (export triton)',
  verify: 'check that head then tail computes the same as the full model, per cut',
  profile: 'measure every plan\'s head and tail latency on this machine, in one pass',
  serve: 'run the companion server that executes model tails over WebSocket',
  fleet: 'run several servers behind HAProxy on one machine (one port, load-aware, draining)',
  demo: 'start a server and run live split inference on a bundled model',
  carbon: 'print the grid carbon intensity at a time and its forecast, from a provider',
  calibrate: 'audit a conformal method\'s coverage on data or telemetry in time order',
  context: 'print what this device measures and estimates now (power, battery, carbon, server, network), with sources',
  simulate: 'compare split policies on real carbon and network traces (carbon, SLO, battery, regret)',
};

export const HELP = `carboncp: carbon-aware split inference for edge AI

Usage: carboncp <command> [options]

Commands:
${Object.entries(summaries)
  .map(([name, summary]) => `  ${name.padEnd(10)} ${summary}`)
  .join('\n')}

Run 'carboncp <command> --help' for a command's options, 'carboncp --version' for the version.

Exit codes: 0 ok, 1 a check failed, 2 bad command line, 3 bad input, 4 run-time error.`;

export async function main(argv: string[], io: Io = stdio): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.out(HELP);
    return name === undefined ? EXIT.USAGE : EXIT.OK;
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    io.out(VERSION);
    return EXIT.OK;
  }
  const load = commands[name];
  if (!load) {
    io.err(`carboncp: unknown command '${name}'\n\n${HELP}`);
    return EXIT.USAGE;
  }
  const { command } = await load();
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(command.usage);
    return EXIT.OK;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    return reportError(error, io);
  }
}

/** The version of this package (dist/ and src/ both sit next to package.json's folder level). */
export const VERSION: string = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

/** Codes that mean the command line was wrong: an option value the library refused is exit 2. */
const USAGE_CODES: ReadonlySet<string> = new Set([ErrorCode.USAGE, ErrorCode.INVALID_ARGUMENT]);
/** Codes of failures at run time, not of the input: exit 4. Every other code is bad input (3). */
const RUNTIME_CODES: ReadonlySet<string> = new Set([
  ErrorCode.INTERNAL,
  ErrorCode.TIMEOUT,
  ErrorCode.BUSY,
  ErrorCode.SHUTTING_DOWN,
  ErrorCode.CONNECTION_LOST,
  ErrorCode.NOT_READY,
  ErrorCode.UNAUTHORIZED,
  ErrorCode.WORKER_EXITED,
  ErrorCode.LISTEN,
  ErrorCode.WRITE_FAILED,
  ErrorCode.PROVIDER,
  ErrorCode.RATE_LIMITED,
]);

/** The exit code of a failed command (see EXIT and the README's table). */
export function exitCodeOf(error: unknown): number {
  if (!(error instanceof CarboncpError)) return EXIT.RUNTIME;
  if (USAGE_CODES.has(error.code)) return EXIT.USAGE;
  return RUNTIME_CODES.has(error.code) ? EXIT.RUNTIME : EXIT.BAD_INPUT;
}

export function reportError(error: unknown, io: Io): number {
  if (error instanceof CarboncpError) {
    io.err(`carboncp: ${error.code}: ${error.message}`);
    return exitCodeOf(error);
  }
  io.err(`carboncp: ${(error as Error)?.stack ?? String(error)}`);
  return EXIT.RUNTIME;
}
