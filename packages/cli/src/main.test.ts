import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { describe, expect, it } from 'vitest';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { EXIT } from './command.js';
import { exitCodeOf, main, VERSION } from './main.js';
import { CLS, capture } from './testing/cli-fixtures.js';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

describe('carboncp --version', () => {
  it.each([['--version'], ['-V'], ['version']])('%s prints the package version and exits 0', async (flag) => {
    const io = capture();
    expect(await main([flag], io)).toBe(EXIT.OK);
    expect(io.stdout).toEqual([pkg.version]);
    expect(VERSION).toBe(pkg.version);
  });
});

describe('exit codes (packages/cli/README.md)', () => {
  const cases: [string, string[], number][] = [
    ['no command', [], EXIT.USAGE],
    ['an unknown command', ['frobnicate'], EXIT.USAGE],
    ['an unknown flag', ['verify', CLS, '--frobnicate'], EXIT.USAGE],
    ['a malformed --input-shape (verify)', ['verify', CLS, '--input-shape', 'x=1,3,abc'], EXIT.USAGE],
    ['a malformed --input-shape (partition)', ['partition', CLS, '--input-shape', 'x'], EXIT.USAGE],
    ['a malformed --input-shape (demo)', ['demo', '--input-shape', 'x=0,3'], EXIT.USAGE],
    ['a malformed --input-shape (serve)', ['serve', '--models', CLS, '--input-shape', 'x=1,,2'], EXIT.USAGE],
    ['a malformed --max-width', ['partition', CLS, '--max-width', '0'], EXIT.USAGE],
    ['a malformed --tol', ['verify', CLS, '--tol', 'abc'], EXIT.USAGE],
    ['a malformed --port', ['serve', '--models', CLS, '--port', '99999'], EXIT.USAGE],
    ['a malformed --runs', ['demo', '--runs', '1.5'], EXIT.USAGE],
    ['a missing model file', ['verify', '/nonexistent/model.onnx'], EXIT.BAD_INPUT],
    ['a shape that does not fit the model', ['verify', CLS, '--input-shape', 'x=1,3,48', '--cuts', 'server'], EXIT.BAD_INPUT],
    ['an unknown plan id', ['verify', CLS, '--input-shape', 'x=1,3,48,192', '--cuts', 'split-99999'], EXIT.BAD_INPUT],
    ['a demo --input-shape no model has', ['demo', '--model', 'ppocr-cls', '--input-shape', 'nope=1,3'], EXIT.BAD_INPUT],
    ['a demo model that does not exist', ['demo', '--model', 'no-such-model'], EXIT.BAD_INPUT],
  ];
  it.each(cases)('%s (%j) exits %i', async (_label, args, code) => {
    const io = capture();
    expect(await main(args, io)).toBe(code);
    if (args.length > 0) expect(io.stderr.join('\n')).toMatch(args[0] === 'frobnicate' ? /unknown command/ : /carboncp: CARBONCP_[A-Z_]+: /);
  });

  it('a port in use is a run-time error (4)', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const port = (blocker.address() as { port: number }).port;
      const io = capture();
      expect(await main(['serve', '--models', CLS, '--port', String(port), '--executor', 'main'], io)).toBe(EXIT.RUNTIME);
      expect(io.stderr.join('\n')).toMatch(/CARBONCP_LISTEN/);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('maps codes: command-line codes to 2, run-time failures to 4, other coded errors to 3, uncoded to 4', () => {
    expect(exitCodeOf(new CarboncpError('CARBONCP_USAGE', 'x'))).toBe(EXIT.USAGE);
    expect(exitCodeOf(new CarboncpError(ErrorCode.INVALID_ARGUMENT, 'x'))).toBe(EXIT.USAGE);
    expect(exitCodeOf(new CarboncpError(ErrorCode.INTERNAL, 'x'))).toBe(EXIT.RUNTIME);
    expect(exitCodeOf(new CarboncpError(ErrorCode.WORKER_EXITED, 'x'))).toBe(EXIT.RUNTIME);
    expect(exitCodeOf(new CarboncpError('CARBONCP_LISTEN', 'x'))).toBe(EXIT.RUNTIME);
    expect(exitCodeOf(new CarboncpError('CARBONCP_BAD_MODEL', 'x'))).toBe(EXIT.BAD_INPUT);
    expect(exitCodeOf(new CarboncpError(ErrorCode.UNKNOWN_PLAN, 'x'))).toBe(EXIT.BAD_INPUT);
    expect(exitCodeOf(new Error('boom'))).toBe(EXIT.RUNTIME);
  });
});

describe('carboncp demo --input-shape', () => {
  it('runs a zoo model at a given input shape, over the zoo default', async () => {
    const io = capture();
    const code = await main(['demo', '--model', 'ppocr-cls', '--input-shape', 'x=1,3,48,96', '--cuts', 'server,split-27', '--runs', '1', '--auto-steps', '0', '--json'], io);
    const report = JSON.parse(io.stdout.join('\n')) as { ok: boolean; models: { inputShapes: Record<string, number[]>; inputBytes: number; rows: { cut: string; path: string }[] }[] };
    expect(code).toBe(EXIT.OK);
    expect(report.models[0].inputShapes).toEqual({ x: [1, 3, 48, 96] });
    expect(report.models[0].inputBytes).toBe(3 * 48 * 96 * 4);
    expect(report.models[0].rows.map((r) => [r.cut, r.path])).toEqual([['server', 'remote'], ['split-27', 'split']]);
  });
});
