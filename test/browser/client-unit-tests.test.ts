// The neutral client's own unit tests, run in headless chromium: the guard that the client stays
// platform-neutral (a Node import in it, or in what it imports, fails here). The test files are
// bundled unchanged with vitest's API served by unit/vitest-shim.mjs (vitest's own expect and
// spies). Files that need Node for their fixtures (node:fs, the carbon package's file loaders)
// or vitest's fake timers stay out, and are listed; every other file must run every test it has.
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { buildUnitTests } from './support/build.js';
import { SKIP_BROWSER, launchChromium } from './support/chromium.js';
import { serveStatic } from './support/static-server.mjs';

const CLIENT_DIR = fileURLToPath(new URL('../../packages/device/src/client/', import.meta.url));

/** Why a client test file cannot run in a page, or undefined when it can. */
function nodeOnlyReason(source: string): string | undefined {
  if (/(from |import\()'(node:[a-z_/]+|@carboncp\/[a-z]+\/node)'/.test(source)) return 'reads its fixtures through Node';
  if (source.includes('vi.useFakeTimers')) return "uses vitest's fake timers";
  return undefined;
}

const files = readdirSync(CLIENT_DIR)
  .filter((name) => name.endsWith('.test.ts'))
  .sort()
  .map((name) => ({ name, path: join(CLIENT_DIR, name), source: readFileSync(join(CLIENT_DIR, name), 'utf8') }));
const inBrowser = files.filter((f) => nodeOnlyReason(f.source) === undefined);
const left = files.filter((f) => nodeOnlyReason(f.source) !== undefined).map((f) => `${f.name}: ${nodeOnlyReason(f.source)}`);

let dir: string | undefined;
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.skipIf(SKIP_BROWSER)("the neutral client's unit tests in headless chromium", () => {
  it('runs every test of every file that needs no Node, and all pass', async () => {
    // Most of the suite runs in the page; what stays out is named here (and in the README).
    expect(inBrowser.length).toBeGreaterThanOrEqual(files.length - left.length);
    expect(inBrowser.length).toBeGreaterThan(10);
    dir = await mkdtemp(join(tmpdir(), 'carboncp-unit-'));
    await buildUnitTests(dir, inBrowser.map((f) => f.path));
    const site = await serveStatic(join(dir, 'dist'));
    const browser = await launchChromium({ webgpu: false });
    try {
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on('pageerror', (e) => problems.push(e.message));
      await page.goto(site.url);
      await page.waitForFunction(() => typeof (window as unknown as { runUnitTests?: unknown }).runUnitTests === 'function', undefined, { timeout: 30_000 });
      page.setDefaultTimeout(120_000);
      const outcomes = await page.evaluate(() => (window as unknown as { runUnitTests(): Promise<{ file: string; name: string; ok: boolean; error?: string }[]> }).runUnitTests());
      expect(outcomes.filter((o) => !o.ok)).toEqual([]);
      // Each file ran at least the it() calls it spells out (more where one sits in a loop over seeds).
      for (const file of inBrowser) {
        const declared = [...file.source.matchAll(/^\s*it\(/gm)].length;
        expect(declared, file.name).toBeGreaterThan(0);
        expect(outcomes.filter((o) => o.file === file.name).length, file.name).toBeGreaterThanOrEqual(declared);
      }
      expect(problems).toEqual([]);
      process.stdout.write(`client unit tests in chromium: ${outcomes.length} passed in ${inBrowser.length} files; not in the browser: ${left.join('; ')}\n`);
    } finally {
      await browser.close();
      await site.close();
    }
  });
});
