// Drives the built example app in a chromium page: window.carboncpSplit(config) is the app's
// split-runner, window.carboncpFamily(config) its family runner; the page's console errors and
// failed requests are collected for the checks.
import type { Browser, Page } from 'playwright-core';
import type { FamilyRunConfig, FamilyRunReport } from '../app/family-runner.js';
import type { RunConfig, RunReport } from '../app/split-runner.js';

export interface OpenPage {
  page: Page;
  problems: string[];
  run(config: RunConfig, timeoutMs?: number): Promise<RunReport>;
  runFamily(config: FamilyRunConfig, timeoutMs?: number): Promise<FamilyRunReport>;
}

/** Evaluates in the page, bounded: a page that never answers fails the test instead of hanging it. */
function bounded<R>(page: Page, timeoutMs: number, evaluate: () => Promise<R>): Promise<R> {
  page.setDefaultTimeout(timeoutMs);
  return Promise.race([
    evaluate(),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`the page did not finish within ${timeoutMs} ms`)), timeoutMs).unref()),
  ]);
}

export async function openApp(browser: Browser, appUrl: string): Promise<OpenPage> {
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`page: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request: ${r.url()} ${r.failure()?.errorText ?? ''}`));
  // Everything (the bundle, onnxruntime-web's wasm, the model) must come from the app's origin.
  const origin = new URL(appUrl).origin;
  page.on('request', (r) => {
    const url = r.url();
    if (!url.startsWith(`${origin}/`) && !url.startsWith('ws://127.0.0.1') && !url.startsWith('data:') && !url.startsWith('blob:')) problems.push(`fetched from elsewhere: ${url}`);
  });
  await page.goto(appUrl);
  await page.waitForFunction(() => typeof window.carboncpSplit === 'function', undefined, { timeout: 30_000 });
  return {
    page,
    problems,
    run: (config, timeoutMs = 120_000) => bounded(page, timeoutMs, () => page.evaluate((c) => window.carboncpSplit(c), config)),
    runFamily: (config, timeoutMs = 120_000) => bounded(page, timeoutMs, () => page.evaluate((c) => window.carboncpFamily(c), config)),
  };
}
