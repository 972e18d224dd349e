import { CarboncpError, ErrorCode, type Compression } from '@carboncp/protocol';
import {
  DEVICE_DEFAULTS,
  badOption,
  checkCompression,
  checkPositiveMs,
  planById,
  resolveClientOptions,
  type ResolvedClientOptions,
  type SplitClientOptions,
} from './client-options.js';
import { recordObserved } from './calibrated-policy.js';
import type { CoverageStats } from '@carboncp/calibrator';
import { askPolicy, tellPolicy, type Candidate, type CutContext, type CutPolicy, type RequestedDecision } from './cut-policy.js';
import type { NetworkEstimate } from './network-estimator.js';
import type { WindowEnergy } from './power-source.js';
import { NetworkProbe, type ProbeOutcome } from './network-probe.js';
import { addFootprint } from './request-footprint.js';
import type { RemoteOutcome } from './remote-call.js';
import { RequestTimeline } from './request-timeline.js';
import { serverContextOf } from './server-context.js';
import type { SiteLink } from './site-link.js';
import { SitePool, type SiteState } from './site-pool.js';
import type { SymbolBindings } from '@carboncp/core';
import { SessionCache, runMeasured } from './sessions.js';
import { emptyStats, recordRequest } from './stats.js';
import { checkInputs } from './tensor-checks.js';
import { onCpu } from './cpu-tensors.js';
import type {
  ClientPlan,
  ClientStats,
  ConnectionState,
  DeviceEnergy,
  InferOptions,
  InferResult,
  RequestTelemetry,
  Runtime,
  RuntimeTensor,
  ServerContext,
  ServerContextOptions,
  SplitModel,
} from './types.js';
import type { BudgetTelemetry } from './budget-pacer.js';

export type { SplitClientOptions } from './client-options.js';

/**
 * The platform-neutral device client. It runs the head of the chosen plan on the device,
 * sends the crossing tensors to the server, and merges the tail's outputs with the head's. If
 * the server cannot be used for a request (not connected, digests differ, error, timeout,
 * dropped connection) it runs the tail itself: the device holds both halves of every plan.
 * Every infer() resolves exactly once; a response that arrives after its request gave up on the
 * server is dropped and counted in stats().lateResponses.
 */
export class SplitClient<T extends RuntimeTensor, P extends ClientPlan = ClientPlan> {
  readonly plans: readonly P[];
  private readonly model: SplitModel<P>;
  private readonly runtime: Runtime<T>;
  private readonly options: ResolvedClientOptions<P>;
  /** The server sites (one for a client given `server`); the first is the primary of serverContext() and the probe. */
  private readonly pool: SitePool<T, P>;
  private readonly sessions: SessionCache<T>;
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly counters: ClientStats = emptyStats();
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly probe: NetworkProbe;

  private constructor(options: SplitClientOptions<T, P>) {
    this.options = resolveClientOptions(options, options.model);
    this.model = options.model;
    this.plans = options.model.plans;
    this.runtime = options.runtime;
    this.sessions = new SessionCache(options.runtime, options.model.name);
    const { clock } = this.options;
    const events = {
      opened: () => {
        this.counters.connects += 1;
      },
      down: () => {
        this.counters.disconnects += 1;
      },
    };
    this.pool = new SitePool({
      sites: this.options.sites,
      multi: options.servers !== undefined,
      model: this.model,
      runtime: this.runtime,
      transport: options.transport,
      options: this.options,
      network: options.network,
      events,
      equity: this.options.equity,
    });
    const primary = this.pool.primary;
    this.probe = new NetworkProbe(
      clock,
      {
        ping: (timeoutMs, padBytes) => primary.connection.ping(timeoutMs, padBytes),
        connected: () => primary.up,
        idle: () => primary.link.trips === 0 && this.inFlight.size === 0,
      },
      options.networkProbe,
      primary.network.smallBytes,
    );
  }

  /** Builds the client and makes the first connection attempt (a server that is down is not an error). */
  static async open<T extends RuntimeTensor, P extends ClientPlan>(options: SplitClientOptions<T, P>): Promise<SplitClient<T, P>> {
    const client = new SplitClient(options);
    await client.pool.start();
    return client;
  }

