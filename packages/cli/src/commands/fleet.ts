/**
 * `carboncp fleet`: N `carboncp serve` processes on loopback ports behind one HAProxy, on one
 * machine. Devices and HTTP clients use HAProxy's port; each server answers HAProxy's agent check
 * with its weight (queue and tail times) and `drain` while it shuts down. Every serve option
 * passes through to each server (parseServeArgs checks them: one copy of the flag list).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { SERVER_DEFAULTS } from '@carboncp/server';
import { EXIT, type Command, type Io } from '../command.js';
import { findHaproxy } from './fleet-haproxy-binary.js';
import { haproxyConfig, type FleetBackendServer } from './fleet-haproxy-config.js';
import type { GuardMessage } from './fleet-guard.js';
import { freePort, spawnChild, stopChild, waitForLines, waitForPort, type Child } from './fleet-processes.js';
import { parseServeArgs } from './serve.js';

const usage = `Usage: carboncp fleet --servers N --models DIR|FILE... [--port P] [--host H] [--haproxy PATH]
                      [--tls-cert FILE --tls-key FILE] [--restart on|off] [serve options]

Runs N 'carboncp serve' processes on 127.0.0.1 (each on a free port, with an agent-check port)
behind one HAProxy: devices (WebSocket) and HTTP (/v2/health/ready, /v2/models/..., /metrics of
whichever server answers) use HAProxy's port. New connections go to the server with the fewest
connections per weight; each server reports its weight from its queue and tail times, and 'drain'
while it shuts down, so a stopping server takes no new devices and finishes its queue. Prints
where each part listens; Ctrl-C (SIGINT/SIGTERM) stops the servers (they drain), then HAProxy.
A server that crashes (exits with an error or a signal) is started again on its ports, after
1 s, doubling to 30 s while it keeps crashing; one that exits cleanly (0) stays down. A guard
process stops every part if the fleet itself is killed (SIGKILL), so nothing runs on orphaned.
The generated HAProxy configuration is kept in the fleet's private directory while it runs
(printed); the CLI README shows it for real deployments.

Options:
  --servers N          serve processes (default 2)
  --port PORT          HAProxy's port for devices and HTTP (default ${SERVER_DEFAULTS.port}; 0 picks a free one)
  --host HOST          interface HAProxy listens on (default ${SERVER_DEFAULTS.host}); servers stay on 127.0.0.1
  --haproxy PATH       the HAProxy binary (default: haproxy on PATH, else /usr/sbin/haproxy)
  --tls-cert FILE      PEM certificate (chain): HAProxy terminates TLS, devices use wss://
  --tls-key FILE       its PEM private key (joined with the certificate into one 0600 file in the
                       fleet's private directory, as HAProxy's 'ssl crt' wants)
  --restart on|off     start a crashed server again (default on)
  every other option   is a 'carboncp serve' option given to each server (see 'carboncp serve
                       --help'), except --host, --port and --agent-port, which the fleet sets

Exit codes: 0 stopped cleanly, 2 bad command line, 3 a TLS file cannot be read, 4 run-time
error (HAProxy not found, a part did not start, HAProxy exited).`;

/** A server's two log lines that say where it listens (its port, its agent-check port). */
const SERVER_LISTENING = [/carboncp server listening on ws:\/\/127\.0\.0\.1:(\d+)/, /agent-check listening on 127\.0\.0\.1:(\d+)/];

const FLEET_FLAGS = ['servers', 'port', 'host', 'haproxy', 'tls-cert', 'tls-key', 'restart'] as const;
type FleetFlag = (typeof FLEET_FLAGS)[number];

/** How long one server may take to load its models and listen. */
const SERVER_START_MS = 300_000;
const HAPROXY_START_MS = 10_000;
/** A crashed server's first restart waits this long; each crash in a row doubles it, up to the most. */
const RESTART_FIRST_MS = 1000;
const RESTART_MOST_MS = 30_000;
/** A server up this long has stopped crashing in a row: its next restart waits the first delay again. */
const RESTART_STEADY_MS = 60_000;

