// The packages as a user gets them: pack every public package (pnpm pack, which rewrites the
// workspace: and catalog: ranges), check what each tarball holds, install the tarballs with npm
// into a temporary app outside the repository, and from there run a split inference (server and
// device client in one script, outputs checked against local inference), type-check a
// TypeScript consumer, and run the installed `carboncp` bin. Third-party packages come from
// npm's cache when it has them (--prefer-offline), else the registry; nothing else is fetched
// (onnxruntime-node's CUDA download is skipped). Needs the build (`npm test` does it first).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const PACKAGES = ['protocol', 'core', 'carbon', 'calibrator', 'sim', 'device', 'server', 'cli', 'models'] as const;
const dirOf = (name: string) => (name === 'models' ? join(root, 'models') : join(root, 'packages', name));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { cwd: options.cwd, env: { ...process.env, ...options.env }, timeout: options.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

async function ok(command: string, args: string[], options: Parameters<typeof run>[2]): Promise<Run> {
  const result = await run(command, args, options);
  if (result.code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.code}\n${result.stdout}\n${result.stderr}`);
  return result;
}

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
let work: string;
let packs: string;
let app: string;
const tarballs: Record<string, string> = {};
const contents: Record<string, string[]> = {};
const manifests: Record<string, Record<string, any>> = {};

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'carboncp-pack-'));
  packs = join(work, 'packs');
  app = join(work, 'app');
  await mkdir(app);
  // Up to date after set-up, so this is quick; it makes sure dist/ matches the sources.
  await ok(process.execPath, [join(root, 'scripts', 'pnpm.mjs'), 'run', 'build'], { cwd: root });
  await ok(process.execPath, [join(root, 'scripts', 'pnpm.mjs'), '-r', '--filter', './packages/*', '--filter', './models', 'pack', '--pack-destination', packs], { cwd: root });
  for (const name of PACKAGES) {
    const file = join(packs, `carboncp-${name}-0.1.0.tgz`);
    expect(existsSync(file), file).toBe(true);
    tarballs[name] = file;
    contents[name] = (await ok('tar', ['-tzf', file], { cwd: work })).stdout.split('\n').filter(Boolean).map((p) => p.replace(/^package\//, ''));
    manifests[name] = JSON.parse((await ok('tar', ['-xOzf', file, 'package/package.json'], { cwd: work })).stdout);
  }
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'carboncp-pack-test-app', private: true, type: 'module' }, null, 2));
  await ok(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', ...PACKAGES.map((name) => tarballs[name])], {
    cwd: app,
    // npm runs install scripts: onnxruntime-node's postinstall would download CUDA libraries.
    env: { ONNXRUNTIME_NODE_INSTALL: 'skip' },
    timeoutMs: 300_000,
  });
}, 420_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the packed tarballs', () => {
  it.each(PACKAGES)('@carboncp/%s: README, dist, sources for its maps; no tests, build info or models', async (name) => {
    const files = contents[name];
    expect(files).toContain('README.md');
    expect(files).toContain('package.json');
    expect(files.some((f) => f.startsWith('dist/') && f.endsWith('.js'))).toBe(true);
    expect(files.filter((f) => /\.tsbuildinfo$|\.test\.|\.test-support\.|(^|\/)testing\/|\.onnx$|(^|\/)\.cache\//.test(f))).toEqual([]);
    // Every source map points at files the tarball holds.
    const tmp = join(work, 'unpacked', name);
    await mkdir(tmp, { recursive: true });
    await ok('tar', ['-xzf', tarballs[name], '-C', tmp], { cwd: work });
    const missing: string[] = [];
    for (const map of files.filter((f) => f.endsWith('.map'))) {
      const { sources } = JSON.parse(await readFile(join(tmp, 'package', map), 'utf8')) as { sources: string[] };
      for (const source of sources) {
        const target = join(tmp, 'package', map, '..', source);
        if (!existsSync(target)) missing.push(`${map} -> ${source}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it.each(PACKAGES)('@carboncp/%s: package.json fit for npm (engines, typed exports, no workspace ranges, bufferutil optional)', (name) => {
    const manifest = manifests[name];
    expect(manifest.private).toBeUndefined();
    expect(manifest.engines?.node).toMatch(/>=\s*20/);
    for (const [entry, target] of Object.entries(manifest.exports as Record<string, unknown>)) {
      if (entry === './package.json') continue;
      expect(target, entry).toMatchObject({ types: expect.stringMatching(/\.d\.ts$/), default: expect.stringMatching(/\.js$/) });
      const { types, default: js } = target as { types: string; default: string };
      expect(contents[name], `${entry} types`).toContain(types.replace(/^\.\//, ''));
      expect(contents[name], `${entry} code`).toContain(js.replace(/^\.\//, ''));
    }
    const ranges = { ...manifest.dependencies, ...manifest.optionalDependencies, ...manifest.peerDependencies };
    expect(Object.values(ranges).filter((r) => /workspace:|catalog:/.test(String(r)))).toEqual([]);
    expect(manifest.dependencies?.bufferutil).toBeUndefined();
    if (name === 'device') {
      // The browser entry must install without native onnxruntime or ws: the platforms are optional peers.
      for (const peer of ['onnxruntime-node', 'onnxruntime-web', 'ws']) {
        expect(manifest.dependencies?.[peer], peer).toBeUndefined();
        expect(manifest.peerDependenciesMeta?.[peer], peer).toEqual({ optional: true });
      }
    }
  });

  it('sizes: each tarball stays small (no model cache shipped)', async () => {
    for (const name of PACKAGES) {
      const { size } = await stat(tarballs[name]);
      expect(size, name).toBeLessThan(512 * 1024);
    }
  });
});

describe('an app that installed the tarballs with npm', () => {
  it('runs a split inference (server + device client, heads on the main thread and on a worker) that matches local inference', async () => {
    const cache = join(work, 'models-cache');
    await writeFile(
      join(app, 'split.mjs'),
      `
import { startServer } from '@carboncp/server';
import { createClient } from '@carboncp/device/node';
import { ensureModel, getZooModel } from '@carboncp/models';
import * as ort from 'onnxruntime-node';

const generated = await ensureModel('mobilenetv2'); // built into CARBONCP_MODELS_CACHE
const model = await ensureModel('ppocr-cls');
const { inputShapes } = getZooModel('ppocr-cls');
const server = await startServer({ models: [model], host: '127.0.0.1', port: 0, log: () => {} });
const rows = [];
try {
  for (const headThread of ['main', 'worker']) {
    const client = await createClient({ model, server: server.url, inputShapes, headThread });
    await client.ready(10000);
    let seed = 7;
    const data = Float32Array.from({ length: 3 * 48 * 192 }, () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1);
    const feeds = { x: new ort.Tensor('float32', data, [1, 3, 48, 192]) };
    const local = (await client.infer(feeds, { cut: 'device' })).outputs;
    for (const cut of ['server', 'split-27', 'split-160']) {
      const { outputs, telemetry } = await client.infer(feeds, { cut });
      let maxAbsDiff = 0;
      for (const [name, tensor] of Object.entries(local)) {
        const a = tensor.data, b = outputs[name].data;
        if (a.length !== b.length) maxAbsDiff = Infinity;
        for (let i = 0; i < a.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(a[i] - b[i]));
      }
      rows.push({ headThread, cut, path: telemetry.path, maxAbsDiff });
    }
    await client.close();
  }
} finally {
  await server.close();
}
console.log(JSON.stringify({ generated, rows }));
`,
    );
    const result = await ok(process.execPath, ['split.mjs'], { cwd: app, env: { CARBONCP_MODELS_CACHE: cache } });
    const { generated, rows } = JSON.parse(result.stdout.trim().split('\n').pop()!) as {
      generated: string;
      rows: { headThread: string; cut: string; path: string; maxAbsDiff: number }[];
    };
    expect(generated.startsWith(cache)).toBe(true);
    expect(await readdir(join(app, 'node_modules', '@carboncp', 'models'))).not.toContain('.cache');
    expect(rows).toHaveLength(6);
    for (const row of rows) {
      expect(row.path, JSON.stringify(row)).toBe(row.cut === 'server' ? 'remote' : 'split');
      expect(row.maxAbsDiff, JSON.stringify(row)).toBeLessThan(1e-4);
    }
  });

  it('type-checks a TypeScript consumer (module and moduleResolution NodeNext) against the shipped declarations', async () => {
    await writeFile(
      join(app, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, types: [], skipLibCheck: false }, include: ['consumer.ts'] }),
    );
    await writeFile(
      join(app, 'consumer.ts'),
      `
import { startServer, type ServerOptions } from '@carboncp/server';
import { createClient, WorkerRuntime, type CreateClientOptions, type RequestTelemetry } from '@carboncp/device/node';
import { listModels, ensureModel, modelsCacheDir } from '@carboncp/models';
import { partition, type Plan } from '@carboncp/core';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { main, EXIT } from '@carboncp/cli';
import { simulate, POLICY_NAMES, type SimulationOptions, type PolicyResult } from '@carboncp/sim';
const policies: readonly string[] = POLICY_NAMES;
const options: CreateClientOptions = { model: 'm.onnx', server: 'ws://127.0.0.1:8765', headThread: 'worker' };
const serverOptions: ServerOptions = { models: ['m.onnx'] };
const names: string[] = listModels().map((m) => m.name);
const code: string = ErrorCode.WORKER_EXITED;
export { options, serverOptions, names, code, startServer, createClient, WorkerRuntime, ensureModel, modelsCacheDir, partition, CarboncpError, main, EXIT, simulate, policies };
export type { RequestTelemetry, Plan, SimulationOptions, PolicyResult };
`,
    );
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    // @types/node and @types/ws are the app's own business; lend the repository's for this check.
    await mkdir(join(app, 'node_modules', '@types'), { recursive: true });
    for (const types of ['node', 'ws']) {
      const from = join(root, 'node_modules', '@types', types);
      const to = join(app, 'node_modules', '@types', types);
      if (!existsSync(to)) await symlink(from, to, 'dir');
    }
    const result = await run(process.execPath, [tsc, '-p', 'tsconfig.json', '--types', 'node'], { cwd: app });
    expect(result.code, result.stdout + result.stderr).toBe(0);
  });

  it('runs the installed carboncp bin: --version, verify, and exit code 2 for a malformed option', async () => {
    const bin = join(app, 'node_modules', '.bin', process.platform === 'win32' ? 'carboncp.cmd' : 'carboncp');
    const version = await ok(bin, ['--version'], { cwd: app });
    expect(version.stdout.trim()).toBe(manifests.cli.version);
    const cls = join(app, 'node_modules', '@gutenye', 'ocr-models', 'assets', 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
    const verify = await ok(bin, ['verify', cls, '--input-shape', 'x=1,3,48,192', '--cuts', 'server,split-27,device', '--json'], { cwd: app });
    const results = JSON.parse(verify.stdout) as { planId: string; maxAbsDiff: number; ok: boolean }[];
    expect(results.map((r) => [r.planId, r.ok])).toEqual([['server', true], ['split-27', true], ['device', true]]);
    const malformed = await run(bin, ['verify', cls, '--input-shape', 'x=1,3,a,192'], { cwd: app });
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(/CARBONCP_USAGE/);
  });
});
