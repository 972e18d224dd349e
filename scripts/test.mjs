#!/usr/bin/env node
// `npm test`: set up (install from the lockfile, build), type-check the tests, run every vitest
// suite and close with one plain summary line ("tests: N passed, N failed") for CI logs.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const script = (name) => fileURLToPath(new URL(name, import.meta.url));

const setup = spawnSync(process.execPath, [script('setup.mjs')], { stdio: 'inherit', cwd: root });
if (setup.status !== 0) process.exit(setup.status ?? 1);

// vitest transpiles without type-checking; tsc -b checks the shipped sources only. This checks
// everything else (tests, fixtures, e2e suites, benchmarks) against the sources.
const typecheck = spawnSync(process.execPath, [script('pnpm.mjs'), 'exec', 'tsc', '-p', 'tsconfig.tests.json'], {
  stdio: 'inherit',
  cwd: root,
});
if (typecheck.status !== 0) {
  process.stdout.write('tests: type-check of test files failed (tsc -p tsconfig.tests.json)\n');
  process.exit(typecheck.status ?? 1);
}

// The browser suites (test/browser) need a chromium; without one they skip, and this says so once.
const { SKIP_LINE, findChromium } = await import(new URL('../test/browser/support/find-chromium.mjs', import.meta.url).href);
if (!findChromium()) process.stdout.write(`${SKIP_LINE}\n`);

mkdirSync(`${root}/.tmp`, { recursive: true });
const report = `${root}/.tmp/vitest-report.json`;
rmSync(report, { force: true });
const run = spawnSync(
  process.execPath,
  [
    script('pnpm.mjs'), 'exec', 'vitest', 'run',
    '--reporter=default', '--reporter=json', `--outputFile.json=${report}`,
    ...process.argv.slice(2),
  ],
  { stdio: 'inherit', cwd: root },
);
try {
  const summary = JSON.parse(readFileSync(report, 'utf8'));
  const skipped = summary.numPendingTests + summary.numTodoTests;
  process.stdout.write(
    `\ntests: ${summary.numPassedTests} passed, ${summary.numFailedTests} failed` +
      (skipped ? `, ${skipped} skipped` : '') + '\n',
  );
  if (summary.numTotalTests === 0) {
    process.stdout.write('no test ran\n');
    process.exit(1);
  }
} catch {
  process.stdout.write('tests: no report was written (vitest failed before running tests)\n');
}
process.exit(run.status ?? 1);
