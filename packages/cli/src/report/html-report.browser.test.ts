// The report opened in a real headless browser (Debian's chromium through playwright-core): it
// must load from a file:// URL with no console error, no failed request, and every chart drawn.
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { renderHtmlReport } from './html-report.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));

describe('the HTML report in a headless browser', () => {
  // CI installs chromium (.ci/run); elsewhere the test runs where a chromium is installed.
  it.skipIf(!CHROMIUM && process.env.CI !== 'true')('opens without errors and shows every chart', async () => {
    expect(CHROMIUM, 'chromium is not installed (apt-get install chromium)').toBeDefined();
    const html = await renderHtmlReport({
      title: 'browser check',
      subtitle: [],
      table: { columns: ['a'], rows: [['x']] },
      sections: [0, 1].map((k) => ({
        title: `chart ${k}`,
        chart: { data: { values: [{ x: 0, y: k }, { x: 1, y: k + 1 }] }, mark: 'line' as const, encoding: { x: { field: 'x', type: 'quantitative' as const }, y: { field: 'y', type: 'quantitative' as const } } },
      })),
    });
    const dir = await mkdtemp(join(tmpdir(), 'carboncp-report-'));
    const file = join(dir, 'report.html');
    await writeFile(file, html);
    const browser = await chromium.launch({ executablePath: CHROMIUM!, args: ['--no-sandbox', '--headless=new'] });
    try {
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
      page.on('pageerror', (e) => problems.push(`page: ${e.message}`));
      page.on('requestfailed', (r) => problems.push(`request: ${r.url()}`));
      page.on('request', (r) => !r.url().startsWith('file:') && problems.push(`fetched: ${r.url()}`));
      await page.goto(pathToFileURL(file).toString());
      expect(problems).toEqual([]);
      expect(await page.locator('figure svg').count()).toBe(2);
      const box = await page.locator('figure svg').first().boundingBox();
      expect(box!.width).toBeGreaterThan(50);
      expect(box!.height).toBeGreaterThan(50);
    } finally {
      await browser.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
