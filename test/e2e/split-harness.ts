// Shared helpers of the e2e suites: an independent local reference, output comparison, a TCP
// proxy that can hold or sever a live connection, and a served zoo model with its clients.
import { Socket, createServer, type Server } from 'node:net';
import { basename } from 'node:path';
import * as ort from 'onnxruntime-node';
import { parseDeviceProfile, type DeviceProfile, type IntensityPoint } from '@carboncp/carbon';
import { loadDeviceProfile } from '@carboncp/carbon/node';
import { mulberry32 } from '@carboncp/core';
import { maxAbsDiffOfOutputs } from '@carboncp/core/node';
import { createClient, type CarboncpClient, type CreateClientOptions } from '@carboncp/device/node';
import { ensureModel, getZooModel } from '@carboncp/models';
import { startServer, type CarboncpServer, type ServerOptions } from '@carboncp/server';
import { afterEach, beforeAll } from 'vitest';

/** Whole-model inference in a session of its own: the reference every split result must match. */
export async function referenceRunner(file: string): Promise<{
  run(feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>>;
  release(): Promise<void>;
}> {
  const session = await ort.InferenceSession.create(file, { executionProviders: ['cpu'], intraOpNumThreads: 1 });
  return {
    run: async (feeds) => (await session.run(feeds)) as Record<string, ort.Tensor>,
    release: () => session.release(),
  };
}

/** Largest |a - b| over every output; Infinity when an output is missing, a shape differs or any NaN appears. */
export function maxAbsDiffAll(actual: Record<string, ort.Tensor>, expected: Record<string, ort.Tensor>): number {
  return maxAbsDiffOfOutputs(actual, expected, { equalNaN: false });
}

/** Largest |b| over every output, to state errors relative to the output's scale. */
export function maxAbs(outputs: Record<string, ort.Tensor>): number {
  let worst = 0;
  for (const tensor of Object.values(outputs)) {
    for (const value of tensor.data as Iterable<number | bigint>) worst = Math.max(worst, Math.abs(Number(value)));
  }
  return worst;
}

/** Picks `count` distinct items in a seeded order. */
export function seededSample<T>(items: readonly T[], count: number, seed: number): T[] {
  const random = mulberry32(seed);
  const pool = [...items];
  const picked: T[] = [];
  while (picked.length < count && pool.length > 0) picked.push(pool.splice(Math.floor(random() * pool.length), 1)[0]);
  return picked;
}

/**
 * A TCP proxy in front of a server. `hold()` keeps the server's bytes from reaching the device
 * (requests stay in flight; the bytes are dropped, as a dead network path would), `release()`
 * lets later bytes through again, `kill()` destroys every socket at once, as a crashed server or
 * a dropped network would, and frees the port.
 */
export class TcpProxy {
  bytesUp = 0;
  bytesHeld = 0;
  private holding = false;
  private readonly sockets = new Set<Socket>();
  private constructor(private readonly server: Server, readonly port: number) {}

  static async start(targetPort: number, port = 0): Promise<TcpProxy> {
    let proxy: TcpProxy | undefined;
    const server = createServer((client) => {
      const upstream = new Socket();
      upstream.connect(targetPort, '127.0.0.1');
      const owner = proxy as TcpProxy;
      owner.sockets.add(client).add(upstream);
      client.setNoDelay(true);
      upstream.setNoDelay(true);
      client.on('data', (chunk: Buffer) => {
        owner.bytesUp += chunk.byteLength;
        upstream.write(chunk);
      });
      upstream.on('data', (chunk: Buffer) => {
        if (owner.holding) owner.bytesHeld += chunk.byteLength;
        else client.write(chunk);
      });
      const end = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('close', end).on('error', end);
      upstream.on('close', end).on('error', end);
    });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('proxy has no port');
    proxy = new TcpProxy(server, address.port);
    return proxy;
  }

  hold(): void {
    this.holding = true;
  }

  release(): void {
    this.holding = false;
  }

  async kill(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** The name a server gives a model file: its file name without .onnx. */
export function modelNameOf(file: string): string {
  return basename(file).replace(/\.onnx$/i, '');
}

/**
 * One zoo model served on 127.0.0.1 and clients of it, for a suite: the file is ensured before
 * all tests, and every server, client or `defer`red step is closed after each test, newest first.
 */
export function useServedModel(model: string, seed = 5) {
  const { inputShapes } = getZooModel(model);
  let file = '';
  const cleanup: (() => Promise<unknown>)[] = [];
  beforeAll(async () => {
    file = await ensureModel(model);
  });
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step().catch(() => undefined);
  });
  return {
    inputShapes,
    get file(): string {
      return file;
    },
    defer(step: () => Promise<unknown>): void {
      cleanup.push(step);
    },
    async serve(options: Partial<ServerOptions> = {}): Promise<CarboncpServer> {
      const server = await startServer({ models: [file], inputShapes: { [modelNameOf(file)]: inputShapes }, host: '127.0.0.1', port: 0, executionProviders: ['cpu'], log: () => {}, ...options });
      cleanup.push(() => server.close({ drainMs: 0 }));
      return server;
    },
    /** `options`: more client options (a `ca`, a token). */
    async connect(url: string, options: Partial<CreateClientOptions> = {}): Promise<CarboncpClient> {
      const client = await createClient({ model: file, server: url, inputShapes, reconnect: { initialMs: 20, maxMs: 200, seed }, ...options });
      cleanup.push(() => client.close());
      return client;
    },
  };
}

/**
 * A device for which offloading can pay: a power-hungry CPU (30 W) and a radio far cheaper per
 * byte than the Wi-Fi of the shipped profiles (whose 2001-era 1.9 uJ/B makes sending a 110 kB
 * input cost more than computing on it). Test numbers, labelled as such.
 */
export async function offloadingDevice(usedBy: string): Promise<DeviceProfile> {
  const base = JSON.parse(JSON.stringify(await loadDeviceProfile('raspberry-pi-4'))) as Record<string, any>;
  const testValue = (value: number, unit: string) => ({ value, unit, kind: 'estimated', source: `${usedBy}: chosen so that offloading can pay`, how: 'a test fixture, not a device' });
  base.id = 'test-offloading-device';
  base.power.activeW = testValue(30, 'W');
  base.radios.wifi.energyPerByteUpJ = testValue(1e-9, 'J/B');
  base.radios.wifi.energyPerByteDownJ = testValue(1e-9, 'J/B');
  base.radios.wifi.tailEnergyJ = testValue(1e-4, 'J');
  return parseDeviceProfile(base);
}

/** A site's server for the sites suites: every file (each with its input shapes), reporting its grid and 50 W per tail. */
export function serveSite(files: readonly string[], inputShapesOf: (file: string, i: number) => Record<string, number[]>, site: string, gPerKwh: number): Promise<CarboncpServer> {
  return startServer({
    models: [...files],
    inputShapes: Object.fromEntries(files.map((f, i) => [modelNameOf(f), inputShapesOf(f, i)])),
    host: '127.0.0.1',
    port: 0,
    executionProviders: ['cpu'],
    carbonIntensity: { value_g_per_kwh: gPerKwh, source: `test grid of site ${site}` },
    serverPowerW: 50,
    log: () => {},
  });
}

/**
 * The calibrator of the sites suites (split-sites, family-sites), less the device profile and
 * what each chooses among: a device on a dirty grid (900 g/kWh), a fast link, the carbon
 * objective in 'mean' mode without exploration, an SLO nothing misses: so the sites' grids decide.
 */
export const SITES_DECISION = {
  radio: 'wifi',
  deviceIntensity: (): IntensityPoint => ({ time: new Date().toISOString(), gPerKwh: 900, zone: 'test', source: 'test grid', kind: 'estimated' }),
  fallbackIntensityGPerKwh: 300,
  serverPowerW: 50,
  uplinkPriorBps: 1e9,
  rttPriorMs: 1,
  profileRuns: 3,
  decider: { exploration: false },
  defaults: { mode: 'mean', objective: 'carbon', sloMs: 60_000 },
} as const;
