// Helpers of the fleet suites: a `carboncp fleet` process (the built CLI) with its servers and
// HAProxy found from what it prints, killed for sure afterwards; HAProxy's weights from its admin
// socket; each server's open connections from its own /metrics.
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { findHaproxy } from '../../packages/cli/src/commands/fleet-haproxy-binary.js';
import { isRunning } from '../../packages/cli/src/commands/fleet-processes.js';

export const HAPROXY = findHaproxy();
/** The built CLI (`npm run setup` or `tsc -b` builds it): each server is its own process. */
export const CLI_BIN = fileURLToPath(new URL('../../packages/cli/dist/bin.js', import.meta.url));

/** Prints the one line that says why a fleet suite is skipped, and tells whether to skip it. */
export function skipWithoutHaproxy(suite: string): boolean {
  if (!HAPROXY) console.log(`${suite}: haproxy not found on PATH or at /usr/sbin/haproxy, skipped (.ci/run installs it)`);
  return !HAPROXY;
}

export interface FleetServer {
  name: string;
  port: number;
  agentPort: number;
  pid: number;
  url: string;
  httpUrl: string;
}

export interface RunningFleet {
  /** ws:// or wss:// of HAProxy. */
  url: string;
  port: number;
  servers: FleetServer[];
  haproxyPid: number;
  /** The generated haproxy.cfg, in the fleet's private directory. */
  configFile: string;
  adminSocket: string;
  process: ChildProcess;
  /** Every line the fleet wrote to stderr (its own and its children's, prefixed; its guard's). */
  log: string[];
  /** Every line the fleet wrote to stdout (where its parts listen; later, restarts). */
  output: string[];
  /** SIGTERM to the fleet, a bounded wait, then SIGKILL to every process it started. */
  stop(): Promise<void>;
}

/** Whether pid runs; a zombie (a fleet's server orphaned and not reaped yet) does not. */
const alive = isRunning;

/** Polls `done` every 50 ms until it is true or `timeoutMs` passes; returns its last value. */
export async function pollUntil(done: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await done()) return true;
    if (performance.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function startFleet(args: string[], timeoutMs = 300_000): Promise<RunningFleet> {
  const child = spawn(process.execPath, [CLI_BIN, 'fleet', ...args, ...(HAPROXY ? ['--haproxy', HAPROXY] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
  const log: string[] = [];
  const out: string[] = [];
  createInterface({ input: child.stderr }).on('line', (line) => log.push(line));
  const lines = createInterface({ input: child.stdout });
  const pids = new Set<number>();
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await pollUntil(() => child.exitCode !== null || child.signalCode !== null, 60_000);
    }
    for (const pid of [...pids, child.pid ?? -1]) {
      if (pid > 0 && alive(pid)) process.kill(pid, 'SIGKILL');
    }
  };
  const ready = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    lines.on('line', (line) => {
      out.push(line);
      for (const match of line.matchAll(/pid (\d+)/g)) pids.add(Number(match[1]));
      if (line.startsWith('fleet ready')) {
        clearTimeout(timer);
        resolve(true);
      }
    });
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
  if (!ready) {
    await stop();
    throw new Error(`the fleet did not start:\n${out.join('\n')}\n${log.slice(-30).join('\n')}`);
  }
  const servers = out.flatMap((line) => {
    const m = /^server (\S+): ws:\/\/127\.0\.0\.1:(\d+) \(agent-check 127\.0\.0\.1:(\d+), pid (\d+)\)/.exec(line);
    return m ? [{ name: m[1], port: Number(m[2]), agentPort: Number(m[3]), pid: Number(m[4]), url: `ws://127.0.0.1:${m[2]}`, httpUrl: `http://127.0.0.1:${m[2]}` }] : [];
  });
  const proxy = /^haproxy: (wss?:\/\/[^ ]+:(\d+)) \(devices and HTTP; pid (\d+); config ([^;]+); admin socket ([^)]+)\)/.exec(out.find((l) => l.startsWith('haproxy: ')) ?? '');
  if (!proxy) throw new Error(`no haproxy line in:\n${out.join('\n')}`);
  return { url: proxy[1], port: Number(proxy[2]), servers, haproxyPid: Number(proxy[3]), configFile: proxy[4], adminSocket: proxy[5], process: child, log, output: out, stop };
}

/** HAProxy's `show stat` per server of the backend: status (UP, DOWN, DRAIN, ...) and weight. */
export async function haproxyServers(adminSocket: string): Promise<Map<string, { status: string; weight: number; current: number }>> {
  const text = await new Promise<string>((resolve, reject) => {
    let data = '';
    const socket = connect(adminSocket);
    socket.setEncoding('utf8');
    socket.setTimeout(5000, () => socket.destroy(new Error('no answer from the HAProxy admin socket within 5 s')));
    socket.on('connect', () => socket.write('show stat\n'));
    socket.on('data', (chunk: string) => (data += chunk));
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
  });
  const [header, ...rows] = text.trim().split('\n');
  const names = header.replace(/^# /, '').split(',');
  const column = (name: string) => names.indexOf(name);
  const result = new Map<string, { status: string; weight: number; current: number }>();
  for (const row of rows) {
    const fields = row.split(',');
    if (fields[column('pxname')] !== 'carboncp-servers' || fields[column('svname')] === 'BACKEND') continue;
    result.set(fields[column('svname')], { status: fields[column('status')], weight: Number(fields[column('weight')]), current: Number(fields[column('scur')]) });
  }
  return result;
}

/** The sum of every series of the metrics named, from one scrape of a server's own /metrics. */
export async function metricsOf(server: FleetServer, names: string[]): Promise<number> {
  const text = await (await fetch(`${server.httpUrl}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  let sum = 0;
  for (const name of names) {
    for (const match of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) sum += Number(match[1]);
  }
  return sum;
}

/** A server's open WebSocket connections, from its own /metrics (carboncp_connections). */
export async function connectionsOf(server: FleetServer): Promise<number> {
  const text = await (await fetch(`${server.httpUrl}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  const match = /^carboncp_connections (\d+)/m.exec(text);
  if (!match) throw new Error(`no carboncp_connections in ${server.name}'s /metrics`);
  return Number(match[1]);
}

/** One agent check as HAProxy makes it: connect, read the line until the server closes. */
export function askAgent(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const socket = connect(port, '127.0.0.1');
    socket.setEncoding('utf8');
    socket.setTimeout(5000, () => socket.destroy(new Error('the agent did not answer within 5 s')));
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
}

export { alive };
