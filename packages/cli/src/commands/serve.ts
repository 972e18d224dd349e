import { parseArgs } from 'node:util';
import { parseInputShapeSpecs } from '@carboncp/core';
import { CarboncpError, ErrorCode, isCarboncpError } from '@carboncp/protocol';
import { createProvider, withLastKnown } from '@carboncp/carbon';
import { nodeProviderContext, nodeProviderFactories, readTextFile } from '@carboncp/carbon/node';
import { SERVER_DEFAULTS, nvidiaSmiPowerSource, resolveServerOptions, startServer, type ServerOptions } from '@carboncp/server';
import { EXIT, type Command, type Io } from '../command.js';
import { addFamilyModels, checkFamilies } from './serve-family.js';
import { POWER_CAP_FLAGS, parsePowerCapFlags } from './serve-power-cap.js';

const usage = `Usage: carboncp serve --models DIR|FILE... | --family NAME [options]

Runs the companion server: devices connect over WebSocket (ws://HOST:PORT, or wss:// with
--tls-cert and --tls-key), send the tensors at a cut of a model and get the tail's outputs back.
The same port serves HTTP (HTTPS with TLS): /v2/health/live, /v2/health/ready, /v2/models/NAME
(metadata, plans and digests), POST /v2/models/NAME/infer (KServe v2 inference, JSON or binary
tensor data; NAME is the model for the whole model, MODEL.tail.PLAN for a split plan's tail)
and /metrics (Prometheus). With
a token, every HTTP endpoint but the two health checks needs it as 'authorization: Bearer TOKEN'.
Every .onnx file given (or found in a given directory) is served under its file name without
.onnx. Stops gracefully on SIGINT/SIGTERM: in-flight requests finish first.

Options:
  --models PATH...            .onnx files or directories of them (repeatable, several values)
  --family NAME               every variant of a zoo model family (repeatable): imagenet-mobilenetv2
                              (widths 0.35, 0.5, 0.75, 1.0), imagenet-resnet (ResNet-18/34/50);
                              generated into the zoo cache on first use, served under their
                              file names (e.g. mobilenetv2-0.35.v1) with their zoo input shapes
  --input-shape [MODEL:]NAME=D,D,...
                              optional input shape (repeatable; without MODEL: it applies to
                              every model with an input NAME). Plan digests do not depend on
                              it. Given, the server probes the model and checks requests
                              against the exact cut shapes; left out for a model with symbolic
                              image dims, it serves requests of any size (cut sizes unknown)
  --host HOST                 interface to listen on (default ${SERVER_DEFAULTS.host})
  --port PORT                 port (default ${SERVER_DEFAULTS.port}; 0 picks a free one)
  --agent-port PORT           answer HAProxy's agent check on this TCP port of --host (0 picks a
                              free one): 'ready W%' with W = 100 x 100 / (100 + wait ms), the
                              wait a new request would have (queued and running requests /
                              worker threads x median recent tail ms), at least 1; 'drain' once
                              shutdown starts (see 'carboncp fleet' and the server README)
  --token TOKEN               require this token in every client's hello, and as a Bearer
                              header on HTTP but the health checks (or set CARBONCP_TOKEN)
  --open-metrics              with a token, leave /metrics open (a scraper on a private network)
  --tls-cert FILE             serve HTTPS and WSS on the port with this PEM certificate (chain:
                              the server's certificate first, then intermediates); needs --tls-key.
                              A token on a --host that is not loopback without TLS is warned about
  --tls-key FILE              the certificate's PEM private key
  --tls-passphrase-file FILE  the key's passphrase, the file's first line, for an encrypted key
                              (or set CARBONCP_TLS_PASSPHRASE; never a flag's value, which any
                              user on the machine can read in the process list)
  --profile off|lazy|start    the tail latency profile at GET /v2/models/{name}/profile: measured
                              on its first request (lazy, default), right after start in the
                              background (start), or not at all (off)
  --profile-runs N            profiled full-model runs per model (default 10)
  --ep LIST                   execution providers to try in order (default cuda,cpu)
  --max-payload BYTES         largest message accepted (default ${SERVER_DEFAULTS.maxPayload})
  --max-queue N               requests waiting before new ones get CARBONCP_BUSY (default ${SERVER_DEFAULTS.maxQueue})
  --max-queue-per-connection N
                              one connection's requests queued or running at once before its
                              new ones get CARBONCP_BUSY, so a flooding client cannot starve the
                              others (at most --max-queue; default a quarter of it, rounded up)
  --max-connections N         open connections before new ones are refused with CARBONCP_BUSY
                              and close 1013 (default ${SERVER_DEFAULTS.maxConnections})
  --max-connections-per-address N
                              open connections from one address before its new ones are
                              refused the same way (default: no cap below --max-connections)
  --idle-timeout-ms MS        close a connection that sends no infer request this long after
                              connecting (pings do not count; 0 = never; default ${SERVER_DEFAULTS.idleTimeoutMs})
  --max-buffered-bytes BYTES  unsent bytes a connection may hold (a client that does not read)
                              before it is dropped (default ${SERVER_DEFAULTS.maxBufferedBytes})
  --tail-timeout-ms MS        longest one tail run may take: past it its requests get
                              CARBONCP_TIMEOUT and its worker is replaced (default ${SERVER_DEFAULTS.tailTimeoutMs})
  --batch-max N               enable dynamic batching: at most N samples per tail run
  --batch-window-ms MS        how long a request may wait for batch company (default 2)
  --executor main|worker      where tails run (default ${SERVER_DEFAULTS.executor}): 'worker' runs them on worker
                              threads, so health checks, metrics, pings and frame reads are
                              answered while a tail runs; 'main' runs them on the event loop
                              (no thread hop, but the server stalls for the length of each run)
  --workers N                 worker threads, each running one batch at a time (default
                              ${SERVER_DEFAULTS.workers}; only with --executor worker)
  --cache-mb MB               bound of the tail-session cache, over all workers (default ${SERVER_DEFAULTS.sessionCacheBytes / 1024 / 1024})
  --carbon-intensity G        grid carbon intensity (gCO2e/kWh) reported to clients in pongs
  --carbon-source NAME        where that number comes from (default 'static')
  --carbon SPEC               the grid carbon intensity where the server runs, from a provider
                              (the specs of 'carboncp carbon', e.g. static:300, csv:de.csv,zone=DE,
                              uk-carbon-intensity): sampled at start and every
                              --carbon-refresh-ms on a timer, never on a request; reported in
                              pongs and used for each response's carbon_g. Not with
                              --carbon-intensity
  --carbon-refresh-ms MS      how often --carbon is sampled (default ${SERVER_DEFAULTS.carbonRefreshMs})
  --server-power-w W          the server's power draw while it runs a tail: each response then
                              carries energy_j (tail time / batch size x W x PUE, estimated) and,
                              with an intensity, carbon_g; /metrics counts the totals
  --server-power nvidia-smi   read the server's power from nvidia-smi (the GPUs' power.draw,
                              every ${SERVER_DEFAULTS.serverPowerRefreshMs} ms on a timer): energy_j is then measured power x tail
                              time; --server-power-w is the fallback while it fails
  --pue N                     power usage effectiveness of the site, >= 1 (default 1; needs
                              --server-power-w or --server-power)
  --power-cap auto|off|WATTS  GPU power limit set with nvidia-smi -pl (needs root; without it,
                              one log line and no cap). auto: the board's default at low carbon
                              or a queue, down to a fraction of it at high carbon; WATTS: fixed
                              (clamped to the board's range). Reported in pongs and /metrics;
                              the original limit is restored on exit. Default off
  --power-cap-low-carbon G    auto: at or below G gCO2e/kWh the default limit (default 200)
  --power-cap-high-carbon G   auto: at or above G the lowest cap (default 400; linear between)
  --power-cap-low-fraction F  auto: the lowest cap as a fraction of the default (default 0.6)
  --power-cap-lift-queue N    auto: N or more queued requests lift the cap to the default (default 4)
  --power-cap-gpus LIST       GPU indices to cap (default every GPU with a settable limit)
  --drain-ms MS               how long shutdown waits for queued requests (default ${SERVER_DEFAULTS.drainMs})
  --tail-backend URL          run no tail here: forward each batch to a KServe v2 server (Triton
                              serving 'carboncp export triton', or another carboncp serve) at URL,
                              e.g. http://triton:8000, as POST /v2/models/<tail name>/infer with
                              binary tensors; bounded by --tail-timeout-ms, --workers calls in
                              flight; an unreachable backend fails requests with CARBONCP_INTERNAL
  --tail-backend-token TOKEN  sent to the backend as 'authorization: Bearer TOKEN'
                              (or set CARBONCP_TAIL_BACKEND_TOKEN)
  --tail-backend-check-ms MS  how often to ask the backend's /v2/health/ready (default
                              ${SERVER_DEFAULTS.tailBackendCheckMs}); this server is ready only while it is

Exit codes: 0 stopped cleanly, 2 bad command line, 3 bad model or option, 4 run-time error
(e.g. the port is in use).`;

