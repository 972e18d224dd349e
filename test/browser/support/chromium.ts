// Where the browser suites find a chromium: Debian's package (playwright's own browser download is
// unreachable here). `.ci/run` installs it; elsewhere the suites skip with one line saying how.
import { chromium, type Browser } from 'playwright-core';
import { SKIP_LINE, findChromium } from './find-chromium.mjs';

export { SKIP_LINE };
export const CHROMIUM: string | undefined = findChromium();

/** In CI a missing chromium is a failure (it should have been installed), elsewhere a skip. */
export const SKIP_BROWSER = !CHROMIUM && process.env.CI !== 'true';


/**
 * Headless chromium; `webgpu` exposes its software WebGPU adapter (SwiftShader), which
 * --enable-unsafe-webgpu alone gives on Linux without a GPU (no Vulkan or ANGLE flag needed).
 */
export async function launchChromium(options: { webgpu: boolean }): Promise<Browser> {
  if (!CHROMIUM) throw new Error(SKIP_LINE);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--headless=new', ...(options.webgpu ? ['--enable-unsafe-webgpu'] : ['--disable-webgpu'])],
    timeout: 30_000,
  });
}
