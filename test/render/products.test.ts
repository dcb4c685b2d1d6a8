import { followLinks } from '../support/links.js';
import { describe, expect, it } from 'vitest';
import { silentLog } from '../../src/log.js';
import { reportMarkdown, reportText } from '../../src/report/report.js';
import { campaignReport } from '../../src/report/write.js';
import { checkProducts, type ProductRow } from '../../src/render/products.js';
import { sendCampaign } from '../../src/campaigns/send.js';
import { smtpTransport } from '../../src/channels/email/transport.js';
import { applyDir } from '../support/apply.js';
import { useCleanups } from '../support/cleanup.js';
import { createTestDb } from '../support/db.js';
import { createShop } from '../support/shop.js';
import { startSmtpSink } from '../support/smtp.js';
import { exampleWorkspace } from '../support/workspace.js';

const NOW = new Date('2026-11-20T12:00:00Z');
const cleanup = useCleanups();

const SITES = [
  { site: 'shop-en', hosts: ['shop.example.com', 'mail.shop.example.com'] },
  { site: 'shop-ru', hosts: ['shop.example.ru', 'shop.example.com', 'cdn.example.net', 'mail.shop.example.com'] },
];

function row(over: Partial<ProductRow>): ProductRow {
  return { sku: 'X-1', name: 'Boot', category: 'shoes', price: '10', currency: 'EUR', url: 'https://shop.example.com/p/x-1', image_url: 'https://shop.example.com/i/x-1.jpg', ...over };
}

describe('checkProducts: what shop data a message may carry', () => {
  it('keeps http(s) links and images on every site of the message, normalised as checked', () => {
    const { products, leftOut } = checkProducts(
      [
        row({ sku: 'A', url: 'https://shop.example.com/p/a' }),
        // A subdomain of the site, and plain http (preview warns about http; it is not dropped).
        row({ sku: 'B', url: 'http://www.shop.example.com/p/b', image_url: null }),
        // What a reader's client sees is what was checked: a backslash is a slash to a browser.
        row({ sku: 'C', url: 'https://shop.example.com\\@evil.example/c', image_url: '  https://SHOP.example.com/i/c.jpg ' }),
        row({ sku: 'D', url: null, image_url: '' }),
      ],
      [SITES[0]!],
    );
    expect(leftOut).toEqual([]);
    expect(products.map((p) => [p.sku, p.url, p.image_url])).toEqual([
      ['A', 'https://shop.example.com/p/a', 'https://shop.example.com/i/x-1.jpg'],
      ['B', 'http://www.shop.example.com/p/b', null],
      ['C', 'https://shop.example.com/@evil.example/c', 'https://shop.example.com/i/c.jpg'],
      ['D', null, null],
    ]);
  });

  it('leaves out a product whose link is not http(s), or whose link or image is off the domains of any site', () => {
    const { products, leftOut } = checkProducts(
      [
        row({ sku: 'JS', url: 'javascript:alert(1)' }),
        row({ sku: 'JS2', url: ' \tJaVaScRiPt:alert(document.domain)' }),
        row({ sku: 'DATA', image_url: 'data:image/svg+xml,<svg onload=alert(1)>' }),
        row({ sku: 'REL', url: '/p/relative' }),
        row({ sku: 'CRED', url: 'https://shop.example.com@evil.example/x' }),
        row({ sku: 'USER', url: 'https://user:pw@shop.example.com/x' }),
        row({ sku: 'IMG', image_url: 'https://images.evil.example/boot.jpg' }),
        // Allowed on shop-ru (its domains), not on shop-en: a message for both sites leaves it out.
        row({ sku: 'CDN', image_url: 'https://cdn.example.net/boot.jpg' }),
        row({ sku: 'LOOK', url: 'https://shop.example.com.evil.example/p' }),
        row({ sku: 'CTRL', url: 'javascript:\u001b[31mred\u0007\u009b2J\u202e' }),
        row({ sku: 'OK' }),
      ],
      SITES,
    );
    expect(products.map((p) => p.sku)).toEqual(['OK']);
    expect(leftOut).toEqual([
      { sku: 'JS', reason: 'its url "javascript:alert(1)" is not an http(s) link' },
      { sku: 'JS2', reason: 'its url " \\tJaVaScRiPt:alert(document.domain)" is not an http(s) link' },
      { sku: 'DATA', reason: 'its image_url "data:image/svg+xml,<svg onload=alert(1)>" is not an http(s) link' },
      { sku: 'REL', reason: 'its url "/p/relative" is not an http(s) link' },
      { sku: 'CRED', reason: 'its url\'s host evil.example is outside the domains of shop-en, shop-ru' },
      { sku: 'USER', reason: 'its url on shop.example.com has a user name or password in it' },
      { sku: 'IMG', reason: 'its image_url\'s host images.evil.example is outside the domains of shop-en, shop-ru' },
      { sku: 'CDN', reason: 'its image_url\'s host cdn.example.net is outside the domains of shop-en' },
      { sku: 'LOOK', reason: 'its url\'s host shop.example.com.evil.example is outside the domains of shop-en, shop-ru' },
      { sku: 'CTRL', reason: 'its url "javascript:\\u001b[31mred\\u0007\\u009b2J\\u202e" is not an http(s) link' },
    ]);
  });

  it('quotes a long value shortened', () => {
    const { leftOut } = checkProducts([row({ url: `javascript:${'x'.repeat(500)}` })], SITES);
    expect(leftOut[0]!.reason.length).toBeLessThan(140);
    expect(leftOut[0]!.reason).toContain('…');
  });
});

