// `carboncp fleet` looking after its parts (the built CLI, HAProxy, ppocr-cls on 127.0.0.1): a
// SIGKILLed server is started again on its ports and HAProxy takes it back; a server stopped
// cleanly (SIGTERM, exit 0) stays down; the fleet itself SIGKILLed leaves nothing running (its
// guard process stops the servers, then HAProxy). Every wait is a bounded poll.
import { getZooModel, ensureModel } from '@carboncp/models';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alive, haproxyServers, pollUntil, skipWithoutHaproxy, startFleet, type RunningFleet } from './fleet-harness.js';

const MODEL = 'ppocr-cls';
const skip = skipWithoutHaproxy('fleet supervision tests');
const { inputShapes } = getZooModel(MODEL);
let fleet: RunningFleet | undefined;
/** Every server pid the fleet has reported, for the last test and the clean-up. */
const pids = new Set<number>();

beforeAll(async () => {
  if (skip) return;
  const file = await ensureModel(MODEL);
  const shapes = Object.entries(inputShapes).flatMap(([name, shape]) => ['--input-shape', `${name}=${shape.join(',')}`]);
  fleet = await startFleet(['--servers', '2', '--port', '0', '--models', file, ...shapes, '--ep', 'cpu', '--drain-ms', '2000']);
  for (const server of fleet.servers) pids.add(server.pid);
}, 300_000);

afterAll(async () => {
  await fleet?.stop();
  for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
}, 120_000);

async function statusOf(f: RunningFleet, name: string): Promise<string | undefined> {
  return (await haproxyServers(f.adminSocket)).get(name)?.status;
}

describe.skipIf(skip)('a fleet looking after its parts', () => {
  it('starts a crashed server again on its ports, and HAProxy takes it back', async () => {
    const f = fleet as RunningFleet;
    const victim = f.servers[1];
    expect(await pollUntil(async () => (await statusOf(f, victim.name)) === 'UP', 30_000)).toBe(true);
    process.kill(victim.pid, 'SIGKILL');
    const restarted = () => f.output.map((line) => new RegExp(`^server ${victim.name} restarted: ws://127\\.0\\.0\\.1:${victim.port} \\(agent-check 127\\.0\\.0\\.1:${victim.agentPort}, pid (\\d+)\\)$`).exec(line)).find((m) => m);
    expect(await pollUntil(() => restarted() !== undefined, 120_000), f.log.slice(-20).join('\n')).toBe(true);
    const pid = Number(restarted()![1]);
    pids.add(pid);
    expect(pid).not.toBe(victim.pid);
    expect(alive(victim.pid)).toBe(false);
    expect(f.log).toContainEqual(expect.stringMatching(new RegExp(`server ${victim.name} exited \\(SIGKILL\\); .*restarting it in 1000 ms on its ports`)));
    expect((await fetch(`${victim.httpUrl}/v2/health/ready`)).status).toBe(200);
    expect(await pollUntil(async () => (await statusOf(f, victim.name)) === 'UP', 30_000)).toBe(true);
  });

  it('leaves a server that exits cleanly down', async () => {
    const f = fleet as RunningFleet;
    const stopped = f.servers[0];
    process.kill(stopped.pid, 'SIGTERM');
    const told = () => f.log.find((line) => line.includes(`carboncp fleet: server ${stopped.name} exited (0)`));
    expect(await pollUntil(() => told() !== undefined, 30_000)).toBe(true);
    expect(told()).not.toMatch(/restarting/);
    expect(await pollUntil(async () => (await statusOf(f, stopped.name))?.startsWith('DOWN') === true, 30_000)).toBe(true);
    expect(f.output.some((line) => line.startsWith(`server ${stopped.name} restarted`))).toBe(false);
  });

  it('stops every part when the fleet itself is SIGKILLed (its guard does)', async () => {
    const f = fleet as RunningFleet;
    const parts = [...pids, f.haproxyPid].filter(alive);
    // The restarted server and HAProxy.
    expect(parts).toHaveLength(2);
    f.process.kill('SIGKILL');
    expect(await pollUntil(() => parts.every((pid) => !alive(pid)), 30_000), f.log.slice(-20).join('\n')).toBe(true);
    expect(f.log).toContainEqual(expect.stringMatching(/^carboncp fleet guard: the fleet is gone; stopping its 1 server\(s\), then HAProxy$/));
  });

  it('stopped cleanly (SIGTERM), the fleet stops its parts itself and its guard does nothing', async () => {
    const file = await ensureModel(MODEL);
    const shapes = Object.entries(inputShapes).flatMap(([name, shape]) => ['--input-shape', `${name}=${shape.join(',')}`]);
    const clean = await startFleet(['--servers', '1', '--port', '0', '--models', file, ...shapes, '--ep', 'cpu', '--drain-ms', '1000']);
    const parts = [clean.servers[0]!.pid, clean.haproxyPid];
    clean.process.kill('SIGTERM');
    expect(await pollUntil(() => clean.process.exitCode !== null, 30_000)).toBe(true);
    expect(clean.process.exitCode).toBe(0);
    expect(parts.filter(alive)).toEqual([]);
    expect(clean.log.some((line) => line.includes('guard'))).toBe(false);
    await clean.stop();
  });
});