// In-process runs (tests, embedding) stop through stopServing(); the CLI stops on signals.
const running = new Set<AbortController>();

/** Stops every `carboncp serve` running in this process, as SIGINT would. */
export function stopServing(): void {
  for (const controller of running) controller.abort();
}

function usageError(message: string): CarboncpError {
  return new CarboncpError(ErrorCode.USAGE, `serve: ${message}; see 'carboncp serve --help'`);
}

function integer(value: string | undefined, flag: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min) throw usageError(`${flag} must be an integer >= ${min}, got '${value}'`);
  return Number(value);
}

function number(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isFinite(parsed) || parsed < 0) throw usageError(`${flag} must be a number >= 0, got '${value}'`);
  return parsed;
}

/** --models takes every value up to the next flag; node:util parseArgs takes one per flag. */
function takeModels(args: string[]): { models: string[]; rest: string[] } {
  const models: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--models') {
      let taken = 0;
      while (i + 1 < args.length && !args[i + 1].startsWith('--')) {
        models.push(args[++i]);
        taken++;
      }
      if (taken === 0) throw usageError('--models needs at least one file or directory');
    } else if (arg.startsWith('--models=')) {
      models.push(arg.slice('--models='.length));
    } else {
      rest.push(arg);
    }
  }
  return { models, rest };
}

