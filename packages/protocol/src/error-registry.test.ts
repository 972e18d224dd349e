/**
 * ErrorCode is the one registry of error codes. This test reads the sources of every package
 * and fails when a code is used that the registry lacks, when a registered code is used nowhere,
 * when a source throws a code as a string literal instead of the registry's constant, or when a
 * second error class stands beside CarboncpError.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from './error-codes.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const REGISTRY_FILE = 'packages/protocol/src/error-codes.ts';

function sourceFiles(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist') continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...sourceFiles(path));
    else if (/\.(ts|mts|mjs|js)$/.test(entry.name)) found.push(path);
  }
  return found;
}

const PACKAGE_DIRS = readdirSync(join(ROOT, 'packages')).map((name) => `packages/${name}/src`);
const FILES = [...PACKAGE_DIRS, 'models/src', 'test'].flatMap(sourceFiles).map((path) => ({
  path: relative(ROOT, join(ROOT, path)),
  text: readFileSync(join(ROOT, path), 'utf8'),
}));
/** Tests, their helpers and fixtures may spell codes out: they check the strings on the wire. */
const isTestCode = (path: string): boolean => /\.test\.ts$|\.test-support\.ts$|\/fixtures\/|^test\//.test(path);

const CODE = /\bCARBONCP_[A-Z0-9_]+\b/g;
const CONSTANT = /\bErrorCode\.([A-Za-z0-9_]+)/g;
/** CARBONCP_* names read from the environment are settings, not error codes. */
const ENV_NAMES = new Set(FILES.flatMap(({ text }) => [...text.matchAll(/\benv(?:\.|\[['"])(CARBONCP_[A-Z0-9_]+)/g)].map((m) => m[1])));
const REGISTERED = new Set<string>(Object.values(ErrorCode));

/** The codes and ErrorCode constants a source names that the registry lacks. */
function unregistered(path: string, text: string): string[] {
  const missing: string[] = [];
  for (const [code] of text.matchAll(CODE)) {
    if (!REGISTERED.has(code) && !ENV_NAMES.has(code)) missing.push(`${path}: ${code}`);
  }
  for (const [use, key] of text.matchAll(CONSTANT)) {
    if (!Object.hasOwn(ErrorCode, key)) missing.push(`${path}: ${use}`);
  }
  return missing;
}

describe('the error-code registry', () => {
  it('reads the sources of every package', () => {
    for (const dir of ['packages/protocol/src', 'packages/core/src', 'packages/device/src', 'packages/server/src', 'packages/cli/src', 'models/src']) {
      expect(FILES.some(({ path }) => path.startsWith(dir)), dir).toBe(true);
    }
    expect(FILES.length).toBeGreaterThan(100);
    expect([...ENV_NAMES].sort()).toEqual(expect.arrayContaining(['CARBONCP_MODELS_CACHE', 'CARBONCP_TOKEN']));
  });

  it('holds every code any source names, and each key spells its value', () => {
    expect(FILES.flatMap(({ path, text }) => unregistered(path, text))).toEqual([]);
    for (const [key, code] of Object.entries(ErrorCode)) expect(code).toBe(`CARBONCP_${key}`);
  });

  it('holds no code that no package source uses', () => {
    const used = new Set<string>();
    for (const { path, text } of FILES) {
      if (path === REGISTRY_FILE || isTestCode(path)) continue;
      for (const [code] of text.matchAll(CODE)) used.add(code);
      for (const [, key] of text.matchAll(CONSTANT)) used.add(`CARBONCP_${key}`);
    }
    expect([...REGISTERED].filter((code) => !used.has(code))).toEqual([]);
  });

  it('is used through its constants: no package source quotes a code', () => {
    const quoted: string[] = [];
    for (const { path, text } of FILES) {
      if (path === REGISTRY_FILE || isTestCode(path)) continue;
      for (const [literal, name] of text.matchAll(/['"`](CARBONCP_[A-Z0-9_]+)['"`]/g)) {
        if (!ENV_NAMES.has(name as string)) quoted.push(`${path}: ${literal}`);
      }
    }
    expect(quoted).toEqual([]);
  });

  it('has the one error class, CarboncpError, that every package throws', () => {
    const classes = FILES.filter(({ path }) => !isTestCode(path)).flatMap(({ path, text }) =>
      [...text.matchAll(/\bclass\s+(\w+)\s+extends\s+(\w*Error)\b/g)].map((m) => `${path}: ${m[1]} extends ${m[2]}`),
    );
    expect(classes.filter((line) => !line.endsWith(': CarboncpError extends Error'))).toEqual(KNOWN_INTERNAL_ERRORS);
  });

  it('is listed in the protocol README, every code', () => {
    const readme = readFileSync(join(ROOT, 'packages/protocol/README.md'), 'utf8');
    expect([...REGISTERED].filter((code) => !readme.includes(`\`${code}\``))).toEqual([]);
  });

  it('the check fails on a code or a constant outside the registry', () => {
    // Spelled in pieces so that this file itself names no unregistered code.
    const code = ['CARBONCP', 'NO_SUCH_CODE'].join('_');
    const constant = ['ErrorCode', 'NO_SUCH_KEY'].join('.');
    const source = `throw new CarboncpError('${code}', 'x'); throw new CarboncpError(${constant}, 'y');`;
    expect(unregistered('x.ts', source)).toEqual([`x.ts: ${code}`, `x.ts: ${constant}`]);
    expect(unregistered('x.ts', "new CarboncpError(ErrorCode.BUSY, 'z'); env.CARBONCP_TOKEN")).toEqual([]);
  });
});

/**
 * Server-internal classes that never leave the package: a batch failure with its stage (turned
 * into a CarboncpError before it reaches a client), a worker exit seen by a waiting run, and a
 * worker call past its bound (which retires the worker; the jobs get CARBONCP_TIMEOUT).
 */
const KNOWN_INTERNAL_ERRORS = [
  'packages/server/src/tail-executor.ts: TailStageError extends Error',
  'packages/server/src/tail-worker-pool.ts: WorkerExited extends Error',
  'packages/server/src/tail-worker-pool.ts: WorkerCallTimedOut extends Error',
];
