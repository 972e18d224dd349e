import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findHaproxy } from './fleet-haproxy-binary.js';
import { HAPROXY_DEFAULTS, haproxyConfig } from './fleet-haproxy-config.js';

const servers = [
  { name: 'carboncp-1', host: '127.0.0.1', port: 40001, agentPort: 40002 },
  { name: 'carboncp-2', host: '127.0.0.1', port: 40003, agentPort: 40004 },
];

describe('haproxyConfig', () => {
  it('one frontend port, leastconn over agent-weighted servers, health on /v2/health/ready, a WebSocket tunnel timeout', () => {
    const text = haproxyConfig({ bind: { host: '0.0.0.0', port: 8765 }, servers });
    const lines = text.split('\n').map((line) => line.trim());
    expect(lines.filter((line) => line.startsWith('bind '))).toEqual(['bind 0.0.0.0:8765']);
    expect(lines).toContain('balance leastconn');
    expect(lines).toContain('option httpchk GET /v2/health/ready');
    expect(lines).toContain('http-check expect status 200');
    expect(lines).toContain(`timeout tunnel ${HAPROXY_DEFAULTS.tunnelTimeoutMs}ms`);
    expect(lines).toContain('retry-on conn-failure empty-response 503');
    expect(lines).toContain('option splice-auto');
    expect(lines).toContain('tune.bufsize 65536');
    expect(lines).toContain('default-server check inter 1000ms fall 2 rise 2 weight 100 agent-check agent-inter 250ms');
    expect(lines.filter((line) => line.startsWith('server '))).toEqual([
      'server carboncp-1 127.0.0.1:40001 agent-addr 127.0.0.1 agent-port 40002',
      'server carboncp-2 127.0.0.1:40003 agent-addr 127.0.0.1 agent-port 40004',
    ]);
    expect(text).not.toMatch(/ssl|stats socket/);
  });

  it('binds with ssl crt for TLS, brackets IPv6, adds the admin socket and the intervals given', () => {
    const text = haproxyConfig({ bind: { host: '::1', port: 443 }, servers: servers.slice(0, 1), tlsPemFile: '/run/x/tls.pem', statsSocket: '/run/x/admin.sock', agentInterMs: 100, checkInterMs: 500 });
    expect(text).toMatch(/^ {4}bind \[::1\]:443 ssl crt \/run\/x\/tls\.pem$/m);
    expect(text).toMatch(/^ {4}stats socket \/run\/x\/admin\.sock mode 600 level admin$/m);
    expect(text).toMatch(/check inter 500ms .* agent-inter 100ms$/m);
  });

  it('is a configuration HAProxy accepts (haproxy -c)', async (context) => {
    const haproxy = findHaproxy();
    if (!haproxy) {
      console.log('haproxy not found on PATH or at /usr/sbin/haproxy: skipping the haproxy -c check (.ci/run installs it)');
      context.skip();
      return;
    }
    const dir = await mkdtemp(join(tmpdir(), 'carboncp-haproxy-config-'));
    try {
      const file = join(dir, 'haproxy.cfg');
      await writeFile(file, haproxyConfig({ bind: { host: '127.0.0.1', port: 18765 }, servers, statsSocket: join(dir, 'admin.sock') }));
      const result = await new Promise<{ code: number; output: string }>((resolve) =>
        execFile(haproxy, ['-c', '-f', file], { timeout: 20_000 }, (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, output: stdout + stderr })),
      );
      expect(result.output).toMatch(/Configuration file is valid/);
      expect(result.code).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
