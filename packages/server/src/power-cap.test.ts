import { spawnSync } from 'node:child_process';
import { ErrorCode, MessageType, isCarboncpError } from '@carboncp/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { startServer } from './index.js';
import { NVIDIA_SMI_LIMITS_ARGS, nvidiaSmiRunner, parseNvidiaSmiPowerLimits } from './nvidia-smi.js';
import { DEFAULT_POWER_CAP_POLICY, ServerPowerCap, choosePowerCap, resolvePowerCap, type PowerCapMode } from './power-cap.js';
import { FakeNvidiaSmi, type FakeGpu } from './testing/fake-nvidia-smi.js';
import { CLS_INPUT_SHAPES, CLS_PATH } from './testing/fixtures.js';
import { TestClient } from './testing/ws-test-client.js';

// A V100-like board whose limit was 280 W before the server started (not its 250 W default), so
// a restore to the default and a restore to the original can be told apart.
const GPU0: FakeGpu = { index: 0, limitW: 280, defaultW: 250, minW: 100, maxW: 300 };
const GPU1: FakeGpu = { index: 1, limitW: 250, defaultW: 250, minW: 100, maxW: 300 };
const limits = { index: 0, limitW: 250, defaultW: 250, minW: 100, maxW: 300 };
const policy = DEFAULT_POWER_CAP_POLICY;

describe('choosePowerCap (the policy, by hand)', () => {
  it('lowers the cap with carbon from the default to 0.6 x default, and lifts it for a queue', () => {
    const at = (intensityGPerKwh: number | undefined, queueDepth = 0) => choosePowerCap(limits, { intensityGPerKwh, queueDepth }, policy);
    expect(at(100)).toEqual({ watts: 250, reason: 'carbon 100 g/kWh <= 200: default limit' });
    expect(at(200).watts).toBe(250);
    // Halfway between 200 and 400: 250 - (250 - 150) x 0.5 = 200.
    expect(at(300)).toEqual({ watts: 200, reason: 'carbon 300 g/kWh between 200 and 400: interpolated' });
    expect(at(250).watts).toBe(225);
    expect(at(400)).toEqual({ watts: 150, reason: 'carbon 400 g/kWh >= 400: 0.6 x default' });
    expect(at(900).watts).toBe(150);
    expect(at(900, 3).watts).toBe(150);
    expect(at(900, 4)).toEqual({ watts: 250, reason: 'queue 4 >= 4: default limit' });
    expect(at(undefined)).toEqual({ watts: 250, reason: 'no carbon intensity known: default limit' });
  });

  it('stays within the board range', () => {
    // 0.3 x 250 = 75 W, under the board's 100 W minimum.
    expect(choosePowerCap(limits, { intensityGPerKwh: 500, queueDepth: 0 }, { ...policy, lowCapFraction: 0.3 }).watts).toBe(100);
    // A default above the maximum (a board that reports it so) is clamped down.
    expect(choosePowerCap({ ...limits, defaultW: 350 }, { intensityGPerKwh: 0, queueDepth: 0 }, policy).watts).toBe(300);
  });
});

describe('resolvePowerCap', () => {
  it('fills the defaults and refuses bad values naming the field', () => {
    expect(resolvePowerCap(undefined)).toBeUndefined();
    expect(resolvePowerCap({ mode: 'off' })).toBeUndefined();
    expect(resolvePowerCap({ mode: 'auto' })).toEqual({ mode: 'auto', policy: { ...DEFAULT_POWER_CAP_POLICY }, gpus: undefined, intervalMs: 1000, command: 'nvidia-smi' });
    expect(resolvePowerCap({ mode: 180, gpus: [1], highCarbonGPerKwh: 500 })).toMatchObject({ mode: 180, gpus: [1], policy: { highCarbonGPerKwh: 500, lowCarbonGPerKwh: 200 } });
    const refuses = (options: Parameters<typeof resolvePowerCap>[0], message: RegExp) => {
      let caught: unknown;
      try {
        resolvePowerCap(options);
      } catch (error) {
        caught = error;
      }
      expect(isCarboncpError(caught, ErrorCode.INVALID_ARGUMENT), String(caught)).toBe(true);
      expect((caught as Error).message).toMatch(message);
    };
    refuses({ mode: 'max' as PowerCapMode }, /powerCap\.mode must be 'auto', 'off' or a number of watts > 0, got "max"/);
    refuses({ mode: 0 }, /powerCap\.mode/);
    refuses({ mode: 'auto', lowCarbonGPerKwh: 300, highCarbonGPerKwh: 300 }, /highCarbonGPerKwh \(300\) must be above powerCap\.lowCarbonGPerKwh \(300\)/);
    refuses({ mode: 'auto', lowCapFraction: 1.5 }, /lowCapFraction must be in \(0, 1\]/);
    refuses({ mode: 'auto', liftQueueDepth: 0 }, /liftQueueDepth must be an integer >= 1/);
    refuses({ mode: 'auto', lowCarbonGPerKwh: -1 }, /lowCarbonGPerKwh must be a finite number >= 0/);
    refuses({ mode: 'auto', gpus: [] }, /powerCap\.gpus must be a non-empty list/);
  });
});