function parseInputShapes(specs: string[]): Record<string, Record<string, number[]>> {
  const byModel: Record<string, Record<string, number[]>> = {};
  for (const spec of specs) {
    // The first ':' before '=' ends a MODEL: prefix; an input name with a ':' needs the prefix.
    const eq = spec.indexOf('=');
    const colon = spec.indexOf(':');
    const prefixed = colon > 0 && (eq === -1 || colon < eq);
    const model = prefixed ? spec.slice(0, colon) : '*';
    const rest = prefixed ? spec.slice(colon + 1) : spec;
    let parsed: Record<string, number[]>;
    try {
      parsed = parseInputShapeSpecs([rest]);
    } catch (cause) {
      throw new CarboncpError(ErrorCode.USAGE, `serve: --input-shape '${spec}': ${(cause as Error).message}`, { cause });
    }
    byModel[model] = { ...byModel[model], ...parsed };
  }
  return byModel;
}

export function parseServeArgs(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): { options: ServerOptions; drainMs: number; carbonSpec: string | undefined; families: string[]; tlsFiles: TlsFiles | undefined } {
  const { models, rest } = takeModels(args);
  let values: Record<string, string | string[] | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      strict: true,
      options: {
        'input-shape': { type: 'string', multiple: true },
        host: { type: 'string' },
        port: { type: 'string' },
        'agent-port': { type: 'string' },
        token: { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        'tls-passphrase-file': { type: 'string' },
        ep: { type: 'string' },
        'max-payload': { type: 'string' },
        'max-queue': { type: 'string' },
        'max-queue-per-connection': { type: 'string' },
        'max-connections': { type: 'string' },
        'max-buffered-bytes': { type: 'string' },
        'max-connections-per-address': { type: 'string' },
        'idle-timeout-ms': { type: 'string' },
        'tail-timeout-ms': { type: 'string' },
        'open-metrics': { type: 'boolean' },
        profile: { type: 'string' },
        'profile-runs': { type: 'string' },
        'batch-max': { type: 'string' },
        'batch-window-ms': { type: 'string' },
        executor: { type: 'string' },
        workers: { type: 'string' },
        'cache-mb': { type: 'string' },
        'carbon-intensity': { type: 'string' },
        'carbon-source': { type: 'string' },
        carbon: { type: 'string' },
        'carbon-refresh-ms': { type: 'string' },
        'server-power-w': { type: 'string' },
        pue: { type: 'string' },
        'server-power': { type: 'string' },
        'drain-ms': { type: 'string' },
        'tail-backend': { type: 'string' },
        'tail-backend-token': { type: 'string' },
        'tail-backend-check-ms': { type: 'string' },
        family: { type: 'string', multiple: true },
        ...POWER_CAP_FLAGS,
      },
    }) as { values: Record<string, string | string[] | boolean | undefined>; positionals: string[] });
  } catch (cause) {
    throw new CarboncpError(ErrorCode.USAGE, `serve: ${(cause as Error).message}; see 'carboncp serve --help'`, { cause });
  }
  models.push(...positionals);
  const families = (values.family as string[] | undefined) ?? [];
  if (models.length === 0 && families.length === 0) throw usageError('no models: pass --models FILE|DIR... or --family NAME');
  try {
    checkFamilies(families);
  } catch (cause) {
    throw usageError(`--family: ${(cause as Error).message}`);
  }
  const get = (flag: string) => values[flag] as string | undefined;
  const port = integer(get('port'), '--port', 0);
  const agentPort = integer(get('agent-port'), '--agent-port', 0);
  let executionProviders: ServerOptions['executionProviders'];
  const ep = get('ep');
  if (ep !== undefined) {
    const list = ep.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
    const bad = list.filter((p) => p !== 'cuda' && p !== 'cpu');
    if (list.length === 0 || bad.length > 0) throw usageError(`--ep takes a comma-separated list of cuda and cpu, got '${ep}'`);
    executionProviders = list as ('cuda' | 'cpu')[];
  }
  const batchMax = integer(get('batch-max'), '--batch-max', 1);
  const windowMs = number(get('batch-window-ms'), '--batch-window-ms');
  if (windowMs !== undefined && batchMax === undefined) throw usageError('--batch-window-ms needs --batch-max');
  const executor = get('executor') as ServerOptions['executor'];
  const workers = integer(get('workers'), '--workers', 1);
  const cacheMb = number(get('cache-mb'), '--cache-mb');
  if (cacheMb !== undefined && cacheMb <= 0) throw usageError(`--cache-mb must be positive, got '${get('cache-mb')}'`);
  const carbon = number(get('carbon-intensity'), '--carbon-intensity');
  if (get('carbon-source') !== undefined && carbon === undefined) throw usageError('--carbon-source needs --carbon-intensity');
  const carbonSpec = get('carbon');
  if (carbonSpec !== undefined && carbonSpec.trim() === '') throw usageError('--carbon needs a provider spec, e.g. static:300');
  if (carbonSpec !== undefined && carbon !== undefined) throw usageError('--carbon and --carbon-intensity exclude each other: give a provider or a fixed number');
  const carbonRefreshMs = integer(get('carbon-refresh-ms'), '--carbon-refresh-ms', 1);
  if (carbonRefreshMs !== undefined && carbonSpec === undefined) throw usageError('--carbon-refresh-ms needs --carbon');
  const serverPowerW = number(get('server-power-w'), '--server-power-w');
  const pue = number(get('pue'), '--pue');
  const serverPower = get('server-power');
  if (serverPower !== undefined && serverPower !== 'nvidia-smi') throw usageError(`--server-power takes nvidia-smi, got '${serverPower}'`);
  if (pue !== undefined && serverPowerW === undefined && serverPower === undefined) {
    throw usageError('--pue needs --server-power-w or --server-power (the PUE scales the server power)');
  }
  const token = get('token') ?? env.CARBONCP_TOKEN;
  const maxPayload = integer(get('max-payload'), '--max-payload', 1);
  const maxQueue = integer(get('max-queue'), '--max-queue', 1);
  const maxQueuePerConnection = integer(get('max-queue-per-connection'), '--max-queue-per-connection', 1);
  const maxConnections = integer(get('max-connections'), '--max-connections', 1);
  const maxConnectionsPerAddress = integer(get('max-connections-per-address'), '--max-connections-per-address', 1);
  const maxBufferedBytes = integer(get('max-buffered-bytes'), '--max-buffered-bytes', 1);
  const idleTimeoutMs = integer(get('idle-timeout-ms'), '--idle-timeout-ms', 0);
  const tailTimeoutMs = integer(get('tail-timeout-ms'), '--tail-timeout-ms', 1);
  const openMetrics = values['open-metrics'] === true;
  if (openMetrics && token === undefined) throw usageError('--open-metrics needs --token (without one, /metrics is open anyway)');
  const inputShapes = parseInputShapes((values['input-shape'] as string[] | undefined) ?? []);
  const profile = get('profile');
  if (profile !== undefined && profile !== 'off' && profile !== 'lazy' && profile !== 'start') throw usageError(`--profile must be off, lazy or start, got '${profile}'`);
  const profileRuns = integer(get('profile-runs'), '--profile-runs', 1);
  const tlsCert = get('tls-cert');
  const tlsKey = get('tls-key');
  if ((tlsCert === undefined) !== (tlsKey === undefined)) throw usageError(tlsCert === undefined ? '--tls-key needs --tls-cert' : '--tls-cert needs --tls-key');
  const tlsPassphraseFile = get('tls-passphrase-file');
  if (tlsPassphraseFile !== undefined && tlsKey === undefined) throw usageError('--tls-passphrase-file needs --tls-cert and --tls-key');
  const tlsPassphrase = tlsPassphraseFile === undefined && tlsKey !== undefined ? env.CARBONCP_TLS_PASSPHRASE : undefined;
  const powerCap = parsePowerCapFlags(get);
  const tailBackendUrl = get('tail-backend');
  const tailBackendToken = get('tail-backend-token') ?? (tailBackendUrl === undefined ? undefined : env.CARBONCP_TAIL_BACKEND_TOKEN);
  if (tailBackendToken !== undefined && tailBackendUrl === undefined) throw usageError('--tail-backend-token needs --tail-backend');
  const tailBackendCheckMs = integer(get('tail-backend-check-ms'), '--tail-backend-check-ms', 1);
  if (tailBackendCheckMs !== undefined && tailBackendUrl === undefined) throw usageError('--tail-backend-check-ms needs --tail-backend');
  const options: ServerOptions = {
    models,
    ...(Object.keys(inputShapes).length > 0 ? { inputShapes } : {}),
    ...(get('host') !== undefined ? { host: get('host') } : {}),
    ...(port !== undefined ? { port } : {}),
    ...(agentPort !== undefined ? { agentPort } : {}),
    ...(token !== undefined ? { token } : {}),
    ...(executionProviders ? { executionProviders } : {}),
    ...(maxPayload !== undefined ? { maxPayload } : {}),
    ...(maxQueue !== undefined ? { maxQueue } : {}),
    ...(maxQueuePerConnection !== undefined ? { maxQueuePerConnection } : {}),
    ...(maxConnections !== undefined ? { maxConnections } : {}),
    ...(maxConnectionsPerAddress !== undefined ? { maxConnectionsPerAddress } : {}),
    ...(idleTimeoutMs !== undefined ? { idleTimeoutMs } : {}),
    ...(maxBufferedBytes !== undefined ? { maxBufferedBytes } : {}),
    ...(tailTimeoutMs !== undefined ? { tailTimeoutMs } : {}),
    ...(openMetrics ? { openMetrics } : {}),
    ...(profile !== undefined ? { profile } : {}),
    ...(profileRuns !== undefined ? { profileRuns } : {}),
    ...(batchMax !== undefined ? { batching: { maxBatch: batchMax, windowMs: windowMs ?? 2 } } : {}),
    ...(executor !== undefined ? { executor } : {}),
    ...(workers !== undefined ? { workers } : {}),
    ...(cacheMb !== undefined ? { sessionCacheBytes: Math.max(1, Math.round(cacheMb * 1024 * 1024)) } : {}),
    ...(carbon !== undefined ? { carbonIntensity: { value_g_per_kwh: carbon, source: get('carbon-source') ?? 'static' } } : {}),
    ...(carbonRefreshMs !== undefined ? { carbonRefreshMs } : {}),
    ...(serverPowerW !== undefined ? { serverPowerW } : {}),
    ...(serverPower === 'nvidia-smi' ? { serverPowerSource: nvidiaSmiPowerSource() } : {}),
    ...(pue !== undefined ? { pue } : {}),
    ...(powerCap !== undefined ? { powerCap } : {}),
    ...(tailBackendUrl !== undefined
      ? {
          tailBackend: {
            url: tailBackendUrl,
            ...(tailBackendToken !== undefined ? { token: tailBackendToken } : {}),
            ...(tailBackendCheckMs !== undefined ? { checkIntervalMs: tailBackendCheckMs } : {}),
          },
        }
      : {}),
  };
  checkWithServer(options);
  const tlsFiles: TlsFiles | undefined =
    tlsCert !== undefined && tlsKey !== undefined
      ? {
          cert: tlsCert,
          key: tlsKey,
          ...(tlsPassphraseFile !== undefined ? { passphraseFile: tlsPassphraseFile } : {}),
          ...(tlsPassphrase !== undefined ? { passphrase: tlsPassphrase } : {}),
        }
      : undefined;
  return { options, drainMs: integer(get('drain-ms'), '--drain-ms', 0) ?? SERVER_DEFAULTS.drainMs, carbonSpec, families, tlsFiles };
}