  /** The connection's state; with `servers`, 'open' while any site is (see sites()). */
  get state(): ConnectionState {
    return this.pool.state;
  }

  /** Resolves when connected to the server (with `servers`: to any site); rejects with CARBONCP_NOT_READY after timeoutMs. */
  ready(timeoutMs: number = DEVICE_DEFAULTS.readyTimeoutMs): Promise<void> {
    return this.pool.ready(timeoutMs);
  }

  /**
   * With `servers`: every site, its connection, grid, water and measured RTT now, and the
   * requests, carbon, water and share of the sites' footprint it has carried (README, "Several sites").
   */
  sites(): SiteState[] {
    return this.pool.states(this.options.clock.epochMs());
  }

  /** Whether a plan can currently run its tail on the server (with `servers`: at the named site, default the primary), and if not, why. */
  remoteStatus(planId: string, site?: string): { usable: boolean; error?: { code: string; message: string } } {
    const link = site === undefined ? this.pool.primary : this.pool.link(site);
    if (!link) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `no site '${site}' (sites: ${this.pool.links.map((l) => l.name).join(', ')})`);
    const error = link.remote.unusable(planById(this.model, planId));
    return error ? { usable: false, error: { code: error.code, message: error.message } } : { usable: true };
  }

  /**
   * Asks the server for its current context (a Ping; the Pong answers): queue depth, requests
   * executing, recent tail latency of this model's plans, carbon intensity, and the round trip
   * measured here. Rejects with CARBONCP_CONNECTION_LOST when not connected (or the connection
   * drops before the answer), CARBONCP_TIMEOUT when no answer comes within timeoutMs (default
   * 5000), CARBONCP_SHUTTING_DOWN on a closed client. A timeout does not drop the connection
   * (keepalive decides that).
   */
  async serverContext(options: ServerContextOptions = {}): Promise<ServerContext> {
    if (this.closed) throw new CarboncpError(ErrorCode.SHUTTING_DOWN, 'serverContext() called on a closed client');
    const timeoutMs = checkPositiveMs('timeoutMs', options.timeoutMs ?? DEVICE_DEFAULTS.serverContextTimeoutMs);
    return serverContextOf(this.model, await this.pool.primary.connection.ping(timeoutMs));
  }

  /** The most recent server context, from serverContext() or a keepalive pong; kept across reconnects (see receivedAt). */
  get lastServerContext(): ServerContext | undefined {
    return this.pool.primary.latestContext;
  }

  /** RTT and throughput to the server as estimated from every request and pong (README, "Network estimate"); undefined before the first RTT sample. */
  networkEstimate(): NetworkEstimate | undefined {
    return this.pool.primary.network.estimate();
  }

  /**
   * One active probe (a small ping, then one padded with networkProbe.bytes), if its rate limits
   * allow: otherwise `{ sent: false, reason }`. Rejects like serverContext() when a ping fails.
   */
  probeNetwork(): Promise<ProbeOutcome> {
    if (this.closed) return Promise.reject(new CarboncpError(ErrorCode.SHUTTING_DOWN, 'probeNetwork() called on a closed client'));
    return this.probe.probe();
  }

  stats(): ClientStats {
    return {
      ...this.counters,
      timeouts: this.pool.links.reduce((n, l) => n + l.remote.timeouts, 0),
      lateResponses: this.pool.links.reduce((n, l) => n + l.remote.late, 0),
      errors: { ...this.counters.errors },
    };
  }

  /** The cut policy consulted for cut 'auto' (a CalibratedPolicy when the client has a calibrator). */
  get cutPolicy(): CutPolicy<P> {
    return this.options.cutPolicy;
  }

  /**
   * Empirical coverage of the policy's predicted intervals, per decision mode and metric: the
   * share of requests whose observed value fell inside, and the mean width. Undefined for a
   * policy that predicts nothing (the default policy).
   */
  coverage(): Record<string, Record<string, CoverageStats>> | undefined {
    return this.options.cutPolicy.coverage?.();
  }

  /** The carbon budget's state now (createClient's `budget`; undefined without one). */
  budgetState(): BudgetTelemetry | undefined {
    return this.options.cutPolicy.budgetState?.(this.options.clock.epochMs());
  }

  /** The policy's learnt state (JSON-safe): pass it back (createClient's calibrator.state) to start warm. */
  calibratorState(): unknown {
    return this.options.cutPolicy.state?.();
  }

  infer(inputs: Record<string, T>, options: InferOptions = {}): Promise<InferResult<T>> {
    const run = this.inferOnce(inputs, options);
    this.inFlight.add(run);
    const forget = () => this.inFlight.delete(run);
    run.then(forget, forget);
    return run;
  }

  /**
   * Stops reconnecting, lets requests in flight finish (locally if need be), then frees the
   * sessions. Calling it again returns the same promise.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    this.probe.stop();
    this.pool.close();
    for (const l of this.pool.links) l.remote.failAll(new CarboncpError(ErrorCode.SHUTTING_DOWN, 'the client was closed while the request was in flight'), false);
    await Promise.allSettled([...this.inFlight]);
    await this.sessions.releaseAll();
  }

  private async inferOnce(given: Record<string, T>, options: InferOptions): Promise<InferResult<T>> {
    const { clock } = this.options;
    const started = clock.now();
    if (this.closed) throw new CarboncpError(ErrorCode.SHUTTING_DOWN, 'infer() called on a closed client');
    // Only a runtime with off-CPU tensors costs an await here: without one, a request is sent in
    // the same turn as the infer() call (callers rely on that order, e.g. a ping after a burst).
    const inputs = this.runtime.toCpu ? await onCpu(this.runtime, given) : given;
    const timeoutMs = checkPositiveMs('timeoutMs', options.timeoutMs ?? this.options.timeoutMs);
    const requested = options.compression === undefined ? undefined : checkCompression(options.compression);
    const inputSymbols = checkInputs(this.model.name, this.model.inputs, inputs, this.runtime);
    const chosenBy = options.cut === undefined || options.cut === 'auto' ? 'policy' : 'caller';
    if (options.site !== undefined) this.checkSiteOption(options.site, chosenBy);
    const candidate: Candidate<P> =
      chosenBy === 'caller'
        ? { plan: planById(this.model, options.cut), compression: requested ?? this.options.compression, ...(options.site !== undefined ? { site: options.site } : {}) }
        : this.policyChoice(inputs, requested, options);
    const { plan } = candidate;
    const compression: Compression = plan.kind === 'device' ? 'none' : candidate.compression;

    const timeline = new RequestTimeline(clock, started, {
      planId: plan.id,
      path: plan.kind === 'device' ? 'local' : plan.kind === 'split' ? 'split' : 'remote',
      waitMs: 0,
      headMs: 0,
      transferMs: 0,
      serverMs: 0,
      queueMs: 0,
      tailLocalMs: 0,
      totalMs: 0,
      bytesUp: 0,
      bytesDown: 0,
      compression,
      cutChosenBy: chosenBy,
    });
    // Device-clock windows of this request's runs on the device (head, local tail), for deviceEnergy.
    const runs: [number, number][] = [];
    // The site the tail last went to (with `servers`, recorded in telemetry).
    let site: SiteLink<T, P> | undefined;
    const finish = (outputs: Record<string, T>): InferResult<T> => {
      const merged = this.modelOutputs(outputs);
      const telemetry = timeline.finish();
      if (site && this.pool.multi) telemetry.site = this.pool.record(site, telemetry, clock.epochMs());
      const deviceEnergy = this.deviceEnergy(runs);
      if (deviceEnergy) telemetry.deviceEnergy = deviceEnergy;
      if (this.options.footprint) addFootprint(telemetry, this.options.footprint);
      if (candidate.decision) {
        telemetry.decision = structuredClone(candidate.decision);
        recordObserved(telemetry);
      }
      const cut = { network: this.pool.network(), serverContext: (site ?? this.pool.primary).latestContext, ...this.siteContext() };
      const budget = this.options.cutPolicy.book?.(candidate, telemetry, clock.epochMs(), cut);
      if (budget) telemetry.budget = budget;
      recordRequest(this.counters, telemetry);
      tellPolicy(this.options.cutPolicy, { candidate, chosenBy, telemetry, cut, epochMs: clock.epochMs() });
      return { outputs: merged, telemetry };
    };

    const halves = this.model.halves(plan.id);
    let headOutputs: Record<string, T> = {};
    if (halves.head) {
      const head = await this.sessions.get(halves.head, `${plan.id} head`);
      const feeds = pick(inputs, head.inputNames);
      timeline.waited();
      const run = await runMeasured(head, feeds, clock);
      const end = clock.now();
      runs.push([end - run.computeMs, end]);
      timeline.ran('headMs', run.computeMs);
      noteProvider(timeline.telemetry, head.executionProvider);
      headOutputs = run.outputs;
    }
    if (plan.kind === 'device') return finish(headOutputs);

    const crossing: Record<string, T> = {};
    for (const tensor of plan.crossing) {
      const value = tensor.source === 'input' ? inputs[tensor.name] : headOutputs[tensor.name];
      if (value === undefined) {
        throw new CarboncpError(ErrorCode.INTERNAL, `plan '${plan.id}': the head did not produce crossing tensor '${tensor.name}'`);
      }
      crossing[tensor.name] = value;
    }

    site = this.pool.route(plan, candidate.site);
    let failure = site.remote.unusable(plan);
    if (!failure) {
      const outcome = await this.tailAt(site, plan, crossing, inputSymbols, compression, timeoutMs, timeline);
      if (outcome.ok) return finish({ ...headOutputs, ...outcome.outputs });
      failure = outcome.error;
    }
    // Failover (with `servers`): once, to another site that can take the tail now; then the device.
    const other = this.pool.multi && !this.closed ? this.pool.failover(site, plan, candidate.decision?.runnersUp) : undefined;
    if (other) {
      timeline.telemetry.failover = { from: { name: site.name, url: site.url }, error: { code: failure.code, message: failure.message } };
      site = other;
      const outcome = await this.tailAt(site, plan, crossing, inputSymbols, compression, timeoutMs, timeline);
      if (outcome.ok) return finish({ ...headOutputs, ...outcome.outputs });
      failure = outcome.error;
    }
    return finish({ ...headOutputs, ...(await this.tailLocally(plan, crossing, failure, timeline, runs)) });
  }

  /** One trip of the tail to a site; its bytes add to the request's (a failover makes two trips), a success feeds the site's network estimate. */
  private async tailAt(
    site: SiteLink<T, P>,
    plan: P,
    crossing: Record<string, T>,
    inputSymbols: SymbolBindings,
    compression: Compression,
    timeoutMs: number,
    timeline: RequestTimeline,
  ): Promise<RemoteOutcome<T>> {
    // A head that left its outputs on the GPU: the wire needs their bytes (waitMs counts the read).
    if (this.runtime.toCpu) Object.assign(crossing, await onCpu(this.runtime, crossing));
    timeline.waited();
    const { telemetry: t } = timeline;
    const before = { transferMs: t.transferMs, serverMs: t.serverMs, bytesUp: t.bytesUp, bytesDown: t.bytesDown };
    t.bytesUp = 0;
    t.bytesDown = 0;
    const trip = site.link.begin();
    const outcome = await site.remote.call(plan, crossing, inputSymbols, compression, timeoutMs, timeline);
    const shared = trip.end();
    if (outcome.ok) site.network.observeTransfer({ transferMs: t.transferMs - before.transferMs, serverMs: t.serverMs - before.serverMs, bytesUp: t.bytesUp, bytesDown: t.bytesDown, shared });
    t.bytesUp += before.bytesUp;
    t.bytesDown += before.bytesDown;
    return outcome;
  }

  /** A request's `site`: a fixed cut's, at one of this client's sites. */
  private checkSiteOption(site: string, chosenBy: 'caller' | 'policy'): void {
    const names = this.pool.links.map((l) => l.name);
    if (!this.pool.multi) throw badOption(`site '${String(site)}' names one of several servers: this client has one server (give servers: [...])`);
    if (chosenBy === 'policy') throw badOption("site goes with a fixed cut: with cut 'auto' the cut policy chooses the site");
    if (!names.includes(site)) throw badOption(`no site '${String(site)}' (sites: ${names.join(', ')})`);
  }

  /** What a cut policy sees of the sites (nothing for a client with one server): each site now, and the equity's prices. */
  siteContext(): { sites?: CutContext<P>['sites']; sitePenalties?: CutContext<P>['sitePenalties'] } {
    const sites = this.pool.views(this.options.clock.epochMs());
    if (!sites) return {};
    return { sites, ...(this.pool.equity ? { sitePenalties: this.pool.equity.penalties() } : {}) };
  }

  /** Energy over the request's runs on the device from the powerSampler's cached readings; undefined without one or when a run is not covered. */
  private deviceEnergy(runs: readonly [number, number][]): DeviceEnergy | undefined {
    const meter = this.options.powerSampler;
    if (!meter) return undefined;
    if (runs.length === 0) return { energyJ: 0, kind: 'measured', source: 'no head or local tail ran on the device', extrapolatedMs: 0 };
    const parts = runs.map(([t0, t1]) => meter.energy(t0, t1));
    if (parts.some((p) => p === undefined)) return undefined;
    const windows = parts as WindowEnergy[];
    const sources = [...new Set(windows.map((w) => w.source))];
    return {
      energyJ: windows.reduce((sum, w) => sum + w.joules, 0),
      kind: windows.every((w) => w.kind === 'measured') ? 'measured' : 'estimated',
      source: sources.join(' + '),
      extrapolatedMs: windows.reduce((sum, w) => sum + w.extrapolatedMs, 0),
    };
  }

  private async tailLocally(
    plan: P,
    crossing: Record<string, T>,
    failure: CarboncpError,
    timeline: RequestTimeline,
    runs: [number, number][],
  ): Promise<Record<string, T>> {
    const { telemetry } = timeline;
    telemetry.path = 'local-fallback';
    telemetry.error = { code: failure.code, message: failure.message };
    const { tail: tailBytes } = this.model.halves(plan.id);
    if (!tailBytes) throw new CarboncpError(ErrorCode.INTERNAL, `plan '${plan.id}' has no tail to run locally`);
    const tail = await this.sessions.get(tailBytes, `${plan.id} tail`);
    const feeds = pick(crossing, tail.inputNames);
    timeline.waited();
    const run = await runMeasured(tail, feeds, this.options.clock);
    const end = this.options.clock.now();
    runs.push([end - run.computeMs, end]);
    timeline.ran('tailLocalMs', run.computeMs);
    noteProvider(telemetry, tail.executionProvider);
    return run.outputs;
  }

  /** Asks the cut policy, then holds its answer to the same rules as a caller's choice. */
  private policyChoice(inputs: Record<string, T>, requested: Compression | undefined, options: InferOptions): Candidate<P> {
    const decide: RequestedDecision = {};
    for (const key of ['sloMs', 'alpha', 'mode', 'objective', 'maxOutputError'] as const) if (options[key] !== undefined) (decide as Record<string, unknown>)[key] = options[key];
    return askPolicy(this.options.cutPolicy, this.model, {
      plans: this.plans,
      requested: { cut: 'auto', compression: requested, decide },
      defaults: { cut: this.options.defaultCut, compression: this.options.compression },
      inputDims: Object.fromEntries(Object.entries(inputs).map(([name, tensor]) => [name, tensor.dims])),
      remoteUsable: (planId, site) => this.pool.usable(planById(this.model, planId), site),
      serverContext: this.pool.primary.latestContext,
      network: this.pool.network(),
      ...this.siteContext(),
      now: this.options.clock.now(),
      epochMs: this.options.clock.epochMs(),
    });
  }

  private modelOutputs(all: Record<string, T>): Record<string, T> {
    const outputs: Record<string, T> = {};
    for (const info of this.model.outputs) {
      const value = all[info.name];
      if (value === undefined) throw new CarboncpError(ErrorCode.INTERNAL, `model output '${info.name}' was produced by neither half`);
      outputs[info.name] = value;
    }
    return outputs;
  }
}

/** Adds a run's execution provider to the request's telemetry ('webgpu then wasm' when a second run used another). */
function noteProvider(telemetry: RequestTelemetry, provider: string | undefined): void {
  if (provider === undefined) return;
  const previous = telemetry.executionProvider;
  telemetry.executionProvider = previous === undefined || previous === provider ? provider : `${previous} then ${provider}`;
}

function pick<T>(values: Record<string, T>, names: readonly string[]): Record<string, T> {
  const picked: Record<string, T> = {};
  for (const name of names) {
    const value = values[name];
    if (value === undefined) throw new CarboncpError(ErrorCode.INTERNAL, `no value for session input '${name}'`);
    picked[name] = value;
  }
  return picked;
}
