import { cpSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { launchChromium } from '../../src/preview/browser.js';
import { startPreviewServer } from '../../src/preview/serve.js';
import { useCleanups } from '../support/cleanup.js';
import { exampleWorkspace } from '../support/workspace.js';

const cleanup = useCleanups();

interface StateCell {
  id: string;
  row: string;
  site: string;
  locale: string;
  subject: string;
}

/** Saves re-render after a 100 ms debounce and an MJML compile: generous, since CI machines are slow. */
const SETTLE = { timeout: 60_000, interval: 100 };

async function serve() {
  const ws = exampleWorkspace();
  cleanup(ws.remove);
  const server = await startPreviewServer(ws.dir, { port: 0 });
  cleanup(() => server.close());
  const state = async () => (await (await fetch(new URL('api/state', server.url))).json()) as { errors: string[]; cells: StateCell[] };
  return { ws, server, state };
}

describe('herald preview --serve', () => {
  it('shows the chosen cell, follows saves without a reload, and shows invalid files in the page', async () => {
    const { ws, server, state } = await serve();
    const browser = await launchChromium();
    cleanup(() => browser.close());
    const page = await browser.newPage();
    // Page errors would otherwise pass silently: the assertions below would only time out.
    const pageErrors: Error[] = [];
    page.on('pageerror', (e) => pageErrors.push(e));
    let reloads = -1; // the first navigation is the page opening
    page.on('framenavigated', (f) => {
      if (f === page.mainFrame()) reloads++;
    });
    await page.goto(server.url);

    // While the frame loads a new render it has no body yet: read that as no text, and poll again.
    const frameText = () =>
      page
        .frameLocator('#frame')
        .locator('body')
        .innerText({ timeout: 1000 })
        .catch(() => '');
    const text = (selector: string) => page.locator(selector).innerText({ timeout: 1000 });
    const shown = async () => {
      const src = await page.locator('#frame').getAttribute('src');
      return decodeURIComponent(/^\/render\/(.+)\.html\?v=\d+$/.exec(src ?? '')?.[1] ?? '');
    };

    await page.selectOption('#row', 'campaign-winback');
    await page.selectOption('#site', 'shop-en');
    await page.selectOption('#locale', 'en');
    expect(await shown()).toBe('campaign-winback/shop-en.en');
    await expect.poll(frameText, SETTLE).toContain('Our winter collection is in');
    expect(await frameText()).toContain('Dear Anna,');
    const cells = new Map((await state()).cells.map((c) => [c.id, c]));
    expect(await text('#subject')).toBe(cells.get('campaign-winback/shop-en.en')!.subject);
    expect(await text('#subject')).toBe('Anna, it has been a while');

    await page.selectOption('#locale', 'ru');
    expect(await shown()).toBe('campaign-winback/shop-en.ru');
    await expect.poll(frameText, SETTLE).toContain('У нас новая зимняя коллекция');
    expect(await frameText()).toContain('Здравствуйте, Ольга!');
    expect(await frameText()).not.toContain('Our winter collection is in');
    expect(await text('#subject')).toBe(cells.get('campaign-winback/shop-en.ru')!.subject);
    expect(await text('#subject')).toBe('Ольга, давно не виделись');

    // A save re-renders, and the page follows without reloading or losing the chosen cell.
    const file = join(ws.dir, 'templates/newsletter/ru.mjml');
    const good = readFileSync(file, 'utf8');
    const edited = good.replace('У нас новая зимняя коллекция', 'Отметка-правки-4711');
    expect(edited).not.toBe(good);
    const before = Number(await page.locator('body').getAttribute('data-version'));
    writeFileSync(file, edited);
    await expect.poll(frameText, SETTLE).toContain('Отметка-правки-4711');
    expect(await frameText()).not.toContain('У нас новая зимняя коллекция');
    expect(Number(await page.locator('body').getAttribute('data-version'))).toBeGreaterThan(before);
    expect(await shown()).toBe('campaign-winback/shop-en.ru');
    expect(await page.locator('#errors').innerText()).toBe('');

    // A broken file shows its problem, with the file, in the page; fixing it clears it.
    writeFileSync(file, edited.replace('{{ greeting }}', '{{ customer.nope }}'));
    await expect.poll(() => text('#errors'), SETTLE).toContain('templates/newsletter/ru.mjml');
    expect(await text('#errors')).toContain('customer.nope');
    writeFileSync(file, good);
    await expect.poll(() => text('#errors'), SETTLE).toBe('');
    await expect.poll(frameText, SETTLE).toContain('У нас новая зимняя коллекция');
    expect(await frameText()).toContain('Здравствуйте, Ольга!');
    expect(await text('#subject')).toBe('Ольга, давно не виделись');

    expect(reloads).toBe(0);
    expect(pageErrors).toEqual([]);
  });

  it('serves the state of every cell, and 404 for an unknown one', async () => {
    const { server, state } = await serve();
    const { errors, cells } = await state();
    expect(errors).toEqual([]);
    const winback = cells.filter((c) => c.row === 'campaign-winback');
    expect(winback.map((c) => `${c.site}.${c.locale}`).sort()).toEqual(['shop-en.en', 'shop-en.ru', 'shop-ru.en', 'shop-ru.ru']);
    expect(winback.map((c) => c.id).sort()).toEqual(['campaign-winback/shop-en.en', 'campaign-winback/shop-en.ru', 'campaign-winback/shop-ru.en', 'campaign-winback/shop-ru.ru']);

    const known = await fetch(new URL('render/campaign-winback/shop-ru.ru.html', server.url));
    expect(known.status).toBe(200);
    expect(await known.text()).toContain('Здравствуйте, Ольга!');
    const unknown = await fetch(new URL('render/campaign-nope/shop-en.en.html', server.url));
    expect(unknown.status).toBe(404);
    await unknown.text();
  });

  it('follows a file an editor replaced by renaming, and every save to it after', async () => {
    const { ws, server } = await serve();
    const shows = async (marker: string) => (await (await fetch(new URL('render/campaign-winback/shop-en.ru.html', server.url))).text()).includes(marker);
    const folder = join(ws.dir, 'templates/newsletter');
    const file = join(folder, 'ru.mjml');
    const good = readFileSync(file, 'utf8');
    const marked = (marker: string) => good.replace('У нас новая зимняя коллекция', marker);

    // Vim, JetBrains IDEs and `git checkout` write a new file and rename it over the old one.
    writeFileSync(`${file}.tmp`, marked('Отметка-замены'));
    renameSync(`${file}.tmp`, file);
    await expect.poll(() => shows('Отметка-замены'), SETTLE).toBe(true);
    writeFileSync(file, marked('Отметка-после-замены'));
    await expect.poll(() => shows('Отметка-после-замены'), SETTLE).toBe(true);

    // A whole folder replaced (a branch switched): saves into the new one are followed too.
    cpSync(folder, `${folder}.new`, { recursive: true });
    writeFileSync(join(`${folder}.new`, 'ru.mjml'), marked('Отметка-новой-папки'));
    rmSync(folder, { recursive: true });
    renameSync(`${folder}.new`, folder);
    await expect.poll(() => shows('Отметка-новой-папки'), SETTLE).toBe(true);
    writeFileSync(file, marked('Отметка-после-папки'));
    await expect.poll(() => shows('Отметка-после-папки'), SETTLE).toBe(true);
  });
});

interface RawResponse {
  status: number;
  headers: Map<string, string>;
  body: string;
}

/**
 * One request exactly as written (any Host, any method, any bytes in the
 * path), read to the end: what a hostile page or a DNS-rebinding attacker
 * can send, which fetch() would normalise or refuse to send.
 */
function raw(url: string, request: string): Promise<RawResponse> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [head = '', ...rest] = text.split('\r\n\r\n');
      const [statusLine = '', ...lines] = head.split('\r\n');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? NaN);
      const headers = new Map(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      resolve({ status, headers, body: rest.join('\r\n\r\n') });
    });
    socket.end(request);
  });
}

