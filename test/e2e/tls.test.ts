// Encryption in transit on a single server: `carboncp serve`'s tls option with a throwaway CA,
// the device client's `ca` over wss:// (answers equal to those over ws://), the HTTPS routes,
// and clients that do not trust the CA refused with CARBONCP_CONNECTION_LOST naming the TLS error.
import { seededInputs } from '@carboncp/core/node';
import { WsTransport, fetchTrusting } from '@carboncp/device/node';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { beforeAll, describe, expect, it } from 'vitest';
// One copy of the throwaway CA, next to the server's TLS tests (selfsigned is a devDependency of both).
import { throwawayCa, type ThrowawayCa } from '../../packages/server/src/testing/throwaway-ca.js';
import { maxAbsDiffAll, useServedModel } from './split-harness.js';

const harness = useServedModel('ppocr-cls', 41);
const TOKEN = 'e2e-tls-token';
let ca: ThrowawayCa;
let other: ThrowawayCa;

beforeAll(async () => {
  [ca, other] = await Promise.all([throwawayCa(), throwawayCa('another CA')]);
});

const tls = () => ({ tls: { cert: ca.server.cert, key: ca.server.key } });

/** The CarboncpError a bare WsTransport connect ends with. */
async function refusal(url: string, trust: { ca?: string }): Promise<CarboncpError> {
  const connecting = new WsTransport({ connectTimeoutMs: 10_000, ...trust }).connect(url, { message: () => undefined, close: () => undefined });
  const error = await connecting.then(
    (connection) => {
      connection.close(1000, 'unexpected');
      throw new Error(`connected to ${url}`);
    },
    (failure: unknown) => failure,
  );
  expect(error).toBeInstanceOf(CarboncpError);
  return error as CarboncpError;
}

describe('TLS on a single server', () => {
  it('a client with the CA gets over wss:// the answers a client gets over ws://; health and profile over https', async () => {
    const plain = await harness.serve({ token: TOKEN });
    const secure = await harness.serve({ ...tls(), token: TOKEN });
    expect(secure.url).toMatch(/^wss:\/\/127\.0\.0\.1:\d+$/);
    const overWs = await harness.connect(plain.url, { token: TOKEN });
    const overWss = await harness.connect(secure.url, { token: TOKEN, ca: ca.cert });
    await overWss.ready(10_000);
    const splits = overWss.plans.filter((p) => p.kind === 'split');
    for (const [i, cut] of [splits[Math.floor(splits.length / 3)].id, splits[Math.floor((2 * splits.length) / 3)].id, 'server'].entries()) {
      const feeds = seededInputs(overWss.partition.model, harness.inputShapes, 300 + i);
      const [a, b] = await Promise.all([overWs.infer(feeds, { cut }), overWss.infer(feeds, { cut })]);
      expect(b.telemetry.path).toBe(cut === 'server' ? 'remote' : 'split');
      expect(a.telemetry.path).toBe(b.telemetry.path);
      expect(b.telemetry.error).toBeUndefined();
      expect(maxAbsDiffAll(b.outputs, a.outputs)).toBeLessThanOrEqual(1e-6);
    }
    const get = fetchTrusting(ca.cert);
    const ready = await get(`${secure.httpUrl}/v2/health/ready`);
    expect([secure.httpUrl.startsWith('https://'), ready.status]).toEqual([true, 200]);
    const profile = await get(`${secure.httpUrl}/v2/models/${encodeURIComponent(overWss.partition.model.name)}/profile`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(profile.status).toBe(200);
    expect(((await profile.json()) as { modelDigest?: string }).modelDigest).toBe(overWss.partition.model.digest);
  });

  it("the calibrator fetches the server's profile over https with the client's ca, and not without it", async () => {
    const server = await harness.serve(tls());
    const model = (await harness.connect(server.url, { ca: ca.cert })).partition.model;
    const profile = await (await fetchTrusting(ca.cert)(`${server.httpUrl}/v2/models/${encodeURIComponent(model.name)}/profile`)).json();
    const profileUrl = `${server.httpUrl}/v2/models/${encodeURIComponent(model.name)}/profile`;
    const calibrator = { deviceProfile: 'raspberry-pi-4', profile, radio: 'wifi' as const, fallbackIntensityGPerKwh: 300, serverPowerW: 5, planIds: ['server'] };
    for (const trusted of [true, false]) {
      const logs: string[] = [];
      const client = await harness.connect(server.url, { calibrator, log: (line) => logs.push(line), ...(trusted ? { ca: ca.cert } : {}) });
      const refused = logs.filter((line) => line.startsWith('calibrator: no server profile'));
      if (trusted) {
        expect(refused).toEqual([]);
        expect(client.state).toBe('open');
      } else {
        // Node's global fetch, trusting only the bundled roots, cannot verify the throwaway CA.
        expect(refused).toEqual([expect.stringContaining(`calibrator: no server profile (${profileUrl}: fetch failed (UNABLE_TO_VERIFY_LEAF_SIGNATURE))`)]);
      }
    }
  });

  it('refuses a client without the CA and one trusting another CA (CARBONCP_CONNECTION_LOST, details.tls, cause)', async () => {
    const server = await harness.serve(tls());
    for (const trust of [{}, { ca: other.cert }]) {
      const error = await refusal(server.url, trust);
      expect(error.code).toBe(ErrorCode.CONNECTION_LOST);
      expect(error.details).toEqual({ tls: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
      expect((error.cause as NodeJS.ErrnoException).code).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
      expect(error.message).toMatch(/TLS certificate is not trusted .* give its certificate as the client's `ca` option/);
    }
    await expect(fetchTrusting(other.cert)(`${server.httpUrl}/v2/health/live`)).rejects.toMatchObject({ code: ErrorCode.CONNECTION_LOST, details: { tls: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' } });
    // wss:// to a server that speaks no TLS: named as such.
    const plain = await harness.serve();
    const error = await refusal(plain.url.replace('ws://', 'wss://'), { ca: ca.cert });
    expect([error.code, error.details?.tls, error.message]).toEqual([ErrorCode.CONNECTION_LOST, expect.stringMatching(/^(ERR_SSL_\w+|EPROTO)$/), expect.stringMatching(/is the server speaking TLS/)]);
  });

  it('a device client without the CA runs locally, its telemetry naming the refused certificate', async () => {
    const server = await harness.serve(tls());
    const client = await harness.connect(server.url);
    expect(client.state).not.toBe('open');
    const feeds = seededInputs(client.partition.model, harness.inputShapes, 9);
    const { telemetry } = await client.infer(feeds, { cut: 'server' });
    expect(telemetry.path).toBe('local-fallback');
    // Not connected: the plan's error says why the last attempt failed.
    expect(telemetry.error?.code).toBe(ErrorCode.NOT_READY);
    expect(telemetry.error?.message).toMatch(/^not connected to the server \(CARBONCP_CONNECTION_LOST: .*TLS certificate is not trusted \(UNABLE_TO_VERIFY_LEAF_SIGNATURE/);
    expect(() => new WsTransport({ ca: 42 as never })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
  });
});
