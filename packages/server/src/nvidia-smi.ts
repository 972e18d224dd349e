/**
 * The server's GPU power draw from `nvidia-smi --query-gpu=power.draw --format=csv,noheader,nounits`:
 * one line per GPU in watts, or `[N/A]` / `[Not Supported]` where the board does not report it.
 * Read on the server's power timer (server-carbon.ts), never on a request.
 */
import { execFile } from 'node:child_process';
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
