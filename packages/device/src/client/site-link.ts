import type { ResolvedClientOptions } from './client-options.js';
import { Connection } from './connection.js';
import { NetworkEstimator, type NetworkEstimatorOptions } from './network-estimator.js';
import { LinkActivity } from './network-probe.js';
import { describeModel } from './plan-check.js';
import { RemoteTails } from './remote-call.js';
import { serverContextOf } from './server-context.js';
import type { ResolvedSite } from './site-options.js';
import type { ClientPlan, Runtime, RuntimeTensor, ServerContext, SplitModel, Transport } from './types.js';

export interface SiteLinkEvents {
  opened(): void;
  down(): void;
}

/**
 * One server site of a device client: its connection (hello, keepalive, reconnect with
 * backoff), the tails in flight on it, and what it has been measured to be (the network estimate
 * fed by its pongs and requests, the server context of its latest pong). A client with a single
 * `server` has one; with `servers`, one per site, each on its own.
 */
export class SiteLink<T extends RuntimeTensor, P extends ClientPlan> {
  readonly name: string;
  readonly url: string;
  readonly site: ResolvedSite;
  readonly connection: Connection;
  readonly remote: RemoteTails<T, P>;
  readonly network: NetworkEstimator;
  readonly link: LinkActivity;
  latestContext: ServerContext | undefined;

  constructor(
    site: ResolvedSite,
    model: SplitModel<P>,
    runtime: Runtime<T>,
    transport: Transport,
    options: ResolvedClientOptions<P>,
    network: NetworkEstimatorOptions | undefined,
    events: SiteLinkEvents,
  ) {
    const { clock } = options;
    this.site = site;
    this.name = site.name;
    this.url = site.url;
    this.network = new NetworkEstimator(clock, network);
    this.link = new LinkActivity(clock);
    this.remote = new RemoteTails(model, runtime, () => this.connection, clock);
    this.connection = new Connection({
      url: site.url,
      transport,
      reconnect: options.reconnect,
      handshakeTimeoutMs: options.handshakeTimeoutMs,
      maxPayload: options.maxPayload,
      keepaliveMs: options.keepaliveMs,
      keepaliveTimeoutMs: options.keepaliveTimeoutMs,
      clock,
      hello: () => ({
        protocol_version: 0,
        client: options.clientName,
        ...(site.token === undefined ? {} : { token: site.token }),
        models: [describeModel(model)],
      }),
      onOpen: (ack) => {
        events.opened();
        this.remote.opened(ack);
      },
      onMessage: (message, bytes) => this.remote.received(message, bytes),
      onDown: (error) => {
        events.down();
        this.remote.failAll(error);
      },
      onPong: (receipt) => {
        this.latestContext = serverContextOf(model, receipt);
        const { rttMs, bytesUp } = receipt;
        this.network.observePing({ rttMs, bytesUp, shared: this.link.busySince(clock.now() - rttMs), probe: bytesUp > this.network.smallBytes });
      },
    });
  }

  /** Connected, handshake done: its tails may be asked for (each plan still subject to the server's answer). */
  get up(): boolean {
    return this.connection.state === 'open';
  }
}
