import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { screenshots } from '../../src/preview/browser.js';
import { buildPreview } from '../../src/preview/preview.js';
import { loadSamples } from '../../src/preview/samples.js';
import { loadWorkspace } from '../../src/workspace/load.js';
import { useCleanups } from '../support/cleanup.js';
import { MINIMAL, tempWorkspace } from '../support/workspace.js';

const cleanup = useCleanups();

/** A tall picture: shown, it makes the full-page screenshot at least this high; blocked, only its alt text shows. */
const TALL = 1500;
const SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="100" height="${TALL}"><rect width="100" height="${TALL}" fill="#c00"/></svg>`;

/** An image server on a loopback address that records every request it gets; `/hang` never answers. */
async function imageServer(address: string) {
  const requests: string[] = [];
  const served: string[] = [];
  const hanging: ServerResponse[] = [];
  const server = createServer((req, res) => {
    requests.push(req.url!);
    if (req.url === '/hang') return void hanging.push(res);
    const to = /^\/redirect\?to=(.+)$/.exec(req.url!);
    if (to) return void res.writeHead(302, { location: decodeURIComponent(to[1]!) }).end();
    res.on('finish', () => served.push(req.url!));
    res.writeHead(200, { 'content-type': 'image/svg+xml' }).end(SVG);
  });
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  const base = `http://${address}:${(server.address() as AddressInfo).port}`;
  cleanup(
    () =>
      new Promise<void>((resolve) => {
        for (const r of hanging) r.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { base, requests, served };
}

/** A full-page PNG's height, from its IHDR. */
const pngHeight = (file: string) => readFileSync(file).readUInt32BE(20);

describe('preview --screenshots: images', () => {
  it("loads images from the site's hosts, blocks every other one, and gives up on a host that never answers", async () => {
    const allowed = await imageServer('127.0.0.1');
    const other = await imageServer('127.0.0.2');
    const dir = mkdtempSync(join(tmpdir(), 'herald-shots-'));
    cleanup(() => rmSync(dir, { recursive: true, force: true }));
    const page = (...srcs: string[]) => `<!doctype html><html><body style="margin:0">${srcs.map((s) => `<img src="${s}" alt="picture" style="display:block">`).join('')}</body></html>`;
    writeFileSync(join(dir, 'shown.html'), page(`${allowed.base}/shown.svg`));
    writeFileSync(join(dir, 'blocked.html'), page(`${other.base}/blocked.svg`));
    // A redirect from an allowed host to another one is not followed; a host that never answers is given up on.
    writeFileSync(join(dir, 'tricks.html'), page(`${allowed.base}/redirect?to=${encodeURIComponent(`${other.base}/redirected.svg`)}`, `${allowed.base}/hang`));
    writeFileSync(join(dir, 'hops.html'), page(`${allowed.base}/redirect?to=${encodeURIComponent(`${allowed.base}/after-redirect.svg`)}`));

    await screenshots(dir, ['shown', 'blocked', 'tricks', 'hops'].map((id) => ({ id, hosts: { site: 'main', hosts: ['shop.example.com', '127.0.0.1'] } })), { imageTimeoutMs: 1000 });

    // Shown: the request reached the server, was answered in full, and the picture is in the screenshot.
    expect(allowed.served).toContain('/shown.svg');
    expect(allowed.served).toContain('/after-redirect.svg');
    for (const kind of ['desktop', 'mobile']) {
      expect(pngHeight(join(dir, `shown.${kind}.png`))).toBeGreaterThanOrEqual(TALL);
      expect(pngHeight(join(dir, `hops.${kind}.png`))).toBeGreaterThanOrEqual(TALL);
      expect(pngHeight(join(dir, `blocked.${kind}.png`))).toBeLessThan(TALL);
      expect(pngHeight(join(dir, `tricks.${kind}.png`))).toBeLessThan(TALL);
    }
    // Blocked: nothing reached the other host, directly or through a redirect.
    expect(other.requests).toEqual([]);
    expect(allowed.requests.filter((r) => r === '/hang')).toHaveLength(2);
  });

  it("herald preview --screenshots shows a product's picture from the site's domains, not one from elsewhere", async () => {
    const allowed = await imageServer('127.0.0.1');
    const other = await imageServer('127.0.0.2');
    const ws = tempWorkspace({
      ...MINIMAL,
      // 127.0.0.1 stands for the shop's image CDN, declared in the site's domains.
      'herald.yaml': MINIMAL['herald.yaml']!.replace('    currency: EUR\n', '    currency: EUR\n    domains: ["127.0.0.1"]\n'),
      'templates/hello/en.mjml':
        '<mjml><mj-body><mj-section><mj-column><mj-text>{{ greeting }} <a href="{{ links.unsubscribe }}">unsubscribe</a></mj-text><mj-raw>{% for p in products %}</mj-raw><mj-image src="{{ p.image_url }}" alt="{{ p.name }}" /><mj-raw>{% endfor %}</mj-raw></mj-column></mj-section></mj-body></mjml>\n',
      'templates/hello/preview.yaml': `products:\n  - { sku: A, name: Boot, price: 1, image_url: "${allowed.base}/boot.svg" }\n`,
      'templates/other/template.yaml': 'subject:\n  en: Other\n',
      'templates/other/en.mjml':
        '<mjml><mj-body><mj-section><mj-column><mj-text>{{ greeting }} <a href="{{ links.unsubscribe }}">unsubscribe</a></mj-text><mj-raw>{% for p in products %}</mj-raw><mj-image src="{{ p.image_url }}" alt="{{ p.name }}" /><mj-raw>{% endfor %}</mj-raw></mj-column></mj-section></mj-body></mjml>\n',
      'templates/other/preview.yaml': `products:\n  - { sku: B, name: Lure, price: 1, image_url: "${other.base}/lure.svg" }\n`,
    });
    cleanup(ws.remove);
    const { workspace, problems } = loadWorkspace(ws.dir);
    expect(problems.filter((p) => p.severity === 'error')).toEqual([]);
    const out = join(ws.dir, 'preview');
    const { cells } = await buildPreview(workspace!, { out, samples: await loadSamples(workspace!), now: new Date('2026-11-20T12:00:00Z'), screenshots: true });
    expect(cells.map((c) => c.id).sort()).toEqual(['campaign-hello/main.en', 'template-other/main.en']);

    expect(allowed.served).toEqual(['/boot.svg', '/boot.svg']); // desktop and mobile
    expect(pngHeight(join(out, 'campaign-hello/main.en.desktop.png'))).toBeGreaterThanOrEqual(TALL);
    expect(other.requests).toEqual([]);
    expect(pngHeight(join(out, 'template-other/main.en.desktop.png'))).toBeLessThan(TALL);
  });
});