describe('parseNvidiaSmiPowerLimits', () => {
  it('reads each GPU and leaves out one without a settable limit', () => {
    expect(parseNvidiaSmiPowerLimits('0, 250.00, 250.00, 100.00, 250.00\n1, [N/A], [N/A], [N/A], [N/A]\r\n2, 300.00, 300.00, 150.00, 300.00\n')).toEqual([
      { index: 0, limitW: 250, defaultW: 250, minW: 100, maxW: 250 },
      { index: 2, limitW: 300, defaultW: 300, minW: 150, maxW: 300 },
    ]);
    expect(() => parseNvidiaSmiPowerLimits('0, [Not Supported], [Not Supported], [Not Supported], [Not Supported]\n')).toThrow(/no settable power limit/);
  });
});

describe.skipIf(process.platform === 'win32')('ServerPowerCap against a fake nvidia-smi on PATH', () => {
  let fake: FakeNvidiaSmi | undefined;
  afterEach(() => {
    fake?.cleanup();
    fake = undefined;
  });

  function controller(mode: Exclude<PowerCapMode, 'off'>, inputs: { intensityGPerKwh: number | undefined; queueDepth: number }, logs: string[], gpus?: number[]) {
    return new ServerPowerCap({ mode, policy: { ...policy }, gpus, intervalMs: 60_000, nvidiaSmi: nvidiaSmiRunner(), inputs: () => inputs, log: (line) => logs.push(line) });
  }

  it('auto: caps for high carbon, lifts for a queue, and restores the original limit on close', async () => {
    fake = new FakeNvidiaSmi([GPU0, GPU1]);
    fake.onPath();
    const inputs = { intensityGPerKwh: 450 as number | undefined, queueDepth: 0 };
    const logs: string[] = [];
    const cap = controller('auto', inputs, logs);
    const exitListeners = process.listenerCount('exit');
    await cap.start();
    expect(fake.calls()[0]).toBe(NVIDIA_SMI_LIMITS_ARGS.join(' '));
    expect(fake.sets()).toEqual([[0, 150], [1, 150]]);
    expect(cap.state()).toEqual({ mode: 'auto', gpus: [{ index: 0, watts: 150, defaultW: 250 }, { index: 1, watts: 150, defaultW: 250 }], reason: 'carbon 450 g/kWh >= 400: 0.6 x default' });
    expect(process.listenerCount('exit')).toBe(exitListeners + 1);

    // Nothing changed: no call. A queue: both lifted to the default. Carbon halfway: interpolated.
    await cap.tick();
    expect(fake.sets()).toHaveLength(2);
    inputs.queueDepth = 6;
    await cap.tick();
    expect(fake.sets().slice(2)).toEqual([[0, 250], [1, 250]]);
    inputs.queueDepth = 0;
    inputs.intensityGPerKwh = 300;
    await cap.tick();
    expect(fake.sets().slice(4)).toEqual([[0, 200], [1, 200]]);
    expect(fake.limit(0)).toBe(200);

    await cap.close();
    // GPU 0 goes back to the 280 W it had, not to its default; GPU 1 to its 250 W.
    expect(fake.sets().slice(6)).toEqual([[0, 280], [1, 250]]);
    expect([fake.limit(0), fake.limit(1)]).toEqual([280, 250]);
    expect(cap.state()).toBeUndefined();
    expect(process.listenerCount('exit')).toBe(exitListeners);
    expect(logs).toContain('power cap: GPU 0 restored to 280 W');
  });

  it('fixed watts on the GPUs asked for, clamped to the board range; the exit hook restores synchronously', async () => {
    fake = new FakeNvidiaSmi([GPU0, GPU1]);
    fake.onPath();
    const logs: string[] = [];
    const cap = controller(400, { intensityGPerKwh: undefined, queueDepth: 0 }, logs, [1]);
    await cap.start();
    expect(fake.sets()).toEqual([[1, 300]]);
    expect(cap.state()?.reason).toBe("fixed 400 W clamped to the board's 100-300 W");
    expect(logs.join('\n')).toMatch(/power cap: fixed 400 W on GPU 1 \(100-300 W, default 250 W, was 250 W\)/);
    // What process.on('exit') runs when an error stops the process: no promise can settle there.
    cap.restoreSync();
    expect(fake.sets()).toEqual([[1, 300], [1, 250]]);
    expect(fake.limit(1)).toBe(250);
    expect(logs).toContain('power cap: GPU 1 restored to 250 W (process exit)');
    // Already restored: close sets nothing more.
    await cap.close();
    expect(fake.sets()).toHaveLength(2);
  });

  it('without permission (not root): one clear log line, no cap, no throw, nothing to restore', async () => {
    fake = new FakeNvidiaSmi([GPU0]);
    fake.deny();
    fake.onPath();
    const logs: string[] = [];
    const cap = controller('auto', { intensityGPerKwh: 500, queueDepth: 0 }, logs);
    await cap.start();
    expect(cap.state()).toBeUndefined();
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(
      /^power cap: off \(nvidia-smi could not set GPU 0's power limit: insufficient permissions; setting a power limit needs root \(or an administrator\): nvidia-smi -i 0 -pl 150 failed \(exit 4\): Insufficient Permissions/,
    );
    await cap.close();
    expect(fake.calls()).toEqual([NVIDIA_SMI_LIMITS_ARGS.join(' '), '-i 0 -pl 150']);
  });

  it('without nvidia-smi, or with a GPU it does not list: a log line and no cap', async () => {
    const logs: string[] = [];
    const absent = new ServerPowerCap({
      mode: 'auto', policy: { ...policy }, intervalMs: 1000, nvidiaSmi: nvidiaSmiRunner({ command: '/nonexistent/nvidia-smi' }),
      inputs: () => ({ intensityGPerKwh: 500, queueDepth: 0 }), log: (line) => logs.push(line),
    });
    await absent.start();
    expect(absent.state()).toBeUndefined();
    expect(logs[0]).toMatch(/^power cap: off \(could not read the GPU power limits: \/nonexistent\/nvidia-smi --query-gpu=.* failed/);

    fake = new FakeNvidiaSmi([GPU0]);
    fake.onPath();
    const cap = controller('auto', { intensityGPerKwh: 500, queueDepth: 0 }, logs, [3]);
    await cap.start();
    expect(cap.state()).toBeUndefined();
    expect(logs[1]).toBe('power cap: off (GPU 3 has no settable power limit; nvidia-smi lists 0)');
    expect(fake.sets()).toEqual([]);
  });
});

describe.skipIf(process.platform === 'win32')('a server with --power-cap auto', () => {
  it('reports the cap in pongs and /metrics, and restores the original limit on close', async () => {
    const fake = new FakeNvidiaSmi([GPU0]);
    fake.onPath();
    const logs: string[] = [];
    try {
      const server = await startServer({
        models: [CLS_PATH],
        inputShapes: CLS_INPUT_SHAPES,
        host: '127.0.0.1',
        port: 0,
        executor: 'main',
        carbonIntensity: { value_g_per_kwh: 450, source: 'static' },
        powerCap: { mode: 'auto', intervalMs: 60_000 },
        log: (line) => logs.push(line),
      });
      let closed = false;
      try {
        expect(fake.sets()).toEqual([[0, 150]]);
        const client = await TestClient.connect(server.url);
        await client.hello();
        const pong = await client.ping(1);
        if (pong.type !== MessageType.Pong) throw new Error(`expected a pong, got ${MessageType[pong.type]}`);
        expect(pong.body.power_cap).toEqual({ watts: 150, default_watts: 250, gpus: 1, source: 'nvidia-smi power.limit, auto (carbon 450 g/kWh >= 400: 0.6 x default)' });
        const metrics = await (await fetch(`${server.httpUrl}/metrics`)).text();
        expect(metrics).toMatch(/^carboncp_gpu_power_cap_watts\{gpu="0"\} 150$/m);
        expect(metrics).toMatch(/^carboncp_gpu_power_default_limit_watts\{gpu="0"\} 250$/m);
        client.close();
        await server.close({ drainMs: 1000 });
        closed = true;
        expect(fake.sets()).toEqual([[0, 150], [0, 280]]);
        expect(fake.limit(0)).toBe(280);
      } finally {
        if (!closed) await server.close({ drainMs: 0 });
      }
    } finally {
      fake.cleanup();
    }
    expect(logs.join('\n')).toMatch(/power cap: auto on GPU 0 \(100-300 W, default 250 W, was 280 W\); re-evaluated every 60000 ms/);
  });
});

describe.skipIf(process.platform === 'win32')('a server process stopped by an error', () => {
  it('restores the original limit on its way out (the exit hook)', () => {
    const fake = new FakeNvidiaSmi([GPU0]);
    try {
      // The built server (npm run setup builds it), started in a child whose top level then throws.
      const entry = new URL('../dist/index.js', import.meta.url).href;
      const script = `
        import { startServer } from ${JSON.stringify(entry)};
        await startServer({ models: [${JSON.stringify(CLS_PATH)}], host: '127.0.0.1', port: 0, executor: 'main', executionProviders: ['cpu'],
          carbonIntensity: { value_g_per_kwh: 450, source: 'static' }, powerCap: { mode: 'auto' }, log: (line) => console.error(line) });
        throw new Error('boom after the cap was set');`;
      const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
        env: { ...process.env, PATH: `${fake.dir}${process.platform === 'win32' ? ';' : ':'}${process.env.PATH ?? ''}` },
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(child.status, child.stderr).toBe(1);
      expect(child.stderr).toMatch(/boom after the cap was set/);
      expect(child.stderr).toMatch(/power cap: GPU 0 restored to 280 W \(process exit\)/);
      expect(fake.sets()).toEqual([[0, 150], [0, 280]]);
      expect(fake.limit(0)).toBe(280);
    } finally {
      fake.cleanup();
    }
  });
});
