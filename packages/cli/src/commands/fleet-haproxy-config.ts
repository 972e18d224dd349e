/**
 * The HAProxy configuration of a carboncp fleet (HAProxy 2.6): one frontend port for devices
 * (WebSocket) and HTTP, a backend of `carboncp serve` processes balanced by least connections
 * weighted by each server's agent check (its queue and tail times, see @carboncp/server
 * agent-check.ts), an HTTP health check on /v2/health/ready, and retries on another server when a
 * connection cannot be made or a server refuses the upgrade because it is shutting down. A pure
 * function: `carboncp fleet` writes what it returns, and the CLI README shows it for deployments.
 */

export interface FleetBackendServer {
  name: string;
  host: string;
  port: number;
  /** The server's --agent-port. */
  agentPort: number;
}

export interface HaproxyConfigOptions {
  /** Where devices and HTTP clients connect. */
  bind: { host: string; port: number };
  servers: readonly FleetBackendServer[];
  /** One PEM file holding certificate (chain) and key: the frontend then speaks TLS (wss://, https://). */
  tlsPemFile?: string;
  /** HAProxy's admin socket (weights, states: `show stat`), e.g. in the fleet's private directory. */
  statsSocket?: string;
  /** How often each server's agent is asked for its weight, ms (default 250). */
  agentInterMs?: number;
  /** How often /v2/health/ready is checked, ms (default 1000). */
  checkInterMs?: number;
  /** Longest life of an idle WebSocket tunnel, ms (default 3600000). */
  tunnelTimeoutMs?: number;
  /** Connections HAProxy holds at once (default 4096). */
  maxConnections?: number;
}

export const HAPROXY_DEFAULTS = { agentInterMs: 250, checkInterMs: 1000, tunnelTimeoutMs: 3_600_000, maxConnections: 4096 };

/** `[::1]` for an IPv6 literal, as HAProxy's address:port syntax wants. */
function address(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export function haproxyConfig(options: HaproxyConfigOptions): string {
  const agentInterMs = options.agentInterMs ?? HAPROXY_DEFAULTS.agentInterMs;
  const checkInterMs = options.checkInterMs ?? HAPROXY_DEFAULTS.checkInterMs;
  const tunnelTimeoutMs = options.tunnelTimeoutMs ?? HAPROXY_DEFAULTS.tunnelTimeoutMs;
  const maxConnections = options.maxConnections ?? HAPROXY_DEFAULTS.maxConnections;
  const lines = [
    '# carboncp fleet: devices (WebSocket) and HTTP on one port, spread over `carboncp serve` processes.',
    'global',
    `    maxconn ${maxConnections}`,
    // A 602,112-byte tensor crosses in about 10 buffer turns instead of 37 at the 16 KiB default
    // (2 x 64 KiB per connection); see test/bench/results/fleet.md, "Configuration choice".
    '    tune.bufsize 65536',
    ...(options.statsSocket ? [`    stats socket ${options.statsSocket} mode 600 level admin`] : []),
    '',
    'defaults',
    '    mode http',
    // Once a WebSocket is upgraded, the kernel moves its bytes between the sockets (splice(2)).
    '    option splice-auto',
    '    timeout connect 2s',
    '    timeout client 60s',
    '    timeout server 60s',
    '    timeout http-request 10s',
    // A WebSocket is a tunnel once upgraded: it may stay open for as long as the device runs.
    `    timeout tunnel ${tunnelTimeoutMs}ms`,
    // A server that is gone (connection refused) or shutting down (503 to the upgrade): try another.
    '    retries 3',
    '    option redispatch 1',
    '    retry-on conn-failure empty-response 503',
    '',
    'frontend carboncp',
    `    bind ${address(options.bind.host, options.bind.port)}${options.tlsPemFile ? ` ssl crt ${options.tlsPemFile}` : ''}`,
    '    default_backend carboncp-servers',
    '',
    'backend carboncp-servers',
    // Least open connections, weighted: the agent lowers a busy server's weight, so new devices
    // go where the queue is shortest; `drain` from the agent takes a stopping server out of it.
    '    balance leastconn',
    '    option httpchk GET /v2/health/ready',
    '    http-check expect status 200',
    `    default-server check inter ${checkInterMs}ms fall 2 rise 2 weight 100 agent-check agent-inter ${agentInterMs}ms`,
    ...options.servers.map((s) => `    server ${s.name} ${address(s.host, s.port)} agent-addr ${s.host} agent-port ${s.agentPort}`),
    '',
  ];
  return lines.join('\n');
}
