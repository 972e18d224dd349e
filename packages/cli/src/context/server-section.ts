import { distributionOf, type LatencyDistribution } from '@carboncp/core';
import { NETWORK_DEFAULTS, PROBE_DEFAULTS, ServerLink, WsTransport, fetchTrusting, type ServerContext, type Transport } from '@carboncp/device/node';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { item, unavailable, type Item } from './context-item.js';

export interface ServerSection {
  url: string;
  /** What the server said in its hello. */
  server: { name: string; executionProvider: string; models: { name: string; plans: number }[]; limits: { maxPayload: number; maxQueue: number } };
  /** GET /v2/health/ready on the same port. */
  ready: Item<boolean>;
  /** Ping to pong on this device's clock: the median of the pings, and their distribution. */
  rttMs: Item<number> & { pings: LatencyDistribution };
  /** The device client's network estimate after those pongs and the probe. */
  network: { rttMs: Item<number> & { sd: number | null; n: number }; uplinkBps: Item<number> & { sd: number | null; n: number } };
  queueDepth: Item<number>;
  inFlight: Item<number>;
  /** Recent tail time per 'model/plan' (p50 over the server's recent runs). */
  tailMs: Item<Record<string, number>>;
  carbonIntensity: Item<number>;
}

export interface ServerOptions {
  url: string;
  token?: string;
  /** PEM CA certificates to trust for a wss:// server (its WebSocket and its HTTPS health route). */
  ca?: string;
  /** Bound of the whole exchange: connect, hello, pings, probe, HTTP. */
  timeoutMs: number;
  pings: number;
  /** Padding of the active probe's ping; 0: no probe. */
  probeBytes: number;
  /** Tests: another transport. */
  transport?: Transport;
}

const GRACE_MS = 1000;