describe('a send with hostile shop data', () => {
  it('leaves a javascript: link and an off-domain image out of every message, and the report counts them', async () => {
    const db = await createTestDb();
    const ws = exampleWorkspace();
    const sink = await startSmtpSink();
    const transport = smtpTransport(sink.url);
    cleanup(() => db.dispose(), ws.remove, () => sink.close(), () => transport.close());
    process.env.HERALD_SECRET = 'test-secret-test-secret-test-secret!';
    cleanup(() => void delete process.env.HERALD_SECRET);
    await createShop(db, {
      customers: [
        { id: 1, email: 'anna@example.com', first_name: 'Anna' },
        { id: 2, email: 'boris@example.org', first_name: 'Борис', site: 'shop-ru', locale: 'ru' },
      ],
      products: [
        { sku: 'OW-001', category: 'outerwear', name: 'Wool Coat', price: 1249.5 },
        { sku: 'SH-001', category: 'shoes', name: 'Trail Boot', price: 129.9 },
        { sku: 'BG-001', category: 'bags', name: 'Tote', price: 99 },
        { sku: 'AC-002', category: 'accessories', name: 'Scarf', price: 39 },
      ],
      orders: [1, 2].map((c) => ({ id: c, customer_id: c, created_at: '2025-01-10T10:00:00Z' })),
    });
    await db.query(
      `UPDATE shop.products SET url = 'https://shop.example.com/p/' || lower(sku), image_url = 'https://shop.example.com/i/' || lower(sku) || '.jpg'`,
    );
    await db.query(`UPDATE shop.products SET url = 'javascript:alert(1)' WHERE sku = 'OW-001'`);
    await db.query(`UPDATE shop.products SET image_url = 'https://images.evil.example/boot.jpg' WHERE sku = 'SH-001'`);
    // winback sends for shop-en and shop-ru; of two customers, its 5% control group holds out nobody.
    const plan = await applyDir(db, ws.dir, { now: NOW });

    const result = await sendCampaign(db, { campaign: 'winback', transport, now: NOW, log: silentLog });
    expect(result).toMatchObject({ sent: 2, failed: 0, completed: true });
    expect(sink.messages).toHaveLength(2);
    for (const m of sink.messages) {
      // Where its links lead, through the click tracking.
      const html = await followLinks(db, String(m.html));
      const text = await followLinks(db, m.text ?? '');
      expect(html).toContain('Tote');
      expect(html).toContain('https://shop.example.com/p/bg-001');
      expect(html).toContain('Scarf');
      for (const gone of ['javascript:', 'images.evil.example', 'Wool Coat', 'Trail Boot']) {
        expect(html).not.toContain(gone);
        expect(text).not.toContain(gone);
      }
    }

    expect(plan.warnings).toContain('campaign/winback: product OW-001 is left out of its messages: its url "javascript:alert(1)" is not an http(s) link');
    expect(plan.warnings).toContain("campaign/winback: product SH-001 is left out of its messages: its image_url's host images.evil.example is outside the domains of shop-en, shop-ru");

    const report = await campaignReport(db, 'winback');
    expect(report.products_left_out).toEqual([
      { sku: 'OW-001', reason: 'its url "javascript:alert(1)" is not an http(s) link' },
      { sku: 'SH-001', reason: "its image_url's host images.evil.example is outside the domains of shop-en, shop-ru" },
    ]);
    expect(reportText(report)).toContain('products   2 left out (OW-001, SH-001)');
    const md = reportMarkdown(report);
    expect(md).toContain('## Products left out');
    expect(md).toContain('| OW-001 | its url "javascript:alert(1)" is not an http(s) link |');
  });
});
