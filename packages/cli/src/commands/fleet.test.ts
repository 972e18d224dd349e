import { describe, expect, it } from 'vitest';
import { main } from '../main.js';
import { CLS, capture } from '../testing/cli-fixtures.js';
import { parseFleetArgs } from './fleet.js';

describe('parseFleetArgs', () => {
  it('takes the fleet flags and passes every other one to each server', () => {
    const parsed = parseFleetArgs(['--servers', '3', '--port=9000', '--models', 'a.onnx', 'b.onnx', '--max-queue', '8', '--haproxy', '/opt/haproxy', '--drain-ms', '500', '--executor', 'main']);
    expect(parsed).toEqual({
      servers: 3,
      port: 9000,
      host: '127.0.0.1',
      haproxy: '/opt/haproxy',
      tls: undefined,
      serveArgs: ['--models', 'a.onnx', 'b.onnx', '--max-queue', '8', '--drain-ms', '500', '--executor', 'main'],
      restart: true,
      drainMs: 500,
    });
    expect(parseFleetArgs(['--models', 'a.onnx', '--restart', 'off']).restart).toBe(false);
    expect(parseFleetArgs(['--models', 'a.onnx', '--restart=on']).restart).toBe(true);
    expect(parseFleetArgs(['--models', 'a.onnx', '--tls-cert', 'c.pem', '--tls-key', 'k.pem', '--host', '0.0.0.0'])).toMatchObject({
      servers: 2,
      port: 8765,
      host: '0.0.0.0',
      tls: { cert: 'c.pem', key: 'k.pem' },
      serveArgs: ['--models', 'a.onnx'],
      drainMs: 10_000,
    });
  });

  it('refuses what does not fit, naming the flag', () => {
    const usage = expect.objectContaining({ code: 'CARBONCP_USAGE' });
    expect(() => parseFleetArgs(['--models', 'a.onnx', '--servers', '0'])).toThrow(/--servers must be an integer in 1\.\.64, got '0'/);
    expect(() => parseFleetArgs(['--models', 'a.onnx', '--port', '70000'])).toThrow(/--port must be an integer in 0\.\.65535/);
    expect(() => parseFleetArgs(['--models', 'a.onnx', '--agent-port', '1'])).toThrow(/--agent-port is set by the fleet/);
    expect(() => parseFleetArgs(['--models', 'a.onnx', '--tls-cert', 'c.pem'])).toThrow(/--tls-cert and --tls-key go together/);
    expect(() => parseFleetArgs(['--models', 'a.onnx', '--servers'])).toThrow(/--servers needs a value/);
    expect(() => parseFleetArgs(['--models', 'a.onnx', '--max-queue', '0'])).toThrow(usage);
    expect(() => parseFleetArgs(['--models', 'a.onnx', '--max-queue', '0'])).toThrow(/fleet: \(a serve option\) --max-queue must be an integer >= 1/);
    expect(() => parseFleetArgs(['--servers', '2'])).toThrow(/no models/);
    expect(() => parseFleetArgs(['--models', 'a.onnx', '--restart', 'always'])).toThrow(/--restart must be on or off, got 'always'/);
  });
});

describe('carboncp fleet', () => {
  it('exits 4 with one clear line when HAProxy is not where --haproxy says', async () => {
    const io = capture();
    expect(await main(['fleet', '--models', CLS, '--haproxy', '/nonexistent/haproxy'], io)).toBe(4);
    expect(io.stderr.join('\n')).toMatch(/HAProxy not found \(\/nonexistent\/haproxy\); install it .* or pass --haproxy PATH/);
  });

  it('exits 3 naming the flag when a TLS file cannot be read', async (context) => {
    const { findHaproxy } = await import('./fleet-haproxy-binary.js');
    const haproxy = findHaproxy();
    if (!haproxy) {
      console.log('haproxy not found on PATH or at /usr/sbin/haproxy: skipping the TLS file check');
      context.skip();
      return;
    }
    const io = capture();
    expect(await main(['fleet', '--models', CLS, '--haproxy', haproxy, '--tls-cert', '/nonexistent/c.pem', '--tls-key', '/nonexistent/k.pem'], io)).toBe(3);
    expect(io.stderr.join('\n')).toMatch(/CARBONCP_NOT_FOUND: cannot read --tls-cert \/nonexistent\/c\.pem: ENOENT/);
  });

  it('is listed in the help', async () => {
    const io = capture();
    await main(['--help'], io);
    expect(io.stdout.join('\n')).toMatch(/fleet +run several servers behind HAProxy/);
  });
});
