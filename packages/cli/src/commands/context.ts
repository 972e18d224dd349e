import { createProvider, type DeviceProfile } from '@carboncp/carbon';
import { loadDeviceProfile, loadDeviceProfileFile, nodeProviderContext, nodeProviderFactories, readTextFile } from '@carboncp/carbon/node';
import { NETWORK_DEFAULTS, PROBE_DEFAULTS } from '@carboncp/device/node';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { EXIT, type Command, type Io } from '../command.js';
import { item, unavailable } from '../context/context-item.js';
import { contextTable, type CarbonItem, type ContextReport } from '../context/context-table.js';
import { describeDevice, readPower } from '../context/device-context.js';
import { readServer } from '../context/server-section.js';
import { parseCommon } from './partition.js';

const DEFAULTS = { powerSampleMs: 1000, timeoutMs: 5000, pings: 5 } as const;

const usage = `Usage: carboncp context [--server URL [--ca FILE]] [--device PROFILE_ID|FILE] [--carbon SPEC] [--json]

Prints what this device measures right now and what it estimates, each item labelled measured,
estimated, forecast (a carbon provider's prediction), reported (a server's figure whose kind the
protocol does not carry) or unavailable, with its source:
  device   CPU model, cores, OS, Node, load average
  power    the draw and battery from the sources detectPowerSource finds here (Linux: Jetson
           INA3221 rails, power_supply batteries, RAPL; macOS: ioreg; Windows: WMI), each
           tried source listed with why it was not used (e.g. RAPL root-only); where nothing
           measures power, the --device profile's power model at the CPU utilisation
  carbon   the grid intensity at the device from --carbon (none by default, and it says so)
  server   with --server: connected as a device would (a hello naming no model): RTT from
           --pings pings, the uplink from one active probe, the server's queue depth, batch in
           flight, recent tail times and carbon intensity, and GET /v2/health/ready

Options:
  --server URL            a carboncp server, ws://HOST:PORT (or wss://)
  --token TOKEN           the server's token (or set CARBONCP_TOKEN)
  --ca FILE               PEM CA certificate(s) to trust for a wss:// server whose certificate a
                          private CA signed (instead of Node's bundled roots); a certificate
                          that does not verify is CARBONCP_CONNECTION_LOST naming the TLS error
  --device PROFILE_ID|FILE
                          a device profile: a shipped id (e.g. raspberry-pi-4, dev-machine) or
                          a profile .json file; its idle and active power are the estimate where
                          nothing measures, its battery capacity where the battery does not say
  --carbon SPEC           the grid intensity here, from a provider (the specs of 'carboncp
                          carbon': static:300, csv:FILE,zone=Z, uk, ...)
  --power-sample-ms MS    take two power readings MS apart (default ${DEFAULTS.powerSampleMs}): a counter's
                          power (RAPL) and the model's CPU utilisation are then over that window;
                          0 takes one reading
  --sysfs-root DIR        read the Linux sources from DIR instead of /sys (a copy of a device's
                          tree, a container's mount); implies the Linux sources
  --pings N               pings to the server (default ${DEFAULTS.pings})
  --probe-bytes N         padding of the active probe (default ${PROBE_DEFAULTS.bytes}, more than ${NETWORK_DEFAULTS.smallBytes}, at
                          most ${PROBE_DEFAULTS.maxBytes}); 0: no probe, no uplink figure
  --timeout-ms MS         bound of everything the server is asked (default ${DEFAULTS.timeoutMs})
  --json                  print one JSON object { time, device, power, carbon, server }

Exit codes: 0 ok, 2 bad command line or spec, 3 bad input (no such profile or file, a trace
that cannot be read), 4 run-time error: the server unreachable (CARBONCP_CONNECTION_LOST), no
answer within --timeout-ms (CARBONCP_TIMEOUT), a refused token (CARBONCP_UNAUTHORIZED), a
carbon provider that fails.`;

function usageError(message: string): CarboncpError {
  return new CarboncpError(ErrorCode.USAGE, `context: ${message}; see 'carboncp context --help'`);
}

function integer(value: string | undefined, flag: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) throw usageError(`${flag} must be an integer in [${min}, ${max}], got '${value}'`);
  return Number(value);
}

export interface ContextArgs {
  server: string | undefined;
  token: string | undefined;
  /** --ca: a file of PEM CA certificates. */
  ca: string | undefined;
  device: string | undefined;
  carbon: string | undefined;
  powerSampleMs: number;
  sysfsRoot: string | undefined;
  pings: number;
  probeBytes: number;
  timeoutMs: number;
  json: boolean;
}

