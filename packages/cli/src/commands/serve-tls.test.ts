// `carboncp serve --tls-cert FILE --tls-key FILE` and `carboncp context --server wss:// --ca FILE`
// with a throwaway CA written to files.
import { createPrivateKey } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fetchTrusting } from '@carboncp/device/node';
import { beforeAll, describe, expect, it, vi } from 'vitest';
// The server's throwaway CA (selfsigned is its devDependency), one copy for every TLS test.
import { throwawayCa, type ThrowawayCa } from '../../../server/src/testing/throwaway-ca.js';
import { EXIT } from '../command.js';
import type { ContextReport } from '../context/context-table.js';
import { main } from '../main.js';
import { CLS, capture, useTempDir } from '../testing/cli-fixtures.js';
import { parseServeArgs, stopServing } from './serve.js';

const dir = useTempDir('carboncp-tls-');
let ca: ThrowawayCa;
let files: { caCert: string; otherCa: string; cert: string; key: string; otherKey: string; encryptedKey: string; passphrase: string };

beforeAll(async () => {
  const [mine, other] = await Promise.all([throwawayCa(), throwawayCa('another CA')]);
  ca = mine;
  files = {
    caCert: join(dir.path, 'ca.pem'),
    otherCa: join(dir.path, 'other-ca.pem'),
    cert: join(dir.path, 'server.pem'),
    key: join(dir.path, 'server.key'),
    otherKey: join(dir.path, 'other.key'),
    encryptedKey: join(dir.path, 'server.enc.key'),
    passphrase: join(dir.path, 'passphrase'),
  };
  const encrypted = createPrivateKey(mine.server.key).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'correct horse' });
  await Promise.all([
    writeFile(files.caCert, mine.cert),
    writeFile(files.otherCa, other.cert),
    writeFile(files.cert, mine.server.cert),
    writeFile(files.key, mine.server.key),
    writeFile(files.otherKey, other.server.key),
    writeFile(files.encryptedKey, encrypted),
    writeFile(files.passphrase, 'correct horse\n', { mode: 0o600 }),
  ]);
});

async function waitForLine(lines: string[], pattern: RegExp): Promise<RegExpMatchArray> {
  return vi.waitFor(
    () => {
      for (const line of lines) {
        const match = line.match(pattern);
        if (match) return match;
      }
      throw new Error(`no line matching ${pattern} in:\n${lines.join('\n')}`);
    },
    { timeout: 60_000, interval: 20 },
  );
}

async function context(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = capture();
  const code = await main(['context', ...args], io);
  return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n') };
}

