import { CarboncpError, ErrorCode, type HelloAckMessage } from '@carboncp/protocol';
import { DEVICE_DEFAULTS, checkPositiveMs, resolveClientOptions } from './client-options.js';
import type { Clock } from './clock.js';
import { Connection } from './connection.js';
import { NetworkEstimator, type NetworkEstimate, type NetworkEstimatorOptions } from './network-estimator.js';
import { NetworkProbe, type NetworkProbeOptions, type ProbeOutcome } from './network-probe.js';
import { serverContextOf } from './server-context.js';
import type { ConnectionState, ReconnectOptions, ServerContext, ServerContextOptions, Transport } from './types.js';

export interface ServerLinkOptions {
  /** ws:// or wss:// URL of a carboncp server. */
  server: string;
  transport: Transport;
  token?: string;
  clientName?: string;
  /** How long the hello may take; default 5000. */
  handshakeTimeoutMs?: number;
  maxPayload?: number;
  /** Ping an idle server after this long (and once on connecting); default 15000, 0 disables. */
  keepaliveMs?: number;
  keepaliveTimeoutMs?: number;
  reconnect?: ReconnectOptions;
  clock?: Clock;
  /** Half-lives and filters of networkEstimate(), as SplitClient's `network`. */
  network?: NetworkEstimatorOptions;
  /** Rate limits of probeNetwork(), as SplitClient's `networkProbe`. */
  networkProbe?: NetworkProbeOptions;
}

/**
 * A connection to a carboncp server that holds no model: its hello names none (the protocol
 * allows an empty list), so nothing can be inferred, but everything a device learns about its
 * server without sending a tensor is there: the server's hello (name, execution provider, models
 * and plans it serves, limits), its context on a ping, the round trip and the network estimate
 * fed by every pong, and the active probe, all as SplitClient has them. For tools (`carboncp
 * context`) and for a device that wants the context before it loads a model.
 */
export class ServerLink {
  private readonly connection: Connection;
  private readonly network: NetworkEstimator;
  private readonly probe: NetworkProbe;
  private ack: HelloAckMessage | undefined;
  private latestContext: ServerContext | undefined;
  private closed = false;

  private constructor(options: ServerLinkOptions) {
    const resolved = resolveClientOptions({ ...options, clientName: options.clientName ?? `${DEVICE_DEFAULTS.clientName} server-link` });
    const { clock } = resolved;
    this.network = new NetworkEstimator(clock, options.network);
    this.connection = new Connection({
      url: resolved.server,
      transport: options.transport,
      reconnect: resolved.reconnect,
      handshakeTimeoutMs: resolved.handshakeTimeoutMs,
      maxPayload: resolved.maxPayload,
      keepaliveMs: resolved.keepaliveMs,
      keepaliveTimeoutMs: resolved.keepaliveTimeoutMs,
      clock,
      hello: () => ({
        protocol_version: 0,
        client: resolved.clientName,
        ...(resolved.token === undefined ? {} : { token: resolved.token }),
        models: [],
      }),
      onOpen: (ack) => {
        this.ack = ack;
      },
      // No request is ever sent, so no request-level frame is expected; one that comes is ignored.
      onMessage: () => {},
      onDown: () => {},
      onPong: (receipt) => {
        this.latestContext = serverContextOf(undefined, receipt);
        // The link carries no requests: a pong never shared it. A padded ping is a probe (SplitClient's rule).
        this.network.observePing({ rttMs: receipt.rttMs, bytesUp: receipt.bytesUp, shared: false, probe: receipt.bytesUp > this.network.smallBytes });
      },
    });
    this.probe = new NetworkProbe(
      clock,
      {
        ping: (timeoutMs, padBytes) => this.connection.ping(timeoutMs, padBytes),
        connected: () => this.connection.state === 'open',
        idle: () => true,
      },
      options.networkProbe,
      this.network.smallBytes,
    );
  }

  /**
   * Builds the link and makes the first connection attempt; resolves either way (see state and
   * lastError), rejects only when the server refuses the token or the protocol version.
   */
  static async open(options: ServerLinkOptions): Promise<ServerLink> {
    const link = new ServerLink(options);
    await link.connection.start();
    return link;
  }

  get state(): ConnectionState {
    return this.connection.state;
  }

  /** Why the last attempt failed or the connection dropped; undefined while open. */
  get lastError(): CarboncpError | undefined {
    return this.connection.lastError;
  }

  /** The server's answer to the latest hello: its name, execution provider, models and plans, limits. */
  get hello(): HelloAckMessage | undefined {
    return this.ack;
  }

  /** Resolves when connected; rejects with CARBONCP_NOT_READY after timeoutMs. */
  ready(timeoutMs: number = DEVICE_DEFAULTS.readyTimeoutMs): Promise<void> {
    return this.connection.ready(timeoutMs);
  }

  /** A Ping and the server's Pong: as SplitClient.serverContext(), with tailMs under the server's own keys. */
  async serverContext(options: ServerContextOptions = {}): Promise<ServerContext> {
    if (this.closed) throw new CarboncpError(ErrorCode.SHUTTING_DOWN, 'serverContext() called on a closed server link');
    const timeoutMs = checkPositiveMs('timeoutMs', options.timeoutMs ?? DEVICE_DEFAULTS.serverContextTimeoutMs);
    return serverContextOf(undefined, await this.connection.ping(timeoutMs));
  }

  /** The most recent server context (a serverContext() or keepalive pong). */
  get lastServerContext(): ServerContext | undefined {
    return this.latestContext;
  }

  /** RTT and throughput as estimated from every pong and probe; undefined before the first pong. */
  networkEstimate(): NetworkEstimate | undefined {
    return this.network.estimate();
  }

  /** One active probe if its rate limits allow (see SplitClient.probeNetwork()). */
  probeNetwork(): Promise<ProbeOutcome> {
    if (this.closed) return Promise.reject(new CarboncpError(ErrorCode.SHUTTING_DOWN, 'probeNetwork() called on a closed server link'));
    return this.probe.probe();
  }

  close(): void {
    this.closed = true;
    this.probe.stop();
    this.connection.close();
  }
}
