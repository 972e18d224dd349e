import { fileURLToPath } from 'node:url';
import { readFile } from 'node:fs/promises';
import type { CoverageStats } from '@carboncp/calibrator';
import { parseNetworkTrace, type IntensityPoint } from '@carboncp/carbon';
import { loadDeviceProfile, traceProviderFromFile } from '@carboncp/carbon/node';
import type { Plan } from '@carboncp/core';
import { seededInputs } from '@carboncp/core/node';
import { ShapedTransport, createClient, systemClock, type CalibratedPolicy, type CarboncpClient, type Clock } from '@carboncp/device/node';
import { ensureModel, getZooModel } from '@carboncp/models';
import { startServer } from '@carboncp/server';
import type { Io } from '../command.js';
import { chooseCuts } from './demo.js';

/** Shipped slices of ../shared/data (attribution in the files). */
const UPLINK = fileURLToPath(new URL('../../data/mahimahi-tmobile-lte-up.csv', import.meta.url));
const CARBON = fileURLToPath(new URL('../../data/electricitymaps-gb-fr-2022-06-week.csv', import.meta.url));
/** The simulated clock starts here and moves an hour per request: a day of two grids in one demo. */
const START = Date.parse('2022-06-01T00:00:00Z');
const HOUR_MS = 3_600_000;
/** Where in the uplink trace the demo starts (its first 30 s crawl at 3 Mbit/s), and how far each step moves it. */
const TRACE_START_MS = 30_000;
const TRACE_STEP_MS = 5_000;

export interface AutoDemoOptions {
  model: string;
  steps: number;
  /** Requests per candidate before the auto steps, so that bounds are calibrated. */
  warmup: number;
  sloMs: number;
}

export interface AutoStep {
  step: number;
  /** Simulated time (the carbon traces' clock). */
  time: string;
  deviceGPerKwh: number;
  serverGPerKwh: number;
  /** The uplink the decision assumed (the client's estimate), Mbit/s. */
  uplinkMbps: number;
  /** The trace's capacity when the request was sent, Mbit/s. */
  traceMbps: number;
  cut: string;
  latency: { lower: number; upper: number; observed: number };
  carbonG: number;
  bound: string;
  sloUnmet: boolean;
}

export interface AutoDemoReport {
  model: string;
  device: string;
  uplinkTrace: string;
  carbonTrace: string;
  sloMs: number;
  candidates: string[];
  steps: AutoStep[];
  coverage: Record<string, Record<string, CoverageStats>>;
  fellBack: number;
}

/**
 * The demo's `cut: 'auto'` section: the client decides every request with the calibrated
 * carbon-aware policy while a ShapedTransport replays a real cellular uplink on the socket and
 * two real grids' hourly intensity (device in GB, server in FR) advance an hour per request.
 */