describe('carboncp serve --tls-cert --tls-key', () => {
  it('serves wss:// and https://; context --ca reaches it, context without --ca is refused naming the TLS error', async () => {
    const io = capture();
    const done = main(['serve', '--models', CLS, '--input-shape', 'x=1,3,48,192', '--port', '0', '--ep', 'cpu', '--executor', 'main', '--profile', 'off', '--tls-cert', files.cert, '--tls-key', files.key], io);
    try {
      const [, wsUrl, httpUrl] = await waitForLine(io.stderr, /listening on (wss:\/\/\S+) \(HTTP on (https:\/\/[^)\s]+)\).*, TLS$/);
      expect((await fetchTrusting(ca.cert)(`${httpUrl}/v2/health/live`)).status).toBe(200);

      const trusted = await context(['--server', wsUrl, '--ca', files.caCert, '--pings', '2', '--probe-bytes', '0', '--power-sample-ms', '0', '--timeout-ms', '20000', '--json']);
      expect(trusted.code, trusted.err).toBe(EXIT.OK);
      const report = JSON.parse(trusted.out) as ContextReport;
      expect(report.server?.url).toBe(wsUrl);
      expect(report.server?.ready).toMatchObject({ value: true, source: `GET ${httpUrl}/v2/health/ready: HTTP 200` });
      expect(report.server?.server.models.map((m) => m.name)).toEqual(['ch_ppocr_mobile_v2.0_cls_infer']);

      for (const trust of [[], ['--ca', files.otherCa]]) {
        const refused = await context(['--server', wsUrl, ...trust, '--power-sample-ms', '0', '--timeout-ms', '20000']);
        expect(refused.code).toBe(EXIT.RUNTIME);
        expect(refused.err).toMatch(/CARBONCP_CONNECTION_LOST: .*TLS certificate is not trusted \(UNABLE_TO_VERIFY_LEAF_SIGNATURE/);
      }
    } finally {
      stopServing();
    }
    expect(await done).toBe(EXIT.OK);
  });

  it('refuses a half pair (exit 2), a missing file (exit 3) and a key of another certificate (exit 2) before serving', async () => {
    expect(() => parseServeArgs(['--models', 'm.onnx', '--tls-cert', files.cert], {})).toThrow(/--tls-cert needs --tls-key/);
    expect(() => parseServeArgs(['--models', 'm.onnx', '--tls-key', files.key], {})).toThrow(/--tls-key needs --tls-cert/);
    expect(parseServeArgs(['--models', 'm.onnx', '--tls-cert', files.cert, '--tls-key', files.key], {}).tlsFiles).toEqual({ cert: files.cert, key: files.key });
    const missing = capture();
    expect(await main(['serve', '--models', CLS, '--port', '0', '--tls-cert', join(dir.path, 'nope.pem'), '--tls-key', files.key], missing)).toBe(EXIT.BAD_INPUT);
    expect(missing.stderr.join('\n')).toMatch(/CARBONCP_NOT_FOUND: no such file: .*nope\.pem/);
    const mismatched = capture();
    expect(await main(['serve', '--models', CLS, '--port', '0', '--tls-cert', files.cert, '--tls-key', files.otherKey], mismatched)).toBe(EXIT.USAGE);
    expect(mismatched.stderr.join('\n')).toMatch(/CARBONCP_INVALID_ARGUMENT: tls: the certificate or key cannot be used/);
    expect(mismatched.stderr.join('\n')).not.toMatch(/listening/);
  });

  it('takes an encrypted key with --tls-passphrase-file (or CARBONCP_TLS_PASSPHRASE); a wrong or missing passphrase is refused before serving', async () => {
    const io = capture();
    const done = main(['serve', '--models', CLS, '--input-shape', 'x=1,3,48,192', '--port', '0', '--ep', 'cpu', '--executor', 'main', '--profile', 'off', '--tls-cert', files.cert, '--tls-key', files.encryptedKey, '--tls-passphrase-file', files.passphrase], io);
    try {
      const [, httpUrl] = await waitForLine(io.stderr, /\(HTTP on (https:\/\/[^)\s]+)\).*, TLS$/);
      expect((await fetchTrusting(ca.cert)(`${httpUrl}/v2/health/live`)).status).toBe(200);
    } finally {
      stopServing();
    }
    expect(await done).toBe(EXIT.OK);

    const pair = ['--tls-cert', files.cert, '--tls-key', files.encryptedKey];
    expect(parseServeArgs(['--models', 'm.onnx', ...pair], { CARBONCP_TLS_PASSPHRASE: 'pw' }).tlsFiles).toEqual({ cert: files.cert, key: files.encryptedKey, passphrase: 'pw' });
    expect(parseServeArgs(['--models', 'm.onnx', ...pair, '--tls-passphrase-file', files.passphrase], { CARBONCP_TLS_PASSPHRASE: 'pw' }).tlsFiles).toEqual({ cert: files.cert, key: files.encryptedKey, passphraseFile: files.passphrase });
    expect(() => parseServeArgs(['--models', 'm.onnx', '--tls-passphrase-file', files.passphrase], {})).toThrow(/--tls-passphrase-file needs --tls-cert and --tls-key/);
    for (const [extra, env] of [[[], {}], [[], { CARBONCP_TLS_PASSPHRASE: 'wrong' }], [['--tls-passphrase-file', files.caCert], {}]] as [string[], Record<string, string>][]) {
      const refused = capture();
      vi.stubEnv('CARBONCP_TLS_PASSPHRASE', env.CARBONCP_TLS_PASSPHRASE);
      try {
        expect(await main(['serve', '--models', CLS, '--port', '0', ...pair, ...extra], refused)).toBe(EXIT.USAGE);
      } finally {
        vi.unstubAllEnvs();
      }
      expect(refused.stderr.join('\n')).toMatch(/CARBONCP_INVALID_ARGUMENT: tls: the certificate or key cannot be used/);
      expect(refused.stderr.join('\n')).not.toMatch(/listening/);
    }
  });

  it('context: --ca needs --server', async () => {
    const { code, err } = await context(['--ca', files.caCert]);
    expect(code).toBe(EXIT.USAGE);
    expect(err).toMatch(/--ca needs --server/);
  });
});