export interface FleetArgs {
  servers: number;
  port: number;
  host: string;
  haproxy: string | undefined;
  tls: { cert: string; key: string } | undefined;
  /** The serve command line each server gets (without --host, --port, --agent-port). */
  serveArgs: string[];
  /** Start a crashed server again. */
  restart: boolean;
  drainMs: number;
}

function usageError(message: string): CarboncpError {
  return new CarboncpError(ErrorCode.USAGE, `fleet: ${message}; see 'carboncp fleet --help'`);
}

export function parseFleetArgs(args: string[]): FleetArgs {
  const own: Partial<Record<FleetFlag, string>> = {};
  const serveArgs: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const [flag, inline] = arg.startsWith('--') ? (arg.slice(2).split(/=(.*)/s) as [string, string | undefined]) : ['', undefined];
    if ((FLEET_FLAGS as readonly string[]).includes(flag)) {
      const value = inline ?? args[++i];
      if (value === undefined || (inline === undefined && value.startsWith('--'))) throw usageError(`--${flag} needs a value`);
      own[flag as FleetFlag] = value;
    } else if (flag === 'agent-port') {
      throw usageError('--agent-port is set by the fleet for each server');
    } else {
      serveArgs.push(arg);
    }
  }
  const integer = (flag: FleetFlag, fallback: number, min: number, max: number): number => {
    const value = own[flag];
    if (value === undefined) return fallback;
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) throw usageError(`--${flag} must be an integer in ${min}..${max}, got '${value}'`);
    return Number(value);
  };
  if ((own['tls-cert'] === undefined) !== (own['tls-key'] === undefined)) throw usageError('--tls-cert and --tls-key go together');
  if (own.restart !== undefined && own.restart !== 'on' && own.restart !== 'off') throw usageError(`--restart must be on or off, got '${own.restart}'`);
  let drainMs: number;
  try {
    // The serve options are judged by serve's own parser, as each server will parse them.
    ({ drainMs } = parseServeArgs(serveArgs));
  } catch (error) {
    throw new CarboncpError(ErrorCode.USAGE, (error as Error).message.replace(/^serve: /, 'fleet: (a serve option) '), { cause: error });
  }
  return {
    servers: integer('servers', 2, 1, 64),
    port: integer('port', SERVER_DEFAULTS.port, 0, 65535),
    host: own.host ?? SERVER_DEFAULTS.host,
    haproxy: own.haproxy,
    tls: own['tls-cert'] !== undefined ? { cert: own['tls-cert'], key: own['tls-key'] as string } : undefined,
    serveArgs,
    restart: own.restart !== 'off',
    drainMs,
  };
}

// In-process runs (tests, embedding) stop through stopFleets(); the CLI stops on signals.
const running = new Set<AbortController>();

/** Stops every `carboncp fleet` running in this process, as SIGINT would. */
export function stopFleets(): void {
  for (const controller of running) controller.abort();
}

/** The `carboncp` entry of this build, to start each server with. */
const CLI_BIN = fileURLToPath(new URL('../bin.js', import.meta.url));
const GUARD_BIN = fileURLToPath(new URL('./fleet-guard.js', import.meta.url));

interface Guard {
  tell(message: GuardMessage): void;
  /** A clean stop: the guard exits without touching anything. */
  release(): void;
}

/** Starts the guard (fleet-guard.ts): it outlives this process only to stop its children. */
function startGuard(graceMs: number): Guard {
  // Detached: Ctrl-C in a terminal signals the fleet, not the guard.
  const guard: ChildProcess = spawn(process.execPath, [GUARD_BIN, String(graceMs)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], detached: true });
  guard.on('error', () => undefined);
  guard.unref();
  guard.channel?.unref();
  return {
    tell: (message) => void (guard.connected && guard.send(message, () => undefined)),
    release: () => void (guard.connected && guard.send({ kind: 'done' } satisfies GuardMessage, () => guard.connected && guard.disconnect())),
  };
}

