// Split inference in a real headless chromium: the head runs in the page on onnxruntime-web
// (WebGPU on chromium's software adapter, or WASM), the tensor crosses the browser's WebSocket to
// a real carboncp server on 127.0.0.1, and the result must match onnxruntime-node's whole-model
// output. Fallbacks: no WebGPU adapter -> WASM, no server -> the tail runs in the page.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadDeviceProfile } from '@carboncp/carbon/node';
import { partitionWithProbe, profileModel, readModelFile } from '@carboncp/core/node';
import { getFamily } from '@carboncp/models';
import { startServer, type CarboncpServer } from '@carboncp/server';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunConfig, RunReport } from './app/split-runner.js';
import { buildApp } from './support/build.js';
import { SKIP_BROWSER, launchChromium } from './support/chromium.js';
import { openApp } from './support/page-run.js';
import { serveStatic, type StaticServer } from './support/static-server.mjs';
import { fixtureFiles, maxAbsDiff, maxAbsOf, splitCuts, zooFixture, type ZooFixture } from './support/zoo-fixtures.js';

/**
 * Output error allowed against onnxruntime-node, relative to the largest |output| (absolute below
 * 1): WASM runs the same kernels in float32 (1e-4, as the Node e2e suites); SwiftShader's WebGPU
 * reorders and fuses float32 sums in shaders of its own, so its head differs more.
 */
const TOLERANCE = { wasm: 1e-4, webgpu: 2e-3 } as const;

/** Where the example page's screenshot is left for a person to look at. */
const SCREENSHOTS = fileURLToPath(new URL('../../.tmp/browser/', import.meta.url));

let dir: string;
let server: CarboncpServer;
let site: StaticServer;
let cls: ZooFixture;
let mobilenet: ZooFixture;
/** MobileNetV2 at width 0.35: with mobilenet (width 1.0) the family case's two variants. */
let mobilenet035: ZooFixture;
const browsers: Browser[] = [];

beforeAll(async () => {
  if (SKIP_BROWSER) return;
  dir = await mkdtemp(join(tmpdir(), 'carboncp-browser-'));
  cls = await zooFixture('ppocr-cls', dir, 11);
  mobilenet = await zooFixture('mobilenetv2', dir, 12);
  mobilenet035 = await zooFixture('mobilenetv2-0.35', dir, 12);
  server = await startServer({
    models: [cls.file, mobilenet.file, mobilenet035.file],
    inputShapes: { [cls.modelName]: cls.inputShapes, [mobilenet.modelName]: mobilenet.inputShapes, [mobilenet035.modelName]: mobilenet035.inputShapes },
    host: '127.0.0.1',
    port: 0,
    executionProviders: ['cpu'],
    carbonIntensity: { value_g_per_kwh: 321, source: 'browser-test' },
    log: () => {},
  });
  await buildApp(join(dir, 'app'));
  site = await serveStatic(join(dir, 'app'), fixtureFiles([cls, mobilenet, mobilenet035], dir));
}, 300_000);

afterAll(async () => {
  await Promise.allSettled(browsers.map((b) => b.close()));
  await site?.close();
  await server?.close({ drainMs: 0 });
  if (dir) await rm(dir, { recursive: true, force: true });
});

function config(fixture: ZooFixture, cuts: string[], extra: Partial<RunConfig> = {}): RunConfig {
  return { model: fixture.modelPath, plans: fixture.plansPath, modelName: fixture.modelName, server: server.url, cuts, inputs: fixture.inputs, ...extra };
}

function expectMatches(report: RunReport, fixture: ZooFixture, provider: 'webgpu' | 'wasm', connected = true): void {
  const bound = TOLERANCE[provider] * Math.max(1, maxAbsOf(fixture.expected));
  for (const { cut, outputs, telemetry } of report.results) {
    const kind = fixture.plans.find((p) => p.id === cut)!.kind;
    const path = kind === 'device' ? 'local' : !connected ? 'local-fallback' : kind === 'server' ? 'remote' : 'split';
    expect({ cut, path: telemetry.path }).toEqual({ cut, path });
    expect(maxAbsDiff(outputs, fixture.expected), `${fixture.zooName} ${cut} on ${provider}`).toBeLessThanOrEqual(bound);
    // Every request that ran something on the device says on which provider.
    if (kind !== 'server' || !connected) expect(telemetry.executionProvider, cut).toBe(provider);
    if (kind === 'split' && connected) expect(telemetry.bytesUp).toBeGreaterThan(0);
  }
}

