import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { UserError } from '../errors.js';
import { sitesRefusing, type SiteHosts } from '../render/link-check.js';

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

/** A rendered message to take, and the hosts its images may load from: its site's (siteHosts). */
export interface Shot {
  id: string;
  hosts: SiteHosts;
}

/** How long one image may take, redirects included; past it, the screenshot shows its alt text. */
const IMAGE_TIMEOUT_MS = 10_000;
/** A picture in an email is a few hundred KB at most; past this it is not one. */
const IMAGE_MAX_BYTES = 10 * 1024 * 1024;
const MAX_REDIRECTS = 5;

/**
 * Full-page PNGs of each rendered HTML file, at 600 and 375 px, as
 * `<id>.desktop.png` and `<id>.mobile.png` beside it. Images load from the
 * hosts of the message's site (its own host and subdomains, its `domains:`,
 * the tracking host), as a reader sees them; every other request is blocked:
 * a preview tells no third party that someone looked, and runs nothing from
 * elsewhere. herald fetches the images itself, so each redirect is checked
 * against the same hosts and a slow host costs at most `imageTimeoutMs`.
 */
export async function screenshots(dir: string, shots: readonly Shot[], o: { imageTimeoutMs?: number } = {}): Promise<void> {
  if (shots.length === 0) return;
  const timeoutMs = o.imageTimeoutMs ?? IMAGE_TIMEOUT_MS;
  const browser = await launchChromium();
  try {
    for (const [kind, width] of Object.entries(SCREEN_WIDTHS)) {
      const context = await browser.newContext({ viewport: { width, height: 800 }, deviceScaleFactor: 1, javaScriptEnabled: false });
      // The message on the page now: its requests are answered for its site. Once a
      // message has loaded, nothing of it is in flight (no script, no lazy images).
      let current: { file: string; hosts: SiteHosts } | undefined;
      await context.route(/^[a-z][a-z0-9+.-]*:/i, (route) => answer(route, current, timeoutMs));
      const page = await context.newPage();
      for (const shot of shots) {
        current = { file: pathToFileURL(join(dir, `${shot.id}.html`)).href, hosts: shot.hosts };
        await page.goto(current.file, { waitUntil: 'load' });
        await page.screenshot({ path: join(dir, `${shot.id}.${kind}.png`), fullPage: true });
      }
      await context.close();
    }
  } finally {
    await browser.close();
  }
}

type Route = import('playwright-core').Route;

/** The message's own file loads; an image on an allowed host is fetched; everything else (other files too) is blocked. */
async function answer(route: Route, message: { file: string; hosts: SiteHosts } | undefined, timeoutMs: number): Promise<void> {
  const request = route.request();
  // Closing the page drops requests still in flight: their answer has nowhere to go.
  const settle = (p: Promise<void>) => p.catch(() => undefined);
  if (!message) return settle(route.abort('blockedbyclient'));
  if (request.url() === message.file && request.isNavigationRequest()) return settle(route.continue());
  const image = request.resourceType() === 'image' ? await fetchImage(request.url(), message.hosts, timeoutMs) : undefined;
  return settle(image ? route.fulfill(image) : route.abort('blockedbyclient'));
}

async function fetchImage(url: string, hosts: SiteHosts, timeoutMs: number): Promise<{ status: number; contentType: string; body: Buffer } | undefined> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    let at = new URL(url);
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      if (!allowed(at, hosts)) return undefined;
      const res = await fetch(at, { redirect: 'manual', signal, headers: { accept: 'image/*' } });
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        await res.body?.cancel();
        at = new URL(location, at);
        continue;
      }
      const body = await readCapped(res);
      return body ? { status: res.status, contentType: res.headers.get('content-type') ?? 'application/octet-stream', body } : undefined;
    }
    return undefined;
  } catch {
    // Unreachable, refused, too slow, a bad redirect: the reader of the screenshot sees the alt text.
    return undefined;
  }
}

function allowed(url: URL, hosts: SiteHosts): boolean {
  return (url.protocol === 'http:' || url.protocol === 'https:') && sitesRefusing(`${url.protocol}//${url.host}/`, [hosts]).length === 0;
}

async function readCapped(res: Response): Promise<Buffer | undefined> {
  if (!res.body) return Buffer.alloc(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > IMAGE_MAX_BYTES) {
      await res.body.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
