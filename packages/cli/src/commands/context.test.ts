import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { cpus } from 'node:os';
import { createClient } from '@carboncp/device/node';
import { seededInputs } from '@carboncp/core/node';
import { startServer, type CarboncpServer } from '@carboncp/server';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LAPTOP_DISCHARGING, writeSysfs } from '../../../device/src/node/power/sysfs-fixtures.test-support.js';
import { EXIT } from '../command.js';
import type { ContextReport } from '../context/context-table.js';
import { HELP, main } from '../main.js';
import { CLS, capture } from '../testing/cli-fixtures.js';
import { parseContextArgs } from './context.js';

const CLS_NAME = 'ch_ppocr_mobile_v2.0_cls_infer';
const SHAPE = { x: [1, 3, 48, 192] };
let server: CarboncpServer;
let sysfs: Awaited<ReturnType<typeof writeSysfs>>;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  server = await startServer({
    models: [CLS],
    inputShapes: { [CLS_NAME]: SHAPE },
    host: '127.0.0.1',
    port: 0,
    executionProviders: ['cpu'],
    executor: 'main',
    carbonIntensity: { value_g_per_kwh: 210, source: 'test grid' },
    log: () => {},
  });
  sysfs = await writeSysfs(LAPTOP_DISCHARGING);
}, 60_000);
afterAll(async () => {
  await server?.close({ drainMs: 0 });
  await sysfs?.remove();
});
afterEach(async () => {
  for (const step of cleanups.splice(0).reverse()) await step();
});

async function context(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = capture();
  const code = await main(['context', ...args], io);
  return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n') };
}