describe.skipIf(SKIP_BROWSER)('split inference in headless chromium', () => {
  let gpuBrowser: Browser;
  beforeAll(async () => {
    gpuBrowser = await launchChromium({ webgpu: true });
    browsers.push(gpuBrowser);
  });

  it('WebGPU (software adapter): ppocr-cls at server, 3 split cuts and device; mobilenetv2 at 2 split cuts', async () => {
    const app = await openApp(gpuBrowser, site.url);
    const clsCuts = ['server', ...splitCuts(cls, 3, 1), 'device'];
    const clsReport = await app.run(config(cls, clsCuts, { providers: ['webgpu'], askContext: true }));
    expect(clsReport.connected).toBe(true);
    expect(clsReport.notes[0]).toMatchObject({ provider: 'webgpu', ok: true });
    expectMatches(clsReport, cls, 'webgpu');
    // Carbon from the server's pong, battery from navigator.getBattery() (chromium has it).
    expect(clsReport.context.carbon).toEqual({ valueGPerKwh: 321, source: 'browser-test' });
    expect(clsReport.context.battery).toMatchObject({ source: 'navigator.getBattery', kind: 'measured' });
    expect(clsReport.context.network?.rttMs.mean).toBeGreaterThan(0);
    const mobileReport = await app.run(config(mobilenet, splitCuts(mobilenet, 2, 2), { providers: ['webgpu'] }));
    expectMatches(mobileReport, mobilenet, 'webgpu');
    expect(app.problems).toEqual([]);
    await app.page.close();
  }, 300_000);

  it("WASM: the same cuts of ppocr-cls and 2 of mobilenetv2; cut 'auto' through the cut policy", async () => {
    const app = await openApp(gpuBrowser, site.url);
    const clsReport = await app.run(config(cls, ['server', ...splitCuts(cls, 3, 1), 'device'], { providers: ['wasm'] }));
    expect(clsReport.crossOriginIsolated).toBe(false); // so one thread: no SharedArrayBuffer here
    expect(clsReport.wasmThreads).toBe(1);
    expectMatches(clsReport, cls, 'wasm');
    const mobileReport = await app.run(config(mobilenet, splitCuts(mobilenet, 2, 2), { providers: ['wasm'] }));
    expectMatches(mobileReport, mobilenet, 'wasm');
    // cut 'auto' goes through the client's cut policy (here the default one: defaultCut).
    const [chosen] = splitCuts(cls, 1, 7);
    const auto = await app.run(config(cls, ['auto'], { providers: ['wasm'], defaultCut: chosen }));
    expect(auto.results[0].telemetry).toMatchObject({ planId: chosen, cutChosenBy: 'policy', path: 'split', executionProvider: 'wasm' });
    expect(maxAbsDiff(auto.results[0].outputs, cls.expected)).toBeLessThanOrEqual(TOLERANCE.wasm * Math.max(1, maxAbsOf(cls.expected)));
    expect(app.problems).toEqual([]);
    await app.page.close();
  });

  it("WASM: cut 'auto' decided by the calibrator in the page (device profile and latency profile given)", async () => {
    // This device's latency profile of the model, measured where onnxruntime-node runs; the page
    // checks it against the model bytes it loaded (same digest) and decides with it.
    const partition = await partitionWithProbe(await readModelFile(cls.file), { inputShapes: cls.inputShapes });
    const profile = await profileModel(partition, { runs: 3, warmup: 1, checkCuts: 0, inputShapes: cls.inputShapes });
    const calibrator = {
      deviceProfile: await loadDeviceProfile('raspberry-pi-4'),
      radio: 'wifi' as const,
      profile: JSON.parse(JSON.stringify(profile)) as unknown,
      serverProfile: false as const,
      fallbackIntensityGPerKwh: 300,
      serverPowerW: 100,
      defaults: { sloMs: 10_000 },
    };
    const app = await openApp(gpuBrowser, site.url);
    const report = await app.run(config(cls, ['auto', 'auto', 'auto'], { providers: ['wasm'], calibrator }));
    expect(report.connected).toBe(true);
    const bound = TOLERANCE.wasm * Math.max(1, maxAbsOf(cls.expected));
    for (const { outputs, telemetry } of report.results) {
      expect(telemetry.cutChosenBy).toBe('policy');
      const decision = telemetry.decision!;
      expect(decision).toMatchObject({ mode: 'robust', objective: 'carbon', sloMs: 10_000 });
      expect(decision.candidateId).toBe(`${telemetry.planId}/${telemetry.compression}`);
      expect(decision.intervals.latencyMs!.observed).toBe(telemetry.totalMs);
      expect(maxAbsDiff(outputs, cls.expected)).toBeLessThanOrEqual(bound);
    }
    expect(app.problems).toEqual([]);
    await app.page.close();
  });

  it("WASM: a model family in the page: fixed { variant, cut }, and cut 'auto' decided over both variants by the calibrator, under a budget and a quality floor", async () => {
    // Each variant's latency profile measured in Node (the page does not profile), as for one model.
    const variants = { '0.35': mobilenet035, '1.0': mobilenet } as const;
    const profiles: Record<string, unknown> = {};
    for (const [name, fixture] of Object.entries(variants)) {
      const partition = await partitionWithProbe(await readModelFile(fixture.file), { inputShapes: fixture.inputShapes });
      profiles[name] = JSON.parse(JSON.stringify(await profileModel(partition, { runs: 2, warmup: 1, checkCuts: 0, inputShapes: fixture.inputShapes })));
    }
    // Seeded alike (same seed, input name and shape): one input for both variants.
    expect(mobilenet035.inputs).toEqual(mobilenet.inputs);
    const [split035] = splitCuts(mobilenet035, 1, 8);
    const app = await openApp(gpuBrowser, site.url);
    const report = await app.runFamily(
      {
        family: JSON.parse(JSON.stringify(getFamily('imagenet-mobilenetv2'))),
        models: Object.fromEntries(Object.entries(variants).map(([name, f]) => [name, { model: f.modelPath, plans: f.plansPath, modelName: f.modelName }])),
        server: server.url,
        executionProviders: ['wasm'],
        calibrator: {
          deviceProfile: await loadDeviceProfile('raspberry-pi-4'),
          radio: 'wifi',
          profiles,
          serverProfiles: false,
          fallbackIntensityGPerKwh: 300,
          serverPowerW: 100,
          defaults: { sloMs: 60_000 },
        },
        budget: { grams: 1000, period: '1h' },
        requests: [{ variant: '0.35', cut: split035 }, { variant: '1.0', cut: 'server' }, { cut: 'auto' }, { cut: 'auto', minQuality: 70 }],
        inputs: mobilenet.inputs,
      },
      300_000,
    );
    expect(report.connected).toBe(true);
    expect(report.variants).toEqual(['0.35', '1.0']);
    const [fixed035, fixed10, auto, floored] = report.results.map((r) => r.telemetry);
    expect(fixed035).toMatchObject({ variant: { name: '0.35', model: mobilenet035.modelName, quality: 60.3 }, planId: split035, path: 'split', cutChosenBy: 'caller', executionProvider: 'wasm' });
    expect(fixed10).toMatchObject({ variant: { name: '1.0', model: mobilenet.modelName, quality: 71.8 }, planId: 'server', path: 'remote', cutChosenBy: 'caller' });
    for (const t of [auto, floored]) {
      expect(t.cutChosenBy).toBe('policy');
      expect(t.decision!.candidateId).toBe(`${t.planId}/${t.compression}/${t.variant!.name}`);
      expect(t.decision!.intervals.latencyMs!.observed).toBe(t.totalMs);
    }
    // 70 % top-1: only width 1.0 (71.8) keeps it.
    expect(floored.variant!.name).toBe('1.0');
    for (const { outputs, telemetry } of report.results) {
      const expected = variants[telemetry.variant!.name as keyof typeof variants].expected;
      expect(maxAbsDiff(outputs, expected), `${telemetry.variant!.name} ${telemetry.planId}`).toBeLessThanOrEqual(TOLERANCE.wasm * Math.max(1, maxAbsOf(expected)));
      // Every request booked against the budget, in order.
      // (the fixed ones at the calibrator's prediction for what ran: there is no decision to read).
      expect(telemetry.budget).toMatchObject({ grams: 1000, periodMs: 3_600_000, bookedFrom: 'prediction' });
    }
    expect(report.results.map((r) => r.telemetry.budget!.requests)).toEqual([1, 2, 3, 4]);
    expect(app.problems).toEqual([]);
    await app.page.close();
  }, 300_000);

  it('a server that is gone: a split cut runs its tail in the page (local-fallback) with the same result', async () => {
    const app = await openApp(gpuBrowser, site.url);
    // WASM: SwiftShader compiles a WebGPU session's shaders slowly, and the fallback is the point here.
    const report = await app.run(config(cls, splitCuts(cls, 1, 3), { providers: ['wasm'], server: `ws://127.0.0.1:${await closedPort()}` }));
    expect(report.connected).toBe(false);
    expectMatches(report, cls, 'wasm', false);
    for (const { telemetry } of report.results) {
      expect(telemetry.error?.code).toMatch(/^CARBONCP_(NOT_READY|CONNECTION_LOST)$/);
      expect(telemetry.tailLocalMs).toBeGreaterThan(0);
      expect(telemetry.bytesUp).toBe(0);
    }
    await app.page.close();
  });
});

