/** One `carboncp` sub-command. Each lives in its own file under `commands/`. */
export interface Command {
  name: string;
  summary: string;
  /** Full help text printed by `carboncp NAME --help`. */
  usage: string;
  /** Returns the process exit code (see EXIT in this file). */
  run(args: string[], io: Io): Promise<number>;
}

export interface Io {
  /** Results (tables, JSON) go to stdout. */
  out(text: string): void;
  /** Progress and diagnostics go to stderr, so `--json` output stays parseable. */
  err(text: string): void;
}

/** Exit codes, documented in packages/cli/README.md. */
export const EXIT = {
  OK: 0,
  /** A check failed: verify found a cut over tolerance, the demo saw a mismatch. */
  CHECK_FAILED: 1,
  /** Bad command line: unknown command or flag, missing argument. */
  USAGE: 2,
  /** Bad input: not ONNX, truncated, unknown cut id, a shape that does not fit. */
  BAD_INPUT: 3,
  /** Anything else went wrong at run time (server failed to start, I/O error). */
  RUNTIME: 4,
} as const;

export const stdio: Io = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
};