const get = (path: string, headers: string[]) => [`GET ${path} HTTP/1.1`, ...headers, 'Connection: close', '', ''].join('\r\n');

describe('herald preview --serve: hostile requests', () => {
  it('answers malformed requests with 400 and keeps serving', async () => {
    const { server } = await serve();
    const host = `Host: ${new URL(server.url).host}`;
    // Bad percent-encoding: decodeURIComponent throws URIError. An <img> on any page can send this.
    for (const path of ['/render/%E0%A4%A.html', '/render/%.html', '/render/%C0%AF.txt', '/%E0%A4%A']) {
      const r = await raw(server.url, get(path, [host]));
      expect(r.status, path).toBe(400);
    }
    // A request target that is not a path: absolute-form, asterisk-form.
    expect((await raw(server.url, get('http://evil.example/api/state', [host]))).status).toBe(400);
    expect((await raw(server.url, ['OPTIONS * HTTP/1.1', host, 'Connection: close', '', ''].join('\r\n'))).status).toBe(400);
    // A method HTTP does not know is malformed; one the server does not answer is refused.
    expect((await raw(server.url, ['BREW /api/state HTTP/1.1', host, 'Connection: close', '', ''].join('\r\n'))).status).toBe(400);
    const post = await raw(server.url, ['POST /api/state HTTP/1.1', host, 'Content-Length: 0', 'Connection: close', '', ''].join('\r\n'));
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect((await raw(server.url, get('/render/../../../etc/passwd.html', [host]))).status).toBe(404);
    expect((await raw(server.url, get('//evil.example/render/x.html', [host]))).status).toBe(404);

    // Still up, and still right.
    const r = await raw(server.url, get('/render/campaign-winback/shop-ru.ru.html', [host]));
    expect(r.status).toBe(200);
    expect(r.body).toContain('Здравствуйте, Ольга!');
  });

  it('answers only to loopback host names on its own port, so DNS rebinding reads nothing', async () => {
    const { server } = await serve();
    const { port } = new URL(server.url);
    for (const name of [`127.0.0.1:${port}`, `localhost:${port}`, `LocalHost:${port}`, `[::1]:${port}`]) {
      const r = await raw(server.url, get('/api/state', [`Host: ${name}`]));
      expect(r.status, name).toBe(200);
      expect(r.body).toContain('anna.schmidt@example.com');
    }
    for (const name of [`evil.example:${port}`, 'evil.example', `127.0.0.1.nip.io:${port}`, `localhost.:${port}`, 'localhost:1', 'localhost', `127.0.0.2:${port}`, `localhost:${port}@evil.example`]) {
      const r = await raw(server.url, get('/api/state', [`Host: ${name}`]));
      expect(r.status, name).toBe(403);
      expect(r.body).not.toContain('@example.com');
    }
    // HTTP/1.0 needs no Host header; the server wants one.
    const none = await raw(server.url, 'GET /api/state HTTP/1.0\r\n\r\n');
    expect(none.status).toBe(400);
    expect(none.body).not.toContain('@example.com');
    // The rendered messages too.
    expect((await raw(server.url, get('/render/campaign-winback/shop-ru.ru.html', ['Host: rebound.example']))).status).toBe(403);
  });

  it('refuses cross-origin reads of the state, the events and the rendered messages', async () => {
    const { server } = await serve();
    const host = `Host: ${new URL(server.url).host}`;
    const own = new URL(server.url).origin;
    for (const path of ['/api/state', '/events', '/render/campaign-winback/shop-ru.ru.html']) {
      for (const h of ['Sec-Fetch-Site: cross-site', 'Sec-Fetch-Site: same-site', 'Origin: http://evil.example', `Origin: ${own}.evil.example`, 'Origin: null']) {
        const r = await raw(server.url, get(path, [host, h]));
        expect(r.status, `${path} ${h}`).toBe(403);
        expect(r.body).not.toContain('@example.com');
      }
    }
    for (const h of ['Sec-Fetch-Site: same-origin', 'Sec-Fetch-Site: none', `Origin: ${own}`]) {
      expect((await raw(server.url, get('/api/state', [host, h]))).status, h).toBe(200);
    }
    // The page itself holds no data: a link from elsewhere opens it.
    expect((await raw(server.url, get('/', [host, 'Sec-Fetch-Site: cross-site']))).status).toBe(200);
    // A rendered message runs no script, and no other site may frame or embed what the server answers.
    const message = await raw(server.url, get('/render/campaign-winback/shop-ru.ru.html', [host]));
    expect(message.headers.get('content-security-policy')).toMatch(/\bsandbox\b/);
    expect(message.headers.get('cross-origin-resource-policy')).toBe('same-origin');
    expect(message.headers.get('x-frame-options')).toBe('SAMEORIGIN');
  });
});
