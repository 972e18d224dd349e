// The device SDK against a server whose tails run elsewhere (`tailBackend`, CLI --tail-backend):
// a second carboncp server stands in for Triton (no Triton runs here). The device sees a plain
// split server; when the backend goes down its requests fail over to the local tail, each once,
// with the backend's failure in the telemetry, and the server's readiness follows the backend.
import { seededInputs } from '@carboncp/core/node';
import { ErrorCode } from '@carboncp/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maxAbsDiffAll, modelNameOf, referenceRunner, useServedModel } from './split-harness.js';

const MODEL = 'ppocr-cls';
const TOL = 1e-4;
const served = useServedModel(MODEL, 9);
let reference: Awaited<ReturnType<typeof referenceRunner>>;

beforeAll(async () => {
  reference = await referenceRunner(served.file);
});
afterAll(async () => {
  await reference?.release();
});

async function requestsCounted(httpUrl: string, model: string, plan: string): Promise<number> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`carboncp_requests_total{model="${model}",plan="${plan}"}`));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

describe('a server forwarding its tails to a KServe v2 backend', () => {
  it('serves devices like a plain server, and its dead backend costs no request', async () => {
    const backend = await served.serve();
    const front = await served.serve({ tailBackend: { url: backend.httpUrl }, tailTimeoutMs: 10_000 });
    const readiness = async () => (await fetch(`${front.httpUrl}/v2/health/ready`)).status;
    expect(await readiness()).toBe(200);
    const client = await served.connect(front.url);
    await client.ready(10_000);
    const splits = client.plans.filter((p) => p.kind === 'split');
    const cut = splits[Math.floor(splits.length / 2)].id;
    const name = modelNameOf(served.file);

    for (const [i, plan] of [cut, 'server'].entries()) {
      const feeds = seededInputs(client.partition.model, served.inputShapes, 80 + i);
      const { outputs, telemetry } = await client.infer(feeds, { cut: plan });
      expect(telemetry.path).toBe(plan === 'server' ? 'remote' : 'split');
      expect(telemetry.error).toBeUndefined();
      expect(maxAbsDiffAll(outputs, await reference.run(feeds))).toBeLessThanOrEqual(TOL);
      expect(await requestsCounted(backend.httpUrl, name, plan)).toBe(1);
      expect(await requestsCounted(front.httpUrl, name, plan)).toBe(1);
    }

    await backend.close({ drainMs: 0 });
    const feeds = seededInputs(client.partition.model, served.inputShapes, 90);
    const { outputs, telemetry } = await client.infer(feeds, { cut });
    expect(telemetry.path).toBe('local-fallback');
    expect(telemetry.error?.code).toBe(ErrorCode.INTERNAL);
    expect(telemetry.error?.message).toContain(backend.httpUrl);
    expect(maxAbsDiffAll(outputs, await reference.run(feeds))).toBeLessThanOrEqual(TOL);
    expect(client.stats()).toMatchObject({ requests: 3, split: 1, remote: 1, localFallback: 1 });
    // The call that found nobody there took the front out of a load balancer's rotation at once.
    expect(await readiness()).toBe(503);
  });

  it('is not ready while its backend is unreachable from the start', async () => {
    const backend = await served.serve();
    const { httpUrl } = backend;
    await backend.close({ drainMs: 0 });
    const front = await served.serve({ tailBackend: { url: httpUrl, checkIntervalMs: 60_000 } });
    const ready = await fetch(`${front.httpUrl}/v2/health/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ ready: false });
  });
});