export async function runAutoDemo(options: AutoDemoOptions, io: Io): Promise<AutoDemoReport> {
  const file = await ensureModel(options.model);
  const { inputShapes } = getZooModel(options.model);
  const uplink = parseNetworkTrace(await readFile(UPLINK, 'utf8'), { name: 'mahimahi-tmobile-lte-up.csv' });
  const grids = await traceProviderFromFile(CARBON);
  // A laptop on Wi-Fi as the device; the server is this machine, so its watts are this machine's profile's.
  const device = await loadDeviceProfile('framework-13-amd');
  const serverPowerW = (await loadDeviceProfile('dev-machine')).power.activeW.value ?? 0;
  let simTime = START;
  let deviceGrid: IntensityPoint | undefined;
  let serverGrid: IntensityPoint | undefined;
  const served = file.split('/').pop()!.replace(/\.onnx$/i, '');
  const server = await startServer({ models: [file], host: '127.0.0.1', port: 0, inputShapes: { [served]: inputShapes }, log: () => {} });
  let client: CarboncpClient | undefined;
  let shaped: ShapedTransport | undefined;
  // The trace's clock: real time (messages really wait) plus a skew each step moves forward, so a
  // short demo walks through minutes of the trace between requests.
  let skewMs = 0;
  const traceClock: Clock = { ...systemClock, now: () => systemClock.now() + skewMs };
  try {
    io.err(`[demo] auto: ${options.model}: profiling this device and calibrating (${options.warmup} requests per candidate)`);
    client = await createClient({
      model: file,
      server: server.url,
      inputShapes,
      wrapTransport: (ws) => (shaped = new ShapedTransport(ws, { uplink, clock: traceClock, offsetMs: TRACE_START_MS })),
      // A device that decides by bandwidth must keep its estimate fresh while it computes
      // locally (then no request measures the link): a 64 KiB probe before each step.
      networkProbe: { intervalMs: 100, bytes: 65_536, maxBytesPerMinute: 16 << 20 },
      calibrator: {
        deviceProfile: device,
        radio: 'wifi',
        deviceIntensity: () => deviceGrid,
        serverIntensity: () => serverGrid,
        fallbackIntensityGPerKwh: 300,
        serverPowerW,
        profileRuns: 5,
        serverProfile: false,
        planIds: autoPlanIds,
        defaults: { mode: 'robust', objective: 'carbon', sloMs: options.sloMs },
      },
    });
    await client.ready(10_000);
    // A ping gives the network estimate its first RTT (the uplink estimate needs one) and the server's context.
    await client.serverContext();
    const policy = client.cutPolicy as CalibratedPolicy<Plan>;
    const candidates = policy.decider.candidates.map((c) => c.id);
    const feeds = seededInputs(client.partition.model, inputShapes, 7);
    const refresh = async () => {
      deviceGrid = await grids.current({ zone: 'GB', at: simTime });
      serverGrid = await grids.current({ zone: 'FR', at: simTime });
    };
    await refresh();
    for (let i = 0; i < options.warmup; i += 1) {
      for (const id of candidates) await client.infer(feeds, { cut: id.split('/')[0] });
    }
    const steps: AutoStep[] = [];
    let fellBack = 0;
    for (let step = 0; step < options.steps; step += 1) {
      await refresh();
      await client.serverContext();
      await client.probeNetwork();
      const traceMbps = shaped!.capacityNow() / 1e6;
      const { telemetry: t } = await client.infer(feeds, { cut: 'auto' });
      if (t.path === 'local-fallback') fellBack += 1;
      const d = t.decision!;
      const latency = d.intervals.latencyMs!;
      const row: AutoStep = {
        step,
        time: new Date(simTime).toISOString(),
        deviceGPerKwh: d.context.deviceIntensityGPerKwh,
        serverGPerKwh: d.context.serverIntensityGPerKwh,
        uplinkMbps: d.context.uplinkBps / 1e6,
        traceMbps,
        cut: t.planId,
        latency: { lower: latency.lower, upper: latency.upper, observed: t.totalMs },
        carbonG: d.intervals.carbonG!.point,
        bound: d.bound,
        sloUnmet: d.sloUnmet,
      };
      steps.push(row);
      io.err(
        `[demo] auto ${String(step).padStart(2)} ${row.time.slice(5, 16)}  GB ${row.deviceGPerKwh.toFixed(0).padStart(3)} FR ${row.serverGPerKwh.toFixed(0).padStart(3)} g/kWh` +
          `  uplink ${row.uplinkMbps.toFixed(1).padStart(5)} Mbit/s (trace ${traceMbps.toFixed(1).padStart(5)})  -> ${row.cut.padEnd(9)}` +
          `  latency [${fmt(latency.lower)}, ${fmt(latency.upper)}] ms, observed ${t.totalMs.toFixed(1)}`,
      );
      simTime += HOUR_MS;
      skewMs += TRACE_STEP_MS;
    }
    return {
      model: options.model,
      device: device.id,
      uplinkTrace: uplink.source,
      carbonTrace: 'electricitymaps-gb-fr-2022-06-week.csv (GB device, FR server)',
      sloMs: options.sloMs,
      candidates,
      steps,
      coverage: client.coverage() ?? {},
      fellBack,
    };
  } finally {
    await client?.close();
    await server.close({ drainMs: 1_000 });
  }
}

const fmt = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : v > 0 ? 'inf' : '-inf');

export function formatAutoReport(r: AutoDemoReport): string {
  const counts = new Map<string, number>();
  for (const s of r.steps) counts.set(s.cut, (counts.get(s.cut) ?? 0) + 1);
  const lat = r.coverage.robust?.latencyMs;
  return [
    `cut: 'auto' on ${r.model}  (device ${r.device} on a replayed uplink: ${r.uplinkTrace}; grids: ${r.carbonTrace}; SLO ${r.sloMs} ms)`,
    `  candidates: ${r.candidates.join(', ')}`,
    `  chosen: ${[...counts].map(([cut, n]) => `${cut} x${n}`).join(', ')}; SLO unmet by every bound: ${r.steps.filter((s) => s.sloUnmet).length}; fell back: ${r.fellBack}`,
    lat
      ? `  latency interval coverage (robust, 1 - alpha = 0.9): ${(lat.coverage * 100).toFixed(1)}% of ${lat.n}, mean width ${lat.meanWidth === null ? 'none finite' : `${lat.meanWidth.toFixed(1)} ms`}`
      : '  latency interval coverage: no decided request',
  ].join('\n');
}

/** Server, the latest of the demo's split cuts (the smallest crossing), device: the three ways a request can go. */
export function autoPlanIds(plans: readonly Plan[]): string[] {
  const cuts = chooseCuts(plans);
  return cuts.length <= 3 ? cuts : [cuts[0]!, cuts[cuts.length - 2]!, cuts[cuts.length - 1]!];
}
