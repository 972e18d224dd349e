/**
 * HAProxy's agent check (HAProxy 2.6 configuration manual, "agent-check", "agent-port",
 * "agent-inter"): HAProxy connects to a small TCP port of each server every agent-inter, reads one
 * ASCII line and closes. The line sets the server's weight as a percentage of the weight it was
 * configured with ("37%"), and its administrative state: "ready" cancels a DRAIN, "drain" stops new
 * connections (open ones stay). This server answers `ready 37%` from its own load (agentWeight) and
 * `drain` once it shuts down, so that a balancer in front of several servers sends new devices
 * where the wait is shortest and none to a server that is finishing its queue.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';

/**
 * The wait at which a server's weight is halved: 100 ms of queued tail work = 50%. A reference,
 * not a limit: it puts every server's weight on one scale, so that a server with slow tails and a
 * short queue and one with fast tails and a long queue compare by the wait they would impose.
 */
export const AGENT_REFERENCE_WAIT_MS = 100;

export interface AgentLoad {
  /** Requests waiting in the queue. */
  queueDepth: number;
  /** Requests whose tail is running. */
  inFlight: number;
  /** Batches the executor runs at once (worker threads; 1 for the main executor). */
  concurrency: number;
  /**
   * The typical tail run time, ms: the median of the server's recent tail runs over every plan.
   * Undefined before the first run: each request is then taken to cost AGENT_REFERENCE_WAIT_MS.
   */
  tailMs: number | undefined;
}

/**
 * The weight percentage (1..100) the agent reports:
 *
 *   waitMs = (queueDepth + inFlight) / concurrency x tailMs        (a new request's expected wait)
 *   weight = round(100 x R / (R + waitMs)),  R = AGENT_REFERENCE_WAIT_MS, at least 1
 *
 * An idle server weighs 100; one whose new request would wait R weighs 50, 3R weighs 25. The
 * floor of 1 keeps a busy server in rotation (0 would take it out like a drain); HAProxy's
 * leastconn then weighs each server's open connections by it.
 */
export function agentWeight(load: AgentLoad): number {
  const backlog = Math.max(0, load.queueDepth) + Math.max(0, load.inFlight);
  const tailMs = load.tailMs !== undefined && Number.isFinite(load.tailMs) && load.tailMs >= 0 ? load.tailMs : AGENT_REFERENCE_WAIT_MS;
  const waitMs = (backlog / Math.max(1, load.concurrency)) * tailMs;
  return Math.max(1, Math.round((100 * AGENT_REFERENCE_WAIT_MS) / (AGENT_REFERENCE_WAIT_MS + waitMs)));
}

/** The line the agent writes: `drain` while shutting down, else `ready W%`. */
export function agentReply(load: AgentLoad, draining: boolean): string {
  return draining ? 'drain\n' : `ready ${agentWeight(load)}%\n`;
}

/** The median of every value given (the pooled recent tail runs), or undefined when there are none. */
export function medianOf(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export interface AgentCheckListener {
  port: number;
  close(): Promise<void>;
}

/** Listens on host:port; each connection gets `reply()` and is closed. Throws CARBONCP_LISTEN. */
export async function startAgentCheck(host: string, port: number, reply: () => string): Promise<AgentCheckListener> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    socket.end(reply());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(new CarboncpError(ErrorCode.LISTEN, `cannot listen for agent checks on ${host}:${port}: ${error.code ?? error.message}`, { cause: error })),
    );
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