describe.skipIf(SKIP_BROWSER)('a cross-origin isolated page (COOP + COEP)', () => {
  it('runs WASM on threads there (one elsewhere), with the same result', async () => {
    const isolated = await serveStatic(join(dir, 'app'), fixtureFiles([cls], dir), { isolated: true });
    try {
      const browser = await launchChromium({ webgpu: false });
      browsers.push(browser);
      const app = await openApp(browser, isolated.url);
      const report = await app.run(config(cls, splitCuts(cls, 1, 6), { providers: ['wasm'] }));
      expect(report.crossOriginIsolated).toBe(true);
      expect(report.wasmThreads).toBeGreaterThan(1);
      expectMatches(report, cls, 'wasm');
      expect(app.problems).toEqual([]);
    } finally {
      await isolated.close();
    }
  });
});

describe.skipIf(SKIP_BROWSER)('the example page', () => {
  it('renders a row per cut with path, provider and timings; its screenshot shows them', async () => {
    const browser = await launchChromium({ webgpu: false });
    browsers.push(browser);
    const cuts = ['server', ...splitCuts(cls, 1, 5), 'device'];
    const query = new URLSearchParams({ model: cls.modelPath, plans: cls.plansPath, name: cls.modelName, server: server.url, cuts: cuts.join(','), shape: cls.inputShapes.x.join(','), providers: 'wasm' });
    const app = await openApp(browser, `${site.url}/?${query}`);
    await app.page.waitForSelector('#status[data-done]', { timeout: 120_000 });
    expect(await app.page.getAttribute('#status', 'data-done'), await app.page.textContent('#status') ?? '').toBe('true');
    expect(await app.page.textContent('#status')).toContain('server connected, server grid 321 g/kWh (browser-test)');
    const rows = await app.page.$$eval('#results tbody tr', (trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => td.textContent ?? '')));
    expect(rows.map((r) => r.slice(0, 3))).toEqual([
      [cuts[0], 'remote', '-'],
      [cuts[1], 'split', 'wasm'],
      [cuts[2], 'local', 'wasm'],
    ]);
    for (const row of rows) expect(Number(row[6])).toBeGreaterThan(0); // total ms
    const png = await app.page.locator('#results').screenshot();
    await mkdir(SCREENSHOTS, { recursive: true });
    await writeFile(join(SCREENSHOTS, 'example-page.png'), await app.page.screenshot({ fullPage: true }));
    // The table's pixels, decoded by the browser: text and borders must be drawn, not a blank box.
    const ink = await app.page.evaluate(async (base64) => {
      const image = new Image();
      image.src = `data:image/png;base64,${base64}`;
      await image.decode();
      const canvas = document.createElement('canvas');
      canvas.width = image.width;
      canvas.height = image.height;
      const context = canvas.getContext('2d')!;
      context.drawImage(image, 0, 0);
      const { data } = context.getImageData(0, 0, image.width, image.height);
      let dark = 0;
      for (let i = 0; i < data.length; i += 4) if (data[i] + data[i + 1] + data[i + 2] < 384) dark++;
      return { width: image.width, height: image.height, darkShare: dark / (data.length / 4) };
    }, png.toString('base64'));
    expect(ink.width).toBeGreaterThan(300);
    expect(ink.height).toBeGreaterThan(60);
    expect(ink.darkShare).toBeGreaterThan(0.02);
    expect(app.problems).toEqual([]);
  });
});

describe.skipIf(SKIP_BROWSER)('chromium without a WebGPU adapter', () => {
  it('falls back to WASM, says why, and still splits over the server', async () => {
    const browser = await launchChromium({ webgpu: false });
    browsers.push(browser);
    const app = await openApp(browser, site.url);
    const report = await app.run(config(cls, splitCuts(cls, 2, 4)));
    expect(report.notes[0]).toMatchObject({ provider: 'webgpu', ok: false });
    expectMatches(report, cls, 'wasm');
    expect(app.problems).toEqual([]);
  });
});

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}
