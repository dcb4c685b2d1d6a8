import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { UserError } from '../errors.js';

/**
 * The system Chromium, driven by playwright-core: Debian's `chromium` package
 * at /usr/bin/chromium, or HERALD_CHROMIUM. herald never downloads a browser.
 */
export type Browser = import('playwright-core').Browser;

export function chromiumPath(env: NodeJS.ProcessEnv = process.env): string {
  const path = env.HERALD_CHROMIUM || '/usr/bin/chromium';
  if (!existsSync(path)) {
    throw new UserError(
      `no Chromium at ${path}`,
      env.HERALD_CHROMIUM ? 'point HERALD_CHROMIUM at a Chromium or Chrome executable' : 'install Debian\'s chromium package (apt-get install chromium), or set HERALD_CHROMIUM to a Chromium executable',
    );
  }
  return path;
}

export async function launchChromium(): Promise<Browser> {
  const executablePath = chromiumPath();
  const { chromium } = await import('playwright-core');
  try {
    // --no-sandbox: CI containers run as root, where Chromium's sandbox cannot start.
    return await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  } catch (e) {
    throw new UserError(`cannot start Chromium at ${executablePath}: ${(e as Error).message.split('\n')[0]}`, 'check that it runs: `chromium --headless --version`');
  }
}

/** Widths a reviewer checks: the desktop reading pane and a phone. */
export const SCREEN_WIDTHS = { desktop: 600, mobile: 375 } as const;

/**
 * Full-page PNGs of each rendered HTML file, at 600 and 375 px, as
 * `<id>.desktop.png` and `<id>.mobile.png` beside it. Remote images are not
 * fetched: a preview must not depend on the network, nor tell a shop's image
 * server that someone looked.
 */
export async function screenshots(dir: string, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  const browser = await launchChromium();
  try {
    for (const [kind, width] of Object.entries(SCREEN_WIDTHS)) {
      const context = await browser.newContext({ viewport: { width, height: 800 }, deviceScaleFactor: 1, javaScriptEnabled: false });
      await context.route(/^https?:/, (route) => route.abort());
      const page = await context.newPage();
      for (const id of ids) {
        await page.goto(pathToFileURL(join(dir, `${id}.html`)).href, { waitUntil: 'load' });
        await page.screenshot({ path: join(dir, `${id}.${kind}.png`), fullPage: true });
      }
      await context.close();
    }
  } finally {
    await browser.close();
  }
}