/** The files of --tls-cert, --tls-key and --tls-passphrase-file, read when the server starts. */
export interface TlsFiles {
  cert: string;
  key: string;
  passphraseFile?: string;
  /** From CARBONCP_TLS_PASSPHRASE. */
  passphrase?: string;
}

/** Option names of the server as the flags that set them, longest first (for messages). */
const FLAG_OF: [RegExp, string][] = (
  [
    ['maxConnectionsPerAddress', '--max-connections-per-address'],
    ['tailBackend.checkIntervalMs', '--tail-backend-check-ms'],
    ['tailBackend.token', '--tail-backend-token'],
    ['tailBackend.url', '--tail-backend'],
    ['carbonRefreshMs', '--carbon-refresh-ms'],
    ['serverPowerW', '--server-power-w'],
    ['pue', '--pue'],
    ['maxQueuePerConnection', '--max-queue-per-connection'],
    ['sessionCacheBytes', '--cache-mb'],
    ['executionProviders', '--ep'],
    ['maxBufferedBytes', '--max-buffered-bytes'],
    ['maxConnections', '--max-connections'],
    ['idleTimeoutMs', '--idle-timeout-ms'],
    ['tailTimeoutMs', '--tail-timeout-ms'],
    ['batching.maxBatch', '--batch-max'],
    ['batching.windowMs', '--batch-window-ms'],
    ['maxPayload', '--max-payload'],
    ['maxQueue', '--max-queue'],
    ['executor', '--executor'],
    ['workers', '--workers'],
    ['token', '--token'],
    ['agentPort', '--agent-port'],
    ['port', '--port'],
  ] as const
).map(([name, flag]) => [new RegExp(`(?<![\\w.-])${name.replace('.', '\\.')}(?![\\w])`, 'g'), flag]);