/** The HTTP URL of the same port: ws -> http, wss -> https. */
export function httpUrlOf(wsUrl: string): string {
  return wsUrl.replace(/^ws(s?):\/\//, 'http$1://').replace(/\/+$/, '');
}

/**
 * Connects as a device would (a hello that names no model: ServerLink), pings it `pings` times,
 * probes the uplink once, and asks /v2/health/ready, all within timeoutMs. An unreachable server
 * is its connection error (CARBONCP_CONNECTION_LOST, CARBONCP_TIMEOUT, CARBONCP_UNAUTHORIZED);
 * the deadline passing is CARBONCP_TIMEOUT.
 */
export async function readServer(options: ServerOptions): Promise<ServerSection> {
  const started = performance.now();
  const left = (): number => options.timeoutMs - (performance.now() - started);
  const bounded = <T>(work: Promise<T>, what: string): Promise<T> => {
    const ms = left();
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new CarboncpError(ErrorCode.TIMEOUT, `context: ${what} at ${options.url} did not finish within --timeout-ms ${options.timeoutMs}`)), Math.max(0, ms));
    });
    return Promise.race([work, expired]).finally(() => clearTimeout(timer));
  };

  const opening = ServerLink.open({
    server: options.url,
    // The deadline below is the one bound: the transport's and the hello's own timers run a
    // little past it, so that a silent server is always CARBONCP_TIMEOUT, whichever fires first.
    transport: options.transport ?? new WsTransport({ connectTimeoutMs: Math.ceil(left()) + GRACE_MS, ...(options.ca !== undefined ? { ca: options.ca } : {}) }),
    ...(options.token !== undefined ? { token: options.token } : {}),
    handshakeTimeoutMs: Math.ceil(left()) + GRACE_MS,
    keepaliveMs: 0,
    clientName: 'carboncp context',
    ...(options.probeBytes > 0 ? { networkProbe: { bytes: options.probeBytes, maxBytesPerMinute: Math.max(options.probeBytes, PROBE_DEFAULTS.maxBytesPerMinute), timeoutMs: options.timeoutMs } } : {}),
  });
  const link = await bounded(opening, 'the connection').catch((error: unknown) => {
    // A link that opens after the deadline is closed then, not left reconnecting.
    void opening.then((late) => late.close(), () => undefined);
    throw error;
  });
  try {
    const hello = link.hello;
    if (link.state !== 'open' || !hello) {
      const cause = link.lastError;
      throw new CarboncpError(cause?.code ?? ErrorCode.CONNECTION_LOST, `context: cannot reach the server at ${options.url}: ${cause?.message ?? 'no connection'}`, { cause });
    }
    const rtts: number[] = [];
    let context: ServerContext | undefined;
    for (let i = 0; i < options.pings; i++) {
      context = await bounded(link.serverContext({ timeoutMs: Math.max(1, Math.ceil(left())) }), `ping ${i + 1}`);
      rtts.push(context.rttMs);
    }
    const probe = options.probeBytes > 0 ? await bounded(link.probeNetwork(), 'the network probe') : undefined;
    const ready = await readyItem(options, left());
    const pings = distributionOf(rtts);
    const estimate = link.networkEstimate();
    const pongSource = `the server's pong (${options.pings} ping${options.pings === 1 ? '' : 's'}; the last one's answer)`;
    let uplink: ServerSection['network']['uplinkBps'];
    if (estimate?.uplinkBps) {
      const ceiling = estimate.uplinkBps.mean >= NETWORK_DEFAULTS.maxBps ? ' (at the estimator\'s ceiling: the link is faster than the probe can time)' : '';
      uplink = { ...item(estimate.uplinkBps.mean, 'estimated', `active probe: a ${options.probeBytes} B padded ping, (its round trip - the rtt estimate) / bytes${ceiling}`, 'bit/s'), sd: estimate.uplinkBps.sd, n: estimate.uplinkBps.n };
    } else {
      const why = options.probeBytes === 0 ? '--probe-bytes 0: no probe' : probe && !probe.sent ? `the probe was refused (${probe.reason})` : 'the probe gave no sample';
      uplink = { ...unavailable(why, 'bit/s'), sd: null, n: 0 };
    }
    return {
      url: options.url,
      server: {
        name: hello.server,
        executionProvider: hello.execution_provider,
        models: hello.models.map((model) => ({ name: model.name, plans: model.plans?.length ?? 0 })),
        limits: { maxPayload: hello.limits.max_payload, maxQueue: hello.limits.max_queue },
      },
      ready,
      rttMs: { ...item(pings.medianMs, 'measured', `median of ${pings.n} ping-to-pong round trips on this device's clock`, 'ms'), pings },
      network: {
        rttMs: estimate
          ? { ...item(estimate.rttMs.mean, 'estimated', 'network estimate: decaying mean of the pongs (@carboncp/device, "Network estimate")', 'ms'), sd: estimate.rttMs.sd, n: estimate.rttMs.n }
          : { ...unavailable('no pong yet', 'ms'), sd: null, n: 0 },
        uplinkBps: uplink,
      },
      queueDepth: item(context!.queueDepth, 'measured', `${pongSource}: requests queued, counted by the server`),
      inFlight: item(context!.inFlight, 'measured', `${pongSource}: requests in the batch running, counted by the server`),
      tailMs: item({ ...context!.tailMs }, 'measured', `${pongSource}: p50 of its recent tail runs, by model/plan, timed by the server`, 'ms'),
      carbonIntensity: context!.carbonIntensity
        ? item(context!.carbonIntensity.valueGPerKwh, 'reported', `the server's pong: ${context!.carbonIntensity.source} (the protocol carries no measured/estimated label)`, 'gCO2eq/kWh')
        : unavailable('the server reports none (started without --carbon or --carbon-intensity)', 'gCO2eq/kWh'),
    };
  } finally {
    link.close();
  }
}

async function readyItem(options: ServerOptions, ms: number): Promise<Item<boolean>> {
  const url = `${httpUrlOf(options.url)}/v2/health/ready`;
  try {
    const get = options.ca !== undefined ? fetchTrusting(options.ca) : fetch;
    const response = await get(url, { signal: AbortSignal.timeout(Math.max(1, Math.ceil(ms))) });
    await response.body?.cancel();
    if (response.status !== 200 && response.status !== 503) return unavailable(`GET ${url}: HTTP ${response.status}`);
    return item(response.status === 200, 'reported', `GET ${url}: HTTP ${response.status}`);
  } catch (error) {
    return unavailable(`GET ${url} failed: ${(error as Error).message}`);
  }
}
