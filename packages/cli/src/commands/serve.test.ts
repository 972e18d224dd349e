import { maxAbsDiffOfOutputs, seededInputs } from '@carboncp/core/node';
import { ensureModel, getZooModel } from '@carboncp/models';
import { createClient } from '@carboncp/device/node';
import { describe, expect, it, vi } from 'vitest';
import { main } from '../main.js';
import { CLS, capture } from '../testing/cli-fixtures.js';
import { parseServeArgs, stopServing } from './serve.js';

/** The first line matching `pattern`, once the server has written it (vi.waitFor, no sleep). */
async function waitForLine(lines: string[], pattern: RegExp, timeoutMs = 60_000): Promise<RegExpMatchArray> {
  return vi.waitFor(
    () => {
      for (const line of lines) {
        const match = line.match(pattern);
        if (match) return match;
      }
      throw new Error(`no line matching ${pattern} in:\n${lines.join('\n')}`);
    },
    { timeout: timeoutMs, interval: 20 },
  );
}

describe('carboncp serve', () => {
  it('starts in-process, logs the execution provider, answers HTTP, and stops cleanly', async () => {
    const io = capture();
    const done = main(['serve', '--models', CLS, '--input-shape', 'x=1,3,48,192', '--port', '0', '--ep', 'cuda,cpu', '--batch-max', '4'], io);
    const [, url] = await waitForLine(io.stderr, /listening on ws:\/\/\S+ \(HTTP on (http:\/\/[^)\s]+)\)/);
    // No CUDA provider library ships here, so the fallback to CPU must be the one logged.
    expect(io.stderr.join('\n')).toMatch(/execution provider: cpu \(cuda was requested, but onnxruntime-node has no CUDA provider library/);
    const ready = await fetch(`${url}/v2/health/ready`);
    expect(ready.status).toBe(200);
    const meta = (await (await fetch(`${url}/v2/models/ch_ppocr_mobile_v2.0_cls_infer`)).json()) as { plans: unknown[] };
    expect(meta.plans.length).toBeGreaterThan(2);
    stopServing();
    expect(await done).toBe(0);
    expect(io.stderr.join('\n')).toMatch(/carboncp server stopped/);
    await expect(fetch(`${url}/v2/health/live`)).rejects.toThrow();
  });

  it('starts without --input-shape for a model with symbolic image dims; the plan metadata then has unknown cut sizes', async () => {
    const io = capture();
    const done = main(['serve', '--models', CLS, '--port', '0', '--ep', 'cpu'], io);
    const [, url] = await waitForLine(io.stderr, /listening on ws:\/\/\S+ \(HTTP on (http:\/\/[^)\s]+)\)/);
    expect(io.stderr.join('\n')).toMatch(/model ch_ppocr_mobile_v2\.0_cls_infer: cut sizes are unknown until input shapes are given \(x \[p2o\.DynamicDimension\.0, 3, /);
    type Crossing = { shape: unknown; bytes_per_sample: unknown };
    const meta = (await (await fetch(`${url}/v2/models/ch_ppocr_mobile_v2.0_cls_infer`)).json()) as { plans: { id: string; crossing: Crossing[] }[] };
    const split = meta.plans.find((p) => p.id === 'split-1')!;
    expect(split.crossing[0]).toMatchObject({ shape: null, bytes_per_sample: null });
    stopServing();
    expect(await done).toBe(0);
  });

  it('--carbon static: fills pongs from the provider; --server-power-w and --pue put energy and carbon in responses and /metrics', async () => {
    const io = capture();
    const done = main(
      ['serve', '--models', CLS, '--input-shape', 'x=1,3,48,192', '--host', '127.0.0.1', '--port', '0', '--ep', 'cpu', '--executor', 'main',
        '--carbon', 'static:300,zone=TEST', '--server-power-w', '100', '--pue', '1.2'],
      io,
    );
    const [, wsUrl, url] = await waitForLine(io.stderr, /listening on (ws:\/\/\S+) \(HTTP on (http:\/\/[^)\s]+)\)/);
    const client = await createClient({ model: CLS, server: wsUrl, inputShapes: { x: [1, 3, 48, 192] } });
    try {
      await client.ready(10_000);
      const context = await vi.waitFor(async () => {
        const c = await client.serverContext();
        if (!c.carbonIntensity) throw new Error('no carbon intensity yet');
        return c;
      });
      expect(context.carbonIntensity).toEqual({ valueGPerKwh: 300, source: 'static TEST' });
      const feeds = seededInputs(client.partition.model, { x: [1, 3, 48, 192] }, 7);
      const split = client.plans.find((plan) => plan.kind === 'split')!;
      const { telemetry } = await client.infer(feeds, { cut: split.id });
      expect(telemetry.path).toBe('split');
      // The response's energy and carbon reach the device's telemetry, and /metrics sums the same.
      const energy = telemetry.serverEnergy!;
      expect(energy.kind).toBe('estimated');
      expect(energy.source).toBe('serverPowerW 100 W x tail time x PUE 1.2');
      expect(energy.carbonG).toBeCloseTo((energy.energyJ / 3.6e6) * 300, 15);
      expect(energy.intensity).toEqual({ valueGPerKwh: 300, source: 'static TEST' });
      const metrics = await (await fetch(`${url}/metrics`)).text();
      const value = (name: string) => Number(new RegExp(`^${name}\\{side="server"\\} (\\S+)$`, 'm').exec(metrics)?.[1]);
      const joules = value('carboncp_energy_joules_total');
      expect(joules).toBeGreaterThan(0);
      expect(joules).toBeCloseTo(energy.energyJ, 12);
      // g = J / 3.6e6 x 300.
      expect(value('carboncp_carbon_grams_total')).toBeCloseTo((joules / 3.6e6) * 300, 12);
    } finally {
      await client.close();
      stopServing();
    }
    expect(await done).toBe(0);
  });

  it('--family serves every variant; two of them answer over a real socket as the whole model does locally', async () => {
    const io = capture();
    const done = main(['serve', '--family', 'imagenet-mobilenetv2', '--host', '127.0.0.1', '--port', '0', '--ep', 'cpu', '--executor', 'main'], io);
    const [, wsUrl, url] = await waitForLine(io.stderr, /listening on (ws:\/\/\S+) \(HTTP on (http:\/\/[^)\s]+)\)/, 120_000);
    expect(io.stderr.join('\n')).toMatch(/family imagenet-mobilenetv2: serving mobilenetv2-0\.35\.v1, mobilenetv2-0\.5\.v1, mobilenetv2-0\.75\.v1, mobilenetv2\.v1/);
    try {
      for (const variant of ['mobilenetv2-0.35', 'mobilenetv2-0.5']) {
        const meta = await fetch(`${url}/v2/models/${variant}.v1`);
        expect(meta.status, variant).toBe(200);
        const { inputShapes } = getZooModel(variant);
        const client = await createClient({ model: await ensureModel(variant), server: wsUrl, inputShapes });
        try {
          await client.ready(10_000);
          const feeds = seededInputs(client.partition.model, inputShapes, 11);
          const splits = client.plans.filter((plan) => plan.kind === 'split');
          const cut = splits[Math.floor(splits.length / 2)];
          const remote = await client.infer(feeds, { cut: cut.id });
          expect(remote.telemetry.path, variant).toBe('split');
          const local = await client.infer(feeds, { cut: 'device' });
          expect(local.telemetry.path).toBe('local');
          expect(maxAbsDiffOfOutputs(remote.outputs, local.outputs), variant).toBeLessThanOrEqual(1e-4);
          expect(remote.outputs.logits.dims).toEqual([1, 1000]);
        } finally {
          await client.close();
        }
      }
    } finally {
      stopServing();
    }
    expect(await done).toBe(0);
  });

  it('parses --tail-backend and its token, and refuses a bad URL or a token without a backend', () => {
    const parsed = parseServeArgs(['--models', 'm.onnx', '--tail-backend', 'http://triton:8000/', '--tail-backend-token', 't'], {});
    expect(parsed.options.tailBackend).toEqual({ url: 'http://triton:8000/', token: 't' });
    expect(parseServeArgs(['--models', 'm.onnx', '--tail-backend', 'http://b:1'], { CARBONCP_TAIL_BACKEND_TOKEN: 'e' }).options.tailBackend).toEqual({ url: 'http://b:1', token: 'e' });
    expect(() => parseServeArgs(['--models', 'm.onnx', '--tail-backend', 'ftp://b'], {})).toThrow(/--tail-backend must be an http\(s\) base URL/);
    expect(() => parseServeArgs(['--models', 'm.onnx', '--tail-backend-token', 't'], {})).toThrow(/--tail-backend-token needs --tail-backend/);
    expect(parseServeArgs(['--models', 'm.onnx', '--tail-backend', 'http://b:1', '--tail-backend-check-ms', '250'], {}).options.tailBackend).toEqual({ url: 'http://b:1', checkIntervalMs: 250 });
    expect(() => parseServeArgs(['--models', 'm.onnx', '--tail-backend-check-ms', '250'], {})).toThrow(/--tail-backend-check-ms needs --tail-backend/);
    expect(() => parseServeArgs(['--models', 'm.onnx', '--tail-backend', 'http://b:1', '--tail-backend-check-ms', '0'], {})).toThrow(/--tail-backend-check-ms/);
  });

  it('refuses --carbon with --carbon-intensity, --pue without --server-power-w, a PUE under 1, and a bad spec', async () => {
    expect(() => parseServeArgs(['--models', 'm.onnx', '--carbon', 'static:1', '--carbon-intensity', '2'], {})).toThrow(/exclude each other/);
    expect(() => parseServeArgs(['--models', 'm.onnx', '--pue', '1.2'], {})).toThrow(/--pue needs --server-power-w or --server-power/);
    expect(() => parseServeArgs(['--models', 'm.onnx', '--server-power', 'rapl'], {})).toThrow(/--server-power takes nvidia-smi/);
    expect(typeof parseServeArgs(['--models', 'm.onnx', '--server-power', 'nvidia-smi', '--pue', '1.3'], {}).options.serverPowerSource?.read).toBe('function');
    expect(() => parseServeArgs(['--models', 'm.onnx', '--server-power-w', '10', '--pue', '0.8'], {})).toThrow(/--pue must be/);
    expect(() => parseServeArgs(['--models', 'm.onnx', '--carbon-refresh-ms', '10'], {})).toThrow(/needs --carbon/);
    const parsed = parseServeArgs(['--models', 'm.onnx', '--carbon', 'static:1', '--carbon-refresh-ms', '60000', '--server-power-w', '250', '--pue', '1.1'], {});
    expect(parsed.carbonSpec).toBe('static:1');
    expect(parsed.options).toMatchObject({ carbonRefreshMs: 60000, serverPowerW: 250, pue: 1.1 });
    const io = capture();
    expect(await main(['serve', '--models', CLS, '--port', '0', '--carbon', 'nonsense:1'], io)).toBe(2);
    expect(io.stderr.join('\n')).toMatch(/CARBONCP_INVALID_ARGUMENT/);
  });

  it('exits 2 on a bad command line and 3 on a missing model', async () => {
    const io = capture();
    expect(await main(['serve'], io)).toBe(2);
    expect(io.stderr.join('\n')).toMatch(/no models/);
    expect(await main(['serve', '--models', CLS, '--port', 'abc'], io)).toBe(2);
    expect(io.stderr.join('\n')).toMatch(/--port must be an integer/);
    expect(await main(['serve', '--models', '/nonexistent/model.onnx', '--port', '0'], io)).toBe(3);
    expect(io.stderr.join('\n')).toMatch(/CARBONCP_NOT_FOUND: model path not found: \/nonexistent\/model.onnx/);
  });

  it('--help lists the per-connection queue share, the idle policy, the per-address cap and the tail bound', async () => {
    const io = capture();
    expect(await main(['serve', '--help'], io)).toBe(0);
    const help = io.stdout.join('\n');
    expect(help).toMatch(/--max-queue-per-connection N\s+one connection's requests queued or running/);
    expect(help).toMatch(/--idle-timeout-ms MS\s+close a connection that sends no infer request/);
    expect(help).toMatch(/--max-connections-per-address N/);
    expect(help).toMatch(/--tail-timeout-ms MS\s+longest one tail run may take/);
    expect(help).toMatch(/--open-metrics\s+with a token, leave \/metrics open/);
  });

  it('parses every option', () => {
    const { options, drainMs } = parseServeArgs(
      [
        '--models', 'a.onnx', 'dir', '--host', '0.0.0.0', '--port', '9000', '--token', 't', '--ep', 'cpu',
        '--max-payload', '1000', '--max-queue', '8', '--max-queue-per-connection', '3', '--max-connections', '32', '--max-buffered-bytes', '4096', '--batch-max', '16', '--batch-window-ms', '1.5', '--cache-mb', '64',
        '--input-shape', 'x=1,3,48,192', '--input-shape', 'det:x=1,3,640,640', '--carbon-intensity', '420', '--carbon-source', 'grid',
        '--drain-ms', '500', '--executor', 'worker', '--workers', '2', '--max-connections-per-address', '4', '--idle-timeout-ms', '0',
        '--tail-timeout-ms', '5000', '--open-metrics', 'b.onnx',
      ],
      {},
    );
    expect(options).toEqual({
      models: ['a.onnx', 'dir', 'b.onnx'],
      inputShapes: { '*': { x: [1, 3, 48, 192] }, det: { x: [1, 3, 640, 640] } },
      host: '0.0.0.0',
      port: 9000,
      token: 't',
      executionProviders: ['cpu'],
      maxPayload: 1000,
      maxQueue: 8,
      maxQueuePerConnection: 3,
      maxConnections: 32,
      maxBufferedBytes: 4096,
      maxConnectionsPerAddress: 4,
      idleTimeoutMs: 0,
      tailTimeoutMs: 5000,
      openMetrics: true,
      batching: { maxBatch: 16, windowMs: 1.5 },
      executor: 'worker',
      workers: 2,
      sessionCacheBytes: 64 * 1024 * 1024,
      carbonIntensity: { value_g_per_kwh: 420, source: 'grid' },
    });
    expect(drainMs).toBe(500);
    expect(parseServeArgs(['--models', 'm.onnx'], { CARBONCP_TOKEN: 'from-env' }).options.token).toBe('from-env');
    expect(() => parseServeArgs(['--models', 'm.onnx', '--ep', 'tpu'], {})).toThrow(/--ep takes/);
    expect(() => parseServeArgs(['--models', 'm.onnx', '--batch-window-ms', '3'], {})).toThrow(/needs --batch-max/);
    expect(() => parseServeArgs(['--models'], {})).toThrow(/at least one/);
    expect(parseServeArgs(['--models', 'm.onnx', '--executor', 'main'], {}).options.executor).toBe('main');
    expect(parseServeArgs(['--models', 'm.onnx', '--profile', 'start', '--profile-runs', '5'], {}).options).toMatchObject({ profile: 'start', profileRuns: 5 });
    expect(parseServeArgs(['--models', 'm.onnx'], {}).options.profile).toBeUndefined();
    expect(() => parseServeArgs(['--models', 'm.onnx', '--profile', 'always'], {})).toThrow(/--profile must be off, lazy or start/);
    expect(() => parseServeArgs(['--models', 'm.onnx', '--profile-runs', '0'], {})).toThrow(/--profile-runs/);
    expect(() => parseServeArgs(['--models', 'm.onnx', '--executor', 'gpu'], {})).toThrow(/--executor must be 'main' or 'worker', got "gpu"/);
    expect(() => parseServeArgs(['--models', 'm.onnx', '--workers', '0'], {})).toThrow(/--workers must be an integer >= 1/);
    expect(() => parseServeArgs(['--models', 'm.onnx', '--max-connections', '0'], {})).toThrow(/--max-connections must be an integer >= 1/);
    expect(() => parseServeArgs(['--models', 'm.onnx', '--max-queue-per-connection', '0'], {})).toThrow(/--max-queue-per-connection must be an integer >= 1/);
    expect(() => parseServeArgs(['--models', 'm.onnx', '--max-queue', '4', '--max-queue-per-connection', '5'], {})).toThrow(
      /--max-queue-per-connection \(5\) must be at most --max-queue \(4\)/,
    );
    expect(() => parseServeArgs(['--models', 'm.onnx', '--max-queue-per-connection', '257'], {})).toThrow(/must be at most --max-queue \(256\)/);
    expect(() => parseServeArgs(['--models', 'm.onnx', '--executor', 'main', '--workers', '2'], {})).toThrow(/--workers \(2\) applies to --executor 'worker' only/);
    // The server's resolver judges the values; the CLI names the flags.
    expect(() => parseServeArgs(['--models', 'm.onnx', '--port', '70000'], {})).toThrow(/--port must be an integer in 0\.\.65535, got 70000/);
    expect(parseServeArgs(['--models', 'm.onnx', '--agent-port', '9001'], {}).options.agentPort).toBe(9001);
    expect(() => parseServeArgs(['--models', 'm.onnx', '--agent-port', '70000'], {})).toThrow(/--agent-port must be an integer in 0\.\.65535, got 70000/);
    expect(() => parseServeArgs(['--models', 'm.onnx', '--port', '9000', '--agent-port', '9000'], {})).toThrow(/--agent-port must differ from --port \(9000\)/);
    expect(() => parseServeArgs(['--models', 'm.onnx', '--max-connections', '4', '--max-connections-per-address', '5'], {})).toThrow(
      /--max-connections-per-address \(5\) must be at most --max-connections \(4\)/,
    );
    expect(() => parseServeArgs(['--models', 'm.onnx', '--tail-timeout-ms', '0'], {})).toThrow(/--tail-timeout-ms must be an integer >= 1/);
    expect(() => parseServeArgs(['--models', 'm.onnx', '--open-metrics'], {})).toThrow(/--open-metrics needs --token/);
    expect(() => parseServeArgs(['--models', 'm.onnx', '--token', ''], {})).toThrow(/--token must be a non-empty string/);
  });

  it('parses --family and the --power-cap flags, refusing what does not fit', () => {
    const family = parseServeArgs(['--family', 'imagenet-resnet', '--family', 'imagenet-mobilenetv2'], {});
    expect(family.families).toEqual(['imagenet-resnet', 'imagenet-mobilenetv2']);
    expect(family.options.models).toEqual([]);
    expect(() => parseServeArgs(['--family', 'imagenet-vit'], {})).toThrow(/--family: unknown model family 'imagenet-vit'; the zoo has: imagenet-mobilenetv2, imagenet-resnet/);
    expect(() => parseServeArgs([], {})).toThrow(/no models: pass --models FILE\|DIR\.\.\. or --family NAME/);

    expect(parseServeArgs(['--models', 'm.onnx'], {}).options.powerCap).toBeUndefined();
    expect(parseServeArgs(['--models', 'm.onnx', '--power-cap', 'off'], {}).options.powerCap).toBeUndefined();
    expect(parseServeArgs(['--models', 'm.onnx', '--power-cap', 'auto'], {}).options.powerCap).toEqual({ mode: 'auto' });
    expect(
      parseServeArgs(['--models', 'm.onnx', '--power-cap', 'auto', '--power-cap-low-carbon', '100', '--power-cap-high-carbon', '300',
        '--power-cap-low-fraction', '0.5', '--power-cap-lift-queue', '8', '--power-cap-gpus', '0,2'], {}).options.powerCap,
    ).toEqual({ mode: 'auto', lowCarbonGPerKwh: 100, highCarbonGPerKwh: 300, lowCapFraction: 0.5, liftQueueDepth: 8, gpus: [0, 2] });
    expect(parseServeArgs(['--models', 'm.onnx', '--power-cap', '180'], {}).options.powerCap).toEqual({ mode: 180 });
    expect(() => parseServeArgs(['--models', 'm.onnx', '--power-cap', 'max'], {})).toThrow(/--power-cap takes auto, off or a number of watts, got 'max'/);
    expect(() => parseServeArgs(['--models', 'm.onnx', '--power-cap-high-carbon', '300'], {})).toThrow(/--power-cap-high-carbon needs --power-cap auto or --power-cap WATTS/);
    expect(() => parseServeArgs(['--models', 'm.onnx', '--power-cap', '180', '--power-cap-low-fraction', '0.5'], {})).toThrow(/--power-cap-low-fraction applies to --power-cap auto only/);
    expect(() => parseServeArgs(['--models', 'm.onnx', '--power-cap', 'auto', '--power-cap-high-carbon', '100'], {})).toThrow(
      /--power-cap-high-carbon \(100\) must be above --power-cap-low-carbon \(200\)/,
    );
    expect(() => parseServeArgs(['--models', 'm.onnx', '--power-cap', 'auto', '--power-cap-low-fraction', '2'], {})).toThrow(/--power-cap-low-fraction must be in \(0, 1\]/);
    expect(() => parseServeArgs(['--models', 'm.onnx', '--power-cap', 'auto', '--power-cap-gpus', 'all'], {})).toThrow(/--power-cap-gpus takes comma-separated GPU indices/);
    expect(() => parseServeArgs(['--models', 'm.onnx', '--power-cap', '0'], {})).toThrow(/--power-cap must be 'auto', 'off' or a number of watts > 0/);
  });
});