describe('carboncp context', () => {
  it('against a real server, a laptop fixture tree and static carbon: one JSON object, every item labelled', async () => {
    // One request first, so the server has a tail time to report.
    const client = await createClient({ model: CLS, server: server.url, inputShapes: SHAPE });
    await client.ready(10_000);
    const split = client.plans.find((plan) => plan.kind === 'split')!;
    expect((await client.infer(seededInputs(client.partition.model, SHAPE, 3), { cut: split.id })).telemetry.path).toBe('split');
    await client.close();

    const { code, out, err } = await context(['--server', server.url, '--sysfs-root', sysfs.root, '--power-sample-ms', '0', '--carbon', 'static:300,zone=DE', '--pings', '3', '--json']);
    expect(code, err).toBe(EXIT.OK);
    const report = JSON.parse(out) as ContextReport;
    expect(Object.keys(report)).toEqual(['time', 'device', 'power', 'carbon', 'server']);
    expect(Date.parse(report.time)).toBeGreaterThan(0);
    expect(report.device.cores).toEqual({ value: cpus().length, kind: 'measured', source: 'os.cpus().length (logical cores)' });

    // LAPTOP_DISCHARGING: power_now 8123456 µW, energy 40.5 of 51.3 Wh, AC offline.
    expect(report.power.watts).toMatchObject({ kind: 'measured', unit: 'W', source: 'power_supply:BAT0 power_now' });
    expect(report.power.watts.value).toBeCloseTo(8.123456, 9);
    expect(report.power.battery.levelPercent.value).toBeCloseTo((100 * 40.5) / 51.3, 9);
    expect(report.power.battery.fullWh).toMatchObject({ kind: 'measured', unit: 'Wh' });
    expect(report.power.battery.fullWh.value).toBeCloseTo(51.3, 9);
    expect(report.power.battery.charging).toMatchObject({ value: false, kind: 'measured' });
    expect(report.power.battery.externalPower).toMatchObject({ value: false, kind: 'measured' });
    expect(report.power.detection).toContain('linux-power-supply: used (power_supply:BAT0 power_now)');

    expect(report.carbon).toMatchObject({ value: 300, unit: 'gCO2eq/kWh', kind: 'estimated', source: 'static', zone: 'DE' });

    const s = report.server!;
    expect(s.url).toBe(server.url);
    expect(s.server).toMatchObject({ executionProvider: 'cpu', limits: { maxPayload: expect.any(Number), maxQueue: expect.any(Number) } });
    expect(s.server.models).toHaveLength(1);
    expect(s.server.models[0]!.name).toBe(CLS_NAME);
    expect(s.server.models[0]!.plans).toBeGreaterThan(2);
    expect(s.ready).toMatchObject({ value: true, kind: 'reported' });
    expect(s.rttMs.kind).toBe('measured');
    expect(s.rttMs.pings.n).toBe(3);
    expect(s.rttMs.value).toBeGreaterThan(0);
    expect(s.rttMs.value).toBe(s.rttMs.pings.medianMs);
    // Three pings and the probe's small ping are rtt samples; the padded ping the one uplink sample.
    expect(s.network.rttMs).toMatchObject({ kind: 'estimated', n: 4 });
    expect(s.network.uplinkBps).toMatchObject({ kind: 'estimated', unit: 'bit/s', n: 1 });
    expect(s.network.uplinkBps.value).toBeGreaterThan(0);
    expect(s.queueDepth).toMatchObject({ value: 0, kind: 'measured' });
    expect(s.inFlight).toMatchObject({ value: 0, kind: 'measured' });
    expect(s.tailMs.kind).toBe('measured');
    expect(s.tailMs.value![`${CLS_NAME}/${split.id}`]).toBeGreaterThan(0);
    expect(s.carbonIntensity).toMatchObject({ value: 210, kind: 'reported', unit: 'gCO2eq/kWh' });
    expect(s.carbonIntensity.source).toMatch(/^the server's pong: test grid/);
  }, 60_000);

  it('prints a table without --json; says so when no carbon is given and no probe is sent', async () => {
    const { code, out, err } = await context(['--server', server.url, '--sysfs-root', sysfs.root, '--power-sample-ms', '0', '--pings', '1', '--probe-bytes', '0']);
    expect(code, err).toBe(EXIT.OK);
    const lines = out.split('\n');
    const row = (name: string) => lines.find((line) => line.startsWith(`  ${name} `)) ?? '';
    expect(row('power')).toMatch(/^ {2}power +8\.123 W +measured +power_supply:BAT0 power_now$/);
    expect(row('battery level')).toMatch(/78\.947 % +measured +power_supply:BAT0 power_now$/);
    expect(row('intensity')).toMatch(/- +unavailable +no --carbon given: no grid intensity at the device$/);
    expect(row('uplink')).toMatch(/- +unavailable +--probe-bytes 0: no probe$/);
    expect(row('carbon intensity')).toMatch(/210 gCO2eq\/kWh +reported +the server's pong: test grid/);
    expect(row('ready')).toMatch(/yes +reported +GET http:\/\/127\.0\.0\.1:\d+\/v2\/health\/ready: HTTP 200$/);
    expect(out).toMatch(new RegExp(`^server ${server.url.replace(/[/.]/g, '\\$&')}: carboncp-server/\\S+, cpu; models: ${CLS_NAME} \\(\\d+ plans\\)$`, 'm'));
    expect(out).toMatch(/^power sources tried:\n {2}jetson-ina3221: not used: CARBONCP_NOT_FOUND/m);
  });

  it('an unreachable server: CARBONCP_CONNECTION_LOST, exit 4', async () => {
    // A port that was free a moment ago: nothing listens there.
    const probe = createTcpServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as { port: number };
    await new Promise((resolve) => probe.close(resolve));
    const { code, err } = await context(['--server', `ws://127.0.0.1:${port}`, '--power-sample-ms', '0', '--timeout-ms', '2000']);
    expect(code).toBe(EXIT.RUNTIME);
    expect(err).toMatch(new RegExp(`^carboncp: CARBONCP_CONNECTION_LOST: context: cannot reach the server at ws://127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`));
  });

  it('a server that accepts and never answers: CARBONCP_TIMEOUT within --timeout-ms, exit 4', async () => {
    const sockets: Socket[] = [];
    const silent: Server = createTcpServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    cleanups.push(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    });
    const { port } = silent.address() as { port: number };
    const started = performance.now();
    const { code, err } = await context(['--server', `ws://127.0.0.1:${port}`, '--power-sample-ms', '0', '--timeout-ms', '300']);
    expect(code).toBe(EXIT.RUNTIME);
    expect(err).toMatch(/^carboncp: CARBONCP_TIMEOUT: context: the connection at ws:\/\/127\.0\.0\.1:\d+ did not finish within --timeout-ms 300$/);
    // The deadline, not the transport's own (1 s later), ended it.
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('bad command lines exit 2; a profile that does not exist exits 3', async () => {
    const cases: Array<[string[], number, RegExp]> = [
      [['extra'], EXIT.USAGE, /unexpected argument 'extra'/],
      [['--server', 'http://127.0.0.1:1'], EXIT.USAGE, /--server must be a ws:\/\/ or wss:\/\/ URL/],
      [['--pings', '2'], EXIT.USAGE, /--pings needs --server/],
      [['--server', 'ws://h:1', '--pings', '0'], EXIT.USAGE, /--pings must be an integer in \[1, 100\]/],
      [['--server', 'ws://h:1', '--probe-bytes', '1000'], EXIT.USAGE, /--probe-bytes must be 0 or more than 1500/],
      [['--power-sample-ms', '0.5'], EXIT.USAGE, /--power-sample-ms must be an integer in \[0, 60000\], got '0\.5'/],
      [['--carbon', 'nonsense:1', '--power-sample-ms', '0'], EXIT.USAGE, /CARBONCP_INVALID_ARGUMENT/],
      [['--device', 'no-such-device', '--power-sample-ms', '0'], EXIT.BAD_INPUT, /CARBONCP_NOT_FOUND: no device profile 'no-such-device'/],
      [['--bogus'], EXIT.USAGE, /CARBONCP_USAGE: context: Unknown option '--bogus'/],
    ];
    for (const [args, expected, pattern] of cases) {
      const { code, err } = await context(args);
      expect(code, args.join(' ')).toBe(expected);
      expect(err, args.join(' ')).toMatch(pattern);
    }
    expect(parseContextArgs(['--server', 'ws://h:1'], { CARBONCP_TOKEN: 'secret' })).toMatchObject({ token: 'secret', pings: 5, probeBytes: 32768, timeoutMs: 5000, powerSampleMs: 1000, json: false });
  });

  it('--help lists the options and the exit codes; carboncp --help lists the command', async () => {
    const { code, out } = await context(['--help']);
    expect(code).toBe(EXIT.OK);
    for (const flag of ['--server URL', '--device PROFILE_ID|FILE', '--carbon SPEC', '--power-sample-ms MS', '--sysfs-root DIR', '--pings N', '--probe-bytes N', '--timeout-ms MS', '--json', '--token TOKEN']) {
      expect(out).toContain(flag);
    }
    expect(out).toMatch(/Exit codes: 0 ok, 2 bad command line or spec, 3 bad input/);
    expect(HELP).toMatch(/^ {2}context +print what this device measures/m);
  });
});
