import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildPreview } from '../../src/preview/preview.js';
import { loadSamples } from '../../src/preview/samples.js';
import { loadWorkspace } from '../../src/workspace/load.js';
import { herald } from '../support/cli.js';
import { createTestDb } from '../support/db.js';
import { createShop } from '../support/shop.js';
import { useCleanups } from '../support/cleanup.js';
import { exampleWorkspace, MINIMAL, tempWorkspace } from '../support/workspace.js';

const NOW = new Date('2026-11-20T12:00:00Z');
const cleanup = useCleanups();

function example() {
  const ws = exampleWorkspace();
  cleanup(ws.remove);
  return ws;
}

function load(dir: string) {
  const { workspace, problems } = loadWorkspace(dir);
  if (!workspace) throw new Error(problems.map((p) => p.message).join('; '));
  return workspace;
}

describe('herald preview', () => {
  it('writes a grid of every campaign variant and trigger × site × locale, with each message and its text part', async () => {
    const ws = example();
    const out = join(ws.dir, 'preview');
    const r = await herald(['preview', '--dir', ws.dir, '--out', out, '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout) as { cells: { id: string; row: string; site: string; locale: string; subject: string; from: string; kb: number; html: string; text: string; problems: unknown[] }[] };
    const ids = summary.cells.map((c) => c.id);
    // winback and both A/B variants of shoe-care-week, on both sites, in both locales each.
    for (const row of ['campaign-winback', 'campaign-shoe-care-week.care-tips', 'campaign-shoe-care-week.discount']) {
      for (const cell of ['shop-en.en', 'shop-en.ru', 'shop-ru.ru', 'shop-ru.en']) expect(ids).toContain(`${row}/${cell}`);
    }
    expect(summary.cells.filter((c) => c.row.startsWith('trigger-')).length).toBeGreaterThanOrEqual(7);
    const discount = summary.cells.find((c) => c.id === 'campaign-shoe-care-week.discount/shop-ru.ru')!;
    expect(discount.subject).toBe('Скидка 15% на уход за обувью — только эту неделю');
    expect(discount.from).toBe('Нордвинд <news@shop.example.ru>');
    expect(discount.kb).toBeGreaterThan(5);
    expect(readFileSync(join(out, discount.html), 'utf8')).toContain('Здравствуйте, Ольга!');
    expect(readFileSync(join(out, discount.text), 'utf8')).toContain('Здравствуйте, Ольга!');

    const index = readFileSync(join(out, 'index.html'), 'utf8');
    expect(index).toContain('<th scope="row">campaign-shoe-care-week.discount</th>');
    expect(index).toContain('<th scope="col">shop-ru · ru</th>');
    expect(index).toContain('href="campaign-shoe-care-week.discount/shop-ru.ru.html"');
    expect(index).toContain('href="campaign-shoe-care-week.discount/shop-ru.ru.txt"');
    expect(index).toContain('Скидка 15% на уход за обувью');
    // Nothing is left behind but the preview itself.
    expect(readdirSync(ws.dir).filter((f) => f.startsWith('.preview-'))).toEqual([]);
  });

  it('takes samples from preview.yaml, one cell per sample customer of the locale', async () => {
    const ws = example();
    ws.write('templates/newsletter/preview.yaml', [
      'customers:',
      '  - { first_name: Zoë, email: zoe@example.com, locale: en }',
      '  - { email: nameless@example.com, locale: en }',
      '  - { first_name: Пётр, email: petr@example.com, locale: ru }',
      'products:',
      '  - { sku: X-1, name: Velvet Slipper, price: 12.5, url: "https://shop.example.com/p/x-1", image_url: "https://shop.example.com/i/x-1.jpg" }',
    ].join('\n'));
    const workspace = load(ws.dir);
    const out = join(ws.dir, 'preview');
    const { cells } = await buildPreview(workspace, { out, samples: await loadSamples(workspace), now: NOW });
    const winbackEn = cells.filter((c) => c.row === 'campaign-winback' && c.site === 'shop-en' && c.locale === 'en');
    expect(winbackEn.map((c) => c.recipient.email)).toEqual(['zoe@example.com', 'nameless@example.com']);
    expect(winbackEn[0]!.html).toContain('Dear Zoë,');
    // No first name: the generic greeting.
    expect(winbackEn[1]!.html).toContain('Hello,');
    expect(winbackEn[0]!.html).toContain('Velvet Slipper');
    expect(winbackEn[0]!.html).toContain('€12.50');
    const ru = cells.find((c) => c.row === 'campaign-winback' && c.site === 'shop-ru' && c.locale === 'ru')!;
    expect(ru.html).toContain('Здравствуйте, Пётр!');
    expect(ru.html).toContain('12,50\u00a0₽');
  });

  it("reports what the shop's data puts into a message: a link outside the site's domains is an error", async () => {
    const ws = example();
    const db = await createTestDb();
    cleanup(() => db.dispose());
    await createShop(db, {
      customers: [
        { id: 1, email: 'anna@example.com', first_name: 'Anna', site: 'shop-en', locale: 'en' },
        { id: 2, email: 'boris@example.org', first_name: 'Борис', site: 'shop-ru', locale: 'ru' },
      ],
      products: [{ sku: 'OW-001', category: 'outerwear', name: 'Wool Coat', price: 1249.5 }],
    });
    await db.query("UPDATE shop.products SET url = 'https://cheap-coats.example.net/wool', image_url = 'http://shop.example.com/coat.jpg'");
    const workspace = load(ws.dir);
    const samples = await loadSamples(workspace, { db });
    const { cells } = await buildPreview(workspace, { out: join(ws.dir, 'preview'), samples, now: NOW });
    const winback = cells.find((c) => c.id === 'campaign-winback/shop-en.en')!;
    expect(winback.recipient.email).toBe('anna@example.com');
    expect(winback.html).toContain('Dear Anna,');
    expect(winback.html).toContain('Wool Coat');
    expect(winback.problems).toEqual([
      { severity: 'warning', message: 'link uses http: http://shop.example.com/coat.jpg' },
      { severity: 'error', message: 'link to cheap-coats.example.net is outside the domains of shop-en' },
      // What a send does with it: the reviewer sees the product, and that its messages will not carry it.
      { severity: 'warning', message: "product OW-001 is left out when sent: its url's host cheap-coats.example.net is outside the domains of shop-en" },
    ]);
    // shop-ru sends with its customer Борис, and on a site whose locale has no customer, with its first one in that locale.
    expect(cells.find((c) => c.id === 'campaign-winback/shop-ru.ru')!.html).toContain('Здравствуйте, Борис!');
    expect(cells.find((c) => c.id === 'campaign-winback/shop-ru.en')!.html).toContain('Dear Борис,');
  });

  it('exits 1 after writing the grid when a rendered message has an error', async () => {
    const ws = tempWorkspace({
      ...MINIMAL,
      'templates/hello/en.mjml': '<mjml><mj-body><mj-section><mj-column><mj-text>{{ greeting }} {% for p in products %}<a href="{{ p.url }}">{{ p.name }}</a>{% endfor %} <a href="{{ links.unsubscribe }}">unsubscribe</a> {{ site.postal_address }}</mj-text></mj-column></mj-section></mj-body></mjml>\n',
      'templates/hello/preview.yaml': 'products:\n  - { sku: A, name: Lure, price: 1, url: "https://elsewhere.example.org/a" }\n',
    });
    cleanup(ws.remove);
    const r = await herald(['preview', '--dir', ws.dir, '--out', join(ws.dir, 'preview')]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('campaign-hello/main.en: error: link to elsewhere.example.org is outside the domains of main');
    expect(readFileSync(join(ws.dir, 'preview', 'index.html'), 'utf8')).toContain('link to elsewhere.example.org is outside the domains of main');
  });

  it('marks a product whose link a send would not carry', async () => {
    const ws = tempWorkspace({
      ...MINIMAL,
      'templates/hello/en.mjml': '<mjml><mj-body><mj-section><mj-column><mj-text>{{ greeting }} {% for p in products %}<a href="{{ p.url }}">{{ p.name }}</a>{% endfor %} <a href="{{ links.unsubscribe }}">unsubscribe</a> {{ site.postal_address }}</mj-text></mj-column></mj-section></mj-body></mjml>\n',
      'templates/hello/preview.yaml': 'products:\n  - { sku: A, name: Lure, price: 1, url: "javascript:alert(1)" }\n',
    });
    cleanup(ws.remove);
    const r = await herald(['preview', '--dir', ws.dir, '--out', join(ws.dir, 'preview')]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('campaign-hello/main.en: warning: product A is left out when sent: its url "javascript:alert(1)" is not an http(s) link');
    expect(r.code).toBe(0);
  });

  it('--changed-since previews only what a change touches: a partial, a campaign, herald.yaml, a new template', async () => {
    const ws = example();
    const git = (...args: string[]) => execFileSync('git', ['-C', ws.dir, ...args], { encoding: 'utf8' });
    git('init', '-q', '-b', 'main');
    git('-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-q', '--allow-empty', '-m', 'empty');
    git('add', '.');
    git('-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-q', '-m', 'base');
    const rows = async () => {
      const r = await herald(['preview', '--dir', ws.dir, '--out', join(ws.dir, '.herald', 'preview'), '--changed-since', 'main', '--json']);
      expect(r.stderr).toBe('');
      return [...new Set((JSON.parse(r.stdout) as { cells: { row: string }[] }).cells.map((c) => c.row))].sort();
    };
    expect(await rows()).toEqual([]);

    // The product grid partial: the newsletter, back-in-stock and cross-sell templates include it.
    const grid = join(ws.dir, 'templates/_partials/product-grid.mjml');
    writeFileSync(grid, readFileSync(grid, 'utf8').replace('<mj-section', '<!-- changed -->\n<mj-section'));
    expect(await rows()).toEqual([
      'campaign-shoe-care-week.care-tips',
      'campaign-shoe-care-week.discount',
      'campaign-winback',
      'trigger-back-in-stock',
      'trigger-shoe-care-cross-sell',
    ]);
    git('checkout', '-q', '--', '.');

    const winback = join(ws.dir, 'campaigns/winback.yaml');
    writeFileSync(winback, readFileSync(winback, 'utf8').replace('We miss you', 'We still miss you'));
    expect(await rows()).toEqual(['campaign-winback']);
    git('checkout', '-q', '--', '.');

    // A new template nothing uses yet is previewed on every site.
    ws.write('templates/sale/template.yaml', 'subject:\n  en: Sale\n  ru: Распродажа\n');
    ws.write('templates/sale/en.mjml', MINIMAL['templates/hello/en.mjml']!);
    ws.write('templates/sale/ru.mjml', MINIMAL['templates/hello/en.mjml']!);
    expect(await rows()).toEqual(['template-sale']);

    const project = join(ws.dir, 'herald.yaml');
    writeFileSync(project, readFileSync(project, 'utf8').replace('primary_color: "#0b3954"', 'primary_color: "#123456"'));
    expect((await rows()).length).toBeGreaterThanOrEqual(11);

    const bad = await herald(['preview', '--dir', ws.dir, '--changed-since', 'no-such-branch']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('git cannot compare with "no-such-branch"');
    expect(bad.stderr).not.toMatch(/\n\s+at /);
  });

  it('--screenshots adds 600 px and 375 px PNGs of each message, taken with the system Chromium', async () => {
    const ws = tempWorkspace(MINIMAL);
    cleanup(ws.remove);
    const out = join(ws.dir, 'preview');
    const r = await herald(['preview', '--dir', ws.dir, '--out', out, '--screenshots']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const width = (file: string) => readFileSync(join(out, file)).readUInt32BE(16); // the PNG IHDR's width
    expect(width('campaign-hello/main.en.desktop.png')).toBe(600);
    expect(width('campaign-hello/main.en.mobile.png')).toBe(375);
    expect(readFileSync(join(out, 'index.html'), 'utf8')).toContain('<img class="shot" src="campaign-hello/main.en.desktop.png"');
  });

  it('a failed run leaves the previous preview whole, and names the missing browser', async () => {
    const ws = tempWorkspace(MINIMAL);
    cleanup(ws.remove);
    const out = join(ws.dir, 'preview');
    expect((await herald(['preview', '--dir', ws.dir, '--out', out])).code).toBe(0);
    const before = readFileSync(join(out, 'index.html'), 'utf8');
    ws.write('templates/hello/template.yaml', 'subject:\n  en: Changed {{ customer.first_name }}\n');
    const r = await herald(['preview', '--dir', ws.dir, '--out', out, '--screenshots'], { HERALD_CHROMIUM: '/nonexistent/chromium' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no Chromium at /nonexistent/chromium');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(readFileSync(join(out, 'index.html'), 'utf8')).toBe(before);
    expect(readdirSync(ws.dir).filter((f) => f.startsWith('.preview-'))).toEqual([]);
    expect(existsSync(join(out, 'campaign-hello/main.en.desktop.png'))).toBe(false);
  });
});

describe('herald preview --out: the folder it replaces', () => {
  /** A scratch folder outside any workspace, removed after the test. */
  function scratch() {
    const dir = mkdtempSync(join(tmpdir(), 'herald-out-'));
    cleanup(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
  }

  it('refuses the workspace, a folder holding it, a folder inside .git, a file, a link and a folder it did not write; and touches none of them', async () => {
    const ws = tempWorkspace(MINIMAL);
    cleanup(ws.remove);
    ws.write('.git/HEAD', 'ref: refs/heads/main\n');
    const foreign = scratch();
    writeFileSync(join(foreign, 'notes.txt'), 'keep me');
    const link = join(scratch(), 'link');
    symlinkSync(foreign, link);
    const cases: [string, string][] = [
      ['.', 'is the workspace'],
      [ws.dir, 'is the workspace'],
      [dirname(ws.dir), 'holds the workspace'],
      ['templates', 'is a folder herald preview did not write'],
      ['.git', "is in git's own folder (.git)"],
      ['.git/preview', "is in git's own folder (.git)"],
      ['herald.yaml', 'is a file'],
      [foreign, 'is a folder herald preview did not write'],
      [link, 'is a symbolic link'],
    ];
    for (const [out, message] of cases) {
      const r = await herald(['preview', '--dir', ws.dir, '--out', out]);
      expect(r.code, `${out}: ${r.stderr}`).toBe(1);
      expect(r.stderr, out).toContain(message);
      expect(r.stderr, out).toContain('hint: ');
      expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
    }
    expect(readFileSync(join(ws.dir, 'herald.yaml'), 'utf8')).toBe(MINIMAL['herald.yaml']);
    expect(readFileSync(join(ws.dir, 'templates/hello/en.mjml'), 'utf8')).toBe(MINIMAL['templates/hello/en.mjml']);
    expect(readdirSync(join(ws.dir, '.git'))).toEqual(['HEAD']);
    expect(readFileSync(join(foreign, 'notes.txt'), 'utf8')).toBe('keep me');
    expect(readdirSync(ws.dir).filter((f) => f.startsWith('.'))).toEqual(['.git']);
  });

  it('writes into a new or empty folder, and replaces a preview it wrote before', async () => {
    const ws = tempWorkspace(MINIMAL);
    cleanup(ws.remove);
    const empty = scratch();
    for (const out of [empty, join(empty, 'a', 'b'), relative(ws.dir, join(ws.dir, 'previews', 'pr-1'))]) {
      for (let i = 0; i < 2; i++) {
        const r = await herald(['preview', '--dir', ws.dir, '--out', out]);
        expect(r.code, r.stderr).toBe(0);
        expect(existsSync(join(ws.dir, out, 'index.html')) || existsSync(join(out, 'index.html'))).toBe(true);
      }
    }
  });

  it('refuses a .herald, or a .herald/preview, that is a link, and leaves where it leads alone', async () => {
    for (const linked of ['.herald', '.herald/preview']) {
      const ws = tempWorkspace(MINIMAL);
      cleanup(ws.remove);
      const outside = scratch();
      mkdirSync(join(outside, 'preview'));
      // Marked as a preview, as a folder herald wrote is: the link is refused all the same.
      writeFileSync(join(outside, 'preview', 'preview.json'), '{ "generated_at": "2026-11-20T12:00:00.000Z", "cells": [] }');
      writeFileSync(join(outside, 'preview', 'keep.txt'), 'keep me');
      mkdirSync(join(ws.dir, dirname(linked)), { recursive: true });
      symlinkSync(linked === '.herald' ? outside : join(outside, 'preview'), join(ws.dir, linked));
      const r = await herald(['preview', '--dir', ws.dir]);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toContain(`${linked} in the workspace is a symbolic link`);
      expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
      expect(readFileSync(join(outside, 'preview', 'keep.txt'), 'utf8')).toBe('keep me');
      expect(readdirSync(outside)).toEqual(['preview']);
    }
  });
});

describe('herald preview: the HTML it writes runs no script', () => {
  it('puts a Content-Security-Policy first in every HTML file: each message, SMS and push page, and the index', async () => {
    const ws = example();
    const file = join(ws.dir, 'templates/newsletter/en.mjml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('<mj-text>{{ greeting }}</mj-text>', '<mj-text>{{ greeting }}<script>document.title = "ran"</script></mj-text>'));
    const out = join(ws.dir, 'preview');
    const r = await herald(['preview', '--dir', ws.dir, '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout) as { cells: { html: string; channel: string }[] };
    expect(new Set(summary.cells.map((c) => c.channel))).toEqual(new Set(['email', 'sms', 'push']));
    const pages = ['index.html', ...summary.cells.map((c) => c.html)];
    for (const page of pages) {
      const html = readFileSync(join(out, page), 'utf8');
      expect(html, page).toMatch(/^<!doctype html>\s*<meta http-equiv="Content-Security-Policy" content="default-src 'none'; [^"]*">/i);
      expect(html, page).toContain("script-src 'none'");
    }
    // The template's script is still in the message, as it would be sent: the policy is what stops it.
    expect(pages.some((page) => readFileSync(join(out, page), 'utf8').includes('<script>document.title = "ran"</script>'))).toBe(true);
  });
});