export function parseContextArgs(args: string[], env: NodeJS.ProcessEnv = process.env): ContextArgs {
  const { values, positionals } = parseCommon(
    args,
    {
      server: { type: 'string' },
      token: { type: 'string' },
      ca: { type: 'string' },
      device: { type: 'string' },
      carbon: { type: 'string' },
      'power-sample-ms': { type: 'string' },
      'sysfs-root': { type: 'string' },
      pings: { type: 'string' },
      'probe-bytes': { type: 'string' },
      'timeout-ms': { type: 'string' },
      json: { type: 'boolean' },
    },
    'context',
  );
  if (positionals.length > 0) throw usageError(`unexpected argument '${positionals[0]}'`);
  const get = (flag: string) => values[flag] as string | undefined;
  const server = get('server');
  if (server !== undefined && !/^wss?:\/\/[^/\s]+/.test(server)) throw usageError(`--server must be a ws:// or wss:// URL, got '${server}'`);
  const carbon = get('carbon');
  if (carbon !== undefined && carbon.trim() === '') throw usageError('--carbon needs a provider spec, e.g. static:300');
  const probeBytes = integer(get('probe-bytes'), '--probe-bytes', 0, PROBE_DEFAULTS.maxBytes, PROBE_DEFAULTS.bytes);
  if (probeBytes !== 0 && probeBytes <= NETWORK_DEFAULTS.smallBytes) {
    throw usageError(`--probe-bytes must be 0 or more than ${NETWORK_DEFAULTS.smallBytes} (smaller pings time only the rtt), got '${probeBytes}'`);
  }
  const serverOnly = ['token', 'ca', 'pings', 'probe-bytes', 'timeout-ms'].filter((flag) => values[flag] !== undefined);
  if (server === undefined && serverOnly.length > 0) throw usageError(`--${serverOnly[0]} needs --server`);
  return {
    server,
    token: get('token') ?? env.CARBONCP_TOKEN,
    ca: get('ca'),
    device: get('device'),
    carbon,
    powerSampleMs: integer(get('power-sample-ms'), '--power-sample-ms', 0, 60_000, DEFAULTS.powerSampleMs),
    sysfsRoot: get('sysfs-root'),
    pings: integer(get('pings'), '--pings', 1, 100, DEFAULTS.pings),
    probeBytes,
    timeoutMs: integer(get('timeout-ms'), '--timeout-ms', 1, 600_000, DEFAULTS.timeoutMs),
    json: values.json === true,
  };
}

/** A shipped profile by id, or a file: a value with a path separator or ending in .json is a file. */
function loadProfile(spec: string): Promise<DeviceProfile> {
  return /[\\/]|\.json$/i.test(spec) ? loadDeviceProfileFile(spec) : loadDeviceProfile(spec);
}

async function readCarbon(spec: string | undefined): Promise<CarbonItem> {
  if (spec === undefined) return unavailable('no --carbon given: no grid intensity at the device', 'gCO2eq/kWh');
  const provider = await createProvider(spec, nodeProviderFactories, nodeProviderContext());
  const point = await provider.current({ at: Date.now() });
  return {
    ...item(point.gPerKwh, point.kind, point.source, 'gCO2eq/kWh'),
    zone: point.zone,
    time: point.time,
    ...(point.durationMinutes !== undefined ? { durationMinutes: point.durationMinutes } : {}),
    ...(point.signal !== undefined ? { signal: point.signal } : {}),
    ...(point.stale ? { stale: true } : {}),
  };
}

/** Everything the context holds; the device, carbon and server parts are read at the same time. */
export async function readContext(args: ContextArgs): Promise<ContextReport> {
  const profile = args.device === undefined ? undefined : await loadProfile(args.device);
  const ca = args.ca === undefined ? undefined : await readTextFile(args.ca);
  const time = new Date().toISOString();
  const [power, carbon, server] = await Promise.all([
    readPower({ ...(profile ? { profile } : {}), ...(args.sysfsRoot !== undefined ? { sysfsRoot: args.sysfsRoot } : {}), sampleMs: args.powerSampleMs }),
    readCarbon(args.carbon),
    args.server === undefined
      ? Promise.resolve(null)
      : readServer({ url: args.server, ...(args.token !== undefined ? { token: args.token } : {}), ...(ca !== undefined ? { ca } : {}), timeoutMs: args.timeoutMs, pings: args.pings, probeBytes: args.probeBytes }),
  ]);
  return { time, device: describeDevice(profile), power, carbon, server };
}

async function run(args: string[], io: Io): Promise<number> {
  const parsed = parseContextArgs(args);
  const report = await readContext(parsed);
  io.out(parsed.json ? JSON.stringify(report, null, 2) : contextTable(report));
  return EXIT.OK;
}

export const command: Command = {
  name: 'context',
  summary: 'print what this device measures and estimates now (power, battery, carbon, server, network), with sources',
  usage,
  run,
};
