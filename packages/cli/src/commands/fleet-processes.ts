/**
 * The child processes of `carboncp fleet`: `carboncp serve` processes, each found listening by its
 * own log lines, and HAProxy, found listening by a TCP connect to its frontend port. Every wait is
 * bounded; a child that exits while awaited fails the wait with what it wrote last.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';

export interface Child {
  process: ChildProcess;
  pid: number;
  /** Resolves with the exit code (or the signal's name) once the process has exited. */
  exited: Promise<number | string>;
  /** Lines written to stderr and stdout so far (the last 50). */
  lines: string[];
  /** Called with each later line. */
  listeners: Set<(line: string) => void>;
}

/** Spawns a command whose output lines go to `log` with a prefix and are kept for error messages. */
export function spawnChild(command: string, args: string[], prefix: string, log: (line: string) => void): Child {
  // A process group of its own: Ctrl-C in a terminal signals the fleet only, which then stops
  // the servers first (they drain through HAProxy) and HAProxy last.
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const lines: string[] = [];
  const listeners = new Set<(line: string) => void>();
  const keep = (line: string) => {
    lines.push(line);
    if (lines.length > 50) lines.shift();
    log(`[${prefix}] ${line}`);
    for (const listener of listeners) listener(line);
  };
  for (const stream of [child.stdout, child.stderr]) if (stream) createInterface({ input: stream }).on('line', keep);
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
    child.once('error', (error) => {
      keep(`cannot start ${command}: ${error.message}`);
      resolve('spawn-error');
    });
  });
  return { process: child, pid: child.pid ?? -1, exited, lines, listeners };
}

function failure(child: Child, what: string, why: string): CarboncpError {
  return new CarboncpError(ErrorCode.INTERNAL, `${what}: ${why}; its last lines:\n${child.lines.slice(-10).join('\n')}`);
}

/** Waits until every pattern has matched a line of the child (first capture group), or fails. */
export function waitForLines(child: Child, patterns: RegExp[], what: string, timeoutMs: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const found: (string | undefined)[] = patterns.map(() => undefined);
    const check = (line: string) => {
      patterns.forEach((pattern, i) => {
        const match = found[i] === undefined ? pattern.exec(line) : null;
        if (match) found[i] = match[1];
      });
      if (found.every((value) => value !== undefined)) finish(() => resolve(found as string[]));
    };
    const timer = setTimeout(() => finish(() => reject(failure(child, what, `not listening after ${timeoutMs} ms`))), timeoutMs);
    let done = false;
    const finish = (settle: () => void) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.listeners.delete(check);
      settle();
    };
    // Lines already seen count (the child may have written them before this wait began).
    for (const line of child.lines) check(line);
    if (!done) child.listeners.add(check);
    void child.exited.then((code) => finish(() => reject(failure(child, what, `exited (${code}) before it was listening`))));
  });
}

/** Resolves once host:port accepts a TCP connection (polled every 50 ms), or fails. */
export async function waitForPort(child: Child, host: string, port: number, what: string, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let exited: number | string | undefined;
  void child.exited.then((code) => (exited = code));
  for (;;) {
    if (exited !== undefined) throw failure(child, what, `exited (${exited}) before it was listening`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, host);
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (performance.now() > deadline) throw failure(child, what, `not listening on ${host}:${port} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A port free now on host (the kernel's pick; HAProxy takes no port 0). */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Sends `signal`, then SIGKILL if the child has not exited within `graceMs`. Resolves on exit. */
export async function stopChild(child: Child, signal: NodeJS.Signals, graceMs: number): Promise<number | string> {
  if (child.process.exitCode !== null || child.process.signalCode !== null) return child.exited;
  child.process.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const killed = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      child.process.kill('SIGKILL');
      resolve();
    }, graceMs);
  });
  await Promise.race([child.exited, killed]);
  clearTimeout(timer);
  return child.exited;
}

/** Whether pid runs (a zombie, exited and not yet reaped by whoever inherited it, does not). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  if (process.platform !== 'linux') return true;
  try {
    // The state follows the command's closing parenthesis.
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false; // gone between the two looks
  }
}
