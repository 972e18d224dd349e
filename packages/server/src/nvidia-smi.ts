/**
 * The server's GPU power draw from `nvidia-smi --query-gpu=power.draw --format=csv,noheader,nounits`:
 * one line per GPU in watts, or `[N/A]` / `[Not Supported]` where the board does not report it.
 * Read on the server's power timer (server-carbon.ts), never on a request.
 */
import { execFile, execFileSync } from 'node:child_process';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import type { ServerPowerReading, ServerPowerSource } from './server-carbon.js';

export const NVIDIA_SMI_ARGS = ['--query-gpu=power.draw', '--format=csv,noheader,nounits'];

/** The sum of the GPUs' draws in `stdout`; CARBONCP_IO when no GPU reports a number. */
export function parseNvidiaSmiPower(stdout: string): ServerPowerReading {
  const lines = stdout.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  const watts = lines.map(Number).filter((w) => Number.isFinite(w) && w >= 0);
  if (watts.length === 0) {
    throw new CarboncpError(ErrorCode.IO, `nvidia-smi reported no power draw (output: ${JSON.stringify(stdout.slice(0, 200))})`);
  }
  const skipped = lines.length - watts.length;
  return {
    watts: watts.reduce((a, b) => a + b, 0),
    kind: 'measured',
    source: `nvidia-smi power.draw (${watts.length} GPU${watts.length === 1 ? '' : 's'}${skipped > 0 ? `, ${skipped} not reporting` : ''})`,
  };
}

/** A power source that runs nvidia-smi (`command`, default 'nvidia-smi' on PATH) on each read. */
export function nvidiaSmiPowerSource(options: { command?: string; timeoutMs?: number } = {}): ServerPowerSource {
  const command = options.command ?? 'nvidia-smi';
  return {
    read: () =>
      new Promise((resolve, reject) => {
        execFile(command, NVIDIA_SMI_ARGS, { timeout: options.timeoutMs ?? 5000, windowsHide: true }, (error, stdout) => {
          if (error) {
            reject(new CarboncpError(ErrorCode.IO, `nvidia-smi could not be run (${command}): ${error.message}`, { cause: error }));
            return;
          }
          try {
            resolve(parseNvidiaSmiPower(String(stdout)));
          } catch (parseError) {
            reject(parseError);
          }
        });
      }),
  };
}

/** The power limits of each GPU: `nvidia-smi --query-gpu=index,power.limit,...` (watts). */
export const NVIDIA_SMI_LIMITS_ARGS = ['--query-gpu=index,power.limit,power.default_limit,power.min_limit,power.max_limit', '--format=csv,noheader,nounits'];

/** One GPU's power limits in watts: the limit now, the board's default, and the range -pl accepts. */
export interface GpuPowerLimits {
  index: number;
  limitW: number;
  defaultW: number;
  minW: number;
  maxW: number;
}

/**
 * The GPUs in the output of NVIDIA_SMI_LIMITS_ARGS; a GPU whose line has `[N/A]` or
 * `[Not Supported]` (no settable limit) is left out. CARBONCP_IO when no GPU has limits.
 */
export function parseNvidiaSmiPowerLimits(stdout: string): GpuPowerLimits[] {
  const gpus: GpuPowerLimits[] = [];
  for (const line of stdout.split(/\r?\n/).map((l) => l.trim()).filter(Boolean)) {
    const fields = line.split(',').map((f) => Number(f.trim()));
    if (fields.length !== 5 || fields.some((f) => !Number.isFinite(f))) continue;
    const [index, limitW, defaultW, minW, maxW] = fields;
    if (!Number.isInteger(index) || index < 0 || !(minW > 0 && minW <= maxW)) continue;
    gpus.push({ index, limitW, defaultW, minW, maxW });
  }
  if (gpus.length === 0) {
    throw new CarboncpError(ErrorCode.IO, `nvidia-smi reported no settable power limit (output: ${JSON.stringify(stdout.slice(0, 200))})`);
  }
  return gpus;
}

/** The arguments that set GPU `index`'s power limit to `watts` (whole watts: every driver accepts them). */
export function nvidiaSmiSetLimitArgs(index: number, watts: number): string[] {
  return ['-i', String(index), '-pl', String(Math.round(watts))];
}

/** Runs nvidia-smi with arguments: asynchronously, and synchronously for an exit hook (where nothing async runs). */
export interface NvidiaSmiRunner {
  run(args: readonly string[]): Promise<string>;
  runSync(args: readonly string[]): string;
}

/** A failed run's message: the command's own words (stderr, else stdout) and its exit status. */
function failure(command: string, args: readonly string[], error: Error & { code?: unknown; status?: unknown }, stdout: unknown, stderr: unknown): CarboncpError {
  const said = `${String(stderr ?? '').trim() || String(stdout ?? '').trim()}`.split(/\r?\n/)[0] ?? '';
  const status = error.status ?? error.code;
  return new CarboncpError(ErrorCode.IO, `${command} ${args.join(' ')} failed (${status === undefined ? error.message : `exit ${String(status)}`})${said ? `: ${said}` : ''}`, {
    cause: error,
    details: { exitCode: typeof status === 'number' ? status : undefined, output: said },
  });
}

/** nvidia-smi (`command`, default 'nvidia-smi' on PATH), each run bounded by timeoutMs (default 5000). */
export function nvidiaSmiRunner(options: { command?: string; timeoutMs?: number } = {}): NvidiaSmiRunner {
  const command = options.command ?? 'nvidia-smi';
  const timeout = options.timeoutMs ?? 5000;
  return {
    run: (args) =>
      new Promise((resolve, reject) => {
        execFile(command, [...args], { timeout, windowsHide: true }, (error, stdout, stderr) => {
          if (error) reject(failure(command, args, error, stdout, stderr));
          else resolve(String(stdout));
        });
      }),
    runSync: (args) => {
      try {
        return String(execFileSync(command, [...args], { timeout, windowsHide: true, stdio: ['ignore', 'pipe', 'pipe'] }));
      } catch (error) {
        const e = error as Error & { stdout?: unknown; stderr?: unknown };
        throw failure(command, args, e, e.stdout, e.stderr);
      }
    },
  };
}