async function fleet(args: string[], io: Io): Promise<number> {
  const options = parseFleetArgs(args);
  const haproxy = findHaproxy(options.haproxy);
  if (!haproxy) {
    io.err(`carboncp fleet: HAProxy not found (${options.haproxy ?? 'haproxy on PATH or /usr/sbin/haproxy'}); install it (Debian: apt-get install haproxy) or pass --haproxy PATH`);
    return EXIT.RUNTIME;
  }
  const controller = new AbortController();
  running.add(controller);
  const onSignal = (signal: NodeJS.Signals) => {
    io.err(`carboncp fleet: ${signal} received, stopping the servers (each drains up to ${options.drainMs} ms), then HAProxy`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Private (0700): the TLS key and HAProxy's admin socket live here.
  const dir = await mkdtemp(join(tmpdir(), 'carboncp-fleet-'));
  /** Each server's current process (a restart replaces it). */
  const servers: Child[] = [];
  let proxy: Child | undefined;
  let guard: Guard | undefined;
  const restarts = new Set<NodeJS.Timeout>();
  const serveArgs = (port: number, agentPort: number) => [CLI_BIN, 'serve', ...options.serveArgs, '--host', '127.0.0.1', '--port', String(port), '--agent-port', String(agentPort)];
  const startServerProcess = (name: string, port: number, agentPort: number): Child => {
    const child = spawnChild(process.execPath, serveArgs(port, agentPort), name, io.err);
    guard?.tell({ kind: 'server', pid: child.pid });
    void child.exited.then(() => guard?.tell({ kind: 'exited', pid: child.pid }));
    return child;
  };
  // A server's exit sends its devices to the others through HAProxy. A crash is restarted on the
  // same ports (HAProxy's checks find it back); a clean exit (0: someone stopped it) is left alone.
  const supervise = (i: number, b: FleetBackendServer, delayMs: number) => {
    const startedAt = performance.now();
    void servers[i].exited.then((code) => {
      if (controller.signal.aborted) return;
      const restart = options.restart && code !== 0;
      const wait = performance.now() - startedAt >= RESTART_STEADY_MS ? RESTART_FIRST_MS : delayMs;
      io.err(`carboncp fleet: server ${b.name} exited (${code}); HAProxy sends its devices to the others${restart ? `; restarting it in ${wait} ms on its ports` : ''}`);
      if (!restart) return;
      const timer = setTimeout(() => {
        restarts.delete(timer);
        if (controller.signal.aborted) return;
        const next = startServerProcess(b.name, b.port, b.agentPort);
        servers[i] = next;
        supervise(i, b, Math.min(RESTART_MOST_MS, wait * 2));
        waitForLines(next, SERVER_LISTENING, `server ${b.name}`, SERVER_START_MS).then(
          () => io.out(`server ${b.name} restarted: ws://127.0.0.1:${b.port} (agent-check 127.0.0.1:${b.agentPort}, pid ${next.pid})`),
          () => undefined, // its exit is supervise's
        );
      }, wait);
      restarts.add(timer);
    });
  };
  try {
    let tlsPemFile: string | undefined;
    if (options.tls) {
      const read = (file: string, flag: string) =>
        readFile(file, 'utf8').catch((cause: NodeJS.ErrnoException) => {
          throw new CarboncpError(ErrorCode.NOT_FOUND, `cannot read ${flag} ${file}: ${cause.code ?? cause.message}`, { cause });
        });
      const [cert, key] = await Promise.all([read(options.tls.cert, '--tls-cert'), read(options.tls.key, '--tls-key')]);
      tlsPemFile = join(dir, 'tls.pem');
      await writeFile(tlsPemFile, `${cert.trimEnd()}\n${key.trimEnd()}\n`, { mode: 0o600 });
      await chmod(tlsPemFile, 0o600);
    }
    guard = startGuard(options.drainMs + 10_000);
    for (let i = 1; i <= options.servers; i++) servers.push(startServerProcess(`carboncp-${i}`, 0, 0));
    // They load their models side by side; each is awaited by its own log lines.
    const ports = await Promise.all(servers.map((child, i) => waitForLines(child, SERVER_LISTENING, `server carboncp-${i + 1}`, SERVER_START_MS)));
    const backends: FleetBackendServer[] = ports.map(([port, agentPort], i) => ({ name: `carboncp-${i + 1}`, host: '127.0.0.1', port: Number(port), agentPort: Number(agentPort) }));
    const port = options.port === 0 ? await freePort(options.host) : options.port;
    const configFile = join(dir, 'haproxy.cfg');
    const statsSocket = join(dir, 'haproxy.sock');
    await writeFile(configFile, haproxyConfig({ bind: { host: options.host, port }, servers: backends, tlsPemFile, statsSocket }), { mode: 0o600 });
    proxy = spawnChild(haproxy, ['-db', '-f', configFile], 'haproxy', io.err);
    const proxyPid = proxy.pid;
    guard.tell({ kind: 'haproxy', pid: proxyPid });
    void proxy.exited.then(() => guard?.tell({ kind: 'exited', pid: proxyPid }));
    await waitForPort(proxy, options.host === '0.0.0.0' ? '127.0.0.1' : options.host === '::' ? '::1' : options.host, port, 'haproxy', HAPROXY_START_MS);

    const scheme = options.tls ? 'wss' : 'ws';
    const host = options.host.includes(':') ? `[${options.host}]` : options.host;
    backends.forEach((b, i) => io.out(`server ${b.name}: ws://127.0.0.1:${b.port} (agent-check 127.0.0.1:${b.agentPort}, pid ${servers[i].pid})`));
    io.out(`haproxy: ${scheme}://${host}:${port} (devices and HTTP; pid ${proxy.pid}; config ${configFile}; admin socket ${statsSocket})`);
    io.out(`fleet ready: ${backends.length} server(s) behind ${scheme}://${host}:${port}`);

    const proxyExit = proxy.exited.then((code) => {
      if (!controller.signal.aborted) io.err(`carboncp fleet: haproxy exited (${code}); stopping the servers`);
      return code;
    });
    backends.forEach((b, i) => supervise(i, b, RESTART_FIRST_MS));
    const stopped = new Promise<void>((resolve) => controller.signal.addEventListener('abort', () => resolve(), { once: true }));
    const ended = await Promise.race([stopped.then(() => 'stopped' as const), proxyExit.then(() => 'haproxy' as const)]);
    return ended === 'stopped' ? EXIT.OK : EXIT.RUNTIME;
  } catch (error) {
    if (error instanceof CarboncpError && error.code === ErrorCode.INTERNAL) {
      io.err(`carboncp fleet: ${error.message}`);
      return EXIT.RUNTIME;
    }
    throw error;
  } finally {
    // No restart once stopping begins (HAProxy's exit ends the fleet too).
    controller.abort();
    for (const timer of restarts) clearTimeout(timer);
    // Servers first: they drain while HAProxy still carries their open tunnels.
    await Promise.all(servers.map((child) => stopChild(child, 'SIGTERM', options.drainMs + 10_000)));
    if (proxy) await stopChild(proxy, 'SIGTERM', 5_000);
    guard?.release();
    await rm(dir, { recursive: true, force: true });
    running.delete(controller);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    io.err('carboncp fleet: stopped');
  }
}

export const command: Command = {
  name: 'fleet',
  summary: 'run several servers behind HAProxy on one machine (one port, load-aware, draining)',
  usage,
  run: fleet,
};
