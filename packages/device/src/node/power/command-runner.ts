import { execFile } from 'node:child_process';

/** Runs a command and resolves with its stdout; injectable so tests replay recorded outputs. */
export type CommandRunner = (file: string, args: readonly string[]) => Promise<string>;

/** execFile with a bound: a sensor command that hangs must not stall the sampler. */
export function execCommand(timeoutMs = 5000): CommandRunner {
  return (file, args) =>
    new Promise((resolve, reject) => {
      execFile(file, [...args], { timeout: timeoutMs, windowsHide: true, maxBuffer: 1 << 20 }, (error, stdout) => {
        if (error) reject(error);
        else resolve(stdout);
      });
    });
}
