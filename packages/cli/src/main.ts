import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { EXIT, stdio, type Command, type Io } from './command.js';

// Loaded lazily so that `carboncp --help` does not load onnxruntime.
const commands: Record<string, () => Promise<{ command: Command }>> = {
  partition: () => import('./commands/partition.js'),
  verify: () => import('./commands/verify.js'),
  serve: () => import('./commands/serve.js'),
  demo: () => import('./commands/demo.js'),
};

const summaries: Record<string, string> = {
  partition: 'list the cut points of an ONNX model, or extract one head/tail pair',
  verify: 'check that head then tail computes the same as the full model, per cut',
  serve: 'run the companion server that executes model tails over WebSocket',
  demo: 'start a server and run live split inference on a bundled model',
};

export const HELP = `carboncp: carbon-aware split inference for edge AI

Usage: carboncp <command> [options]

Commands:
${Object.entries(summaries)
  .map(([name, summary]) => `  ${name.padEnd(10)} ${summary}`)
  .join('\n')}

Run 'carboncp <command> --help' for a command's options.

Exit codes: 0 ok, 1 a check failed, 2 bad command line, 3 bad input, 4 run-time error.`;

export async function main(argv: string[], io: Io = stdio): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.out(HELP);
    return name === undefined ? EXIT.USAGE : EXIT.OK;
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

export function reportError(error: unknown, io: Io): number {
  if (error instanceof CarboncpError) {
    io.err(`carboncp: ${error.code}: ${error.message}`);
    return error.code === ErrorCode.USAGE ? EXIT.USAGE : EXIT.BAD_INPUT;
  }
  io.err(`carboncp: ${(error as Error)?.stack ?? String(error)}`);
  return EXIT.RUNTIME;
}