/**
 * The server's own resolver judges the values (one place checks them, see
 * @carboncp/server options.ts); what it refuses is a bad command line here, named by flag.
 */
function checkWithServer(options: ServerOptions): void {
  try {
    resolveServerOptions(options);
  } catch (error) {
    if (!isCarboncpError(error, ErrorCode.INVALID_ARGUMENT)) throw error;
    let message = error.message;
    for (const [name, flag] of FLAG_OF) message = message.replace(name, flag);
    throw new CarboncpError(ErrorCode.USAGE, `serve: ${message}; see 'carboncp serve --help'`, { cause: error });
  }
}

async function serve(args: string[], io: Io): Promise<number> {
  const { options, drainMs, carbonSpec, families, tlsFiles } = parseServeArgs(args);
  // A missing file is CARBONCP_NOT_FOUND (exit 3); a certificate or key the server cannot use,
  // CARBONCP_INVALID_ARGUMENT (exit 2), before any model is loaded.
  if (tlsFiles) {
    // The first line: a file written by `echo` ends with a newline that is not the passphrase's.
    const passphrase = tlsFiles.passphraseFile !== undefined ? (await readTextFile(tlsFiles.passphraseFile)).split(/\r?\n/)[0] : tlsFiles.passphrase;
    options.tls = { cert: await readTextFile(tlsFiles.cert), key: await readTextFile(tlsFiles.key), ...(passphrase !== undefined ? { passphrase } : {}) };
  }
  // A bad spec is refused before anything listens (CARBONCP_INVALID_ARGUMENT, exit 2).
  if (carbonSpec !== undefined) {
    options.carbonProvider = withLastKnown(await createProvider(carbonSpec, nodeProviderFactories, nodeProviderContext()));
  }
  if (families.length > 0) {
    const served = await addFamilyModels(families, options);
    io.err(`family ${families.join(', ')}: serving ${served.join(', ')}`);
  }
  const controller = new AbortController();
  running.add(controller);
  const onSignal = (signal: NodeJS.Signals) => {
    io.err(`carboncp serve: ${signal} received, shutting down (drain up to ${drainMs} ms)`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    let server;
    try {
      server = await startServer({ ...options, log: (line) => io.err(line) });
    } catch (error) {
      if (isCarboncpError(error, ErrorCode.LISTEN)) {
        io.err(`carboncp: ${error.code}: ${error.message}`);
        return EXIT.RUNTIME;
      }
      throw error;
    }
    if (!controller.signal.aborted) {
      await new Promise<void>((resolve) => controller.signal.addEventListener('abort', () => resolve(), { once: true }));
    }
    await server.close({ drainMs });
    return EXIT.OK;
  } finally {
    running.delete(controller);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

export const command: Command = {
  name: 'serve',
  summary: 'run the companion server that executes model tails over WebSocket',
  usage,
  run: serve,
};
