import { describe, expect, it } from 'vitest';
import type { Queryable } from '../../src/db/db.js';
import { loadSamples } from '../../src/preview/samples.js';
import { createRenderer, type Recipient } from '../../src/render/message.js';
import { loadTriggerExtras, type TriggerRow } from '../../src/triggers/extras.js';
import { loadWorkspace } from '../../src/workspace/load.js';
import type { Workspace } from '../../src/workspace/model.js';
import { messageSource, templateUses, workingTemplates } from '../../src/workspace/uses.js';
import { useCleanups } from '../support/cleanup.js';
import { createTestDb } from '../support/db.js';
import { createShop } from '../support/shop.js';
import { exampleWorkspace } from '../support/workspace.js';

const cleanup = useCleanups();
const NOW = new Date('2026-11-20T12:00:00Z');

/** The repository's example workspace: shop-en (EUR, https://shop.example.com) and shop-ru (RUB), Europe/Berlin. */
function example(files: Record<string, string> = {}): Workspace {
  const ws = exampleWorkspace();
  cleanup(ws.remove);
  for (const [path, content] of Object.entries(files)) ws.write(path, content);
  const { workspace, problems } = loadWorkspace(ws.dir);
  if (!workspace) throw new Error(problems.map((p) => p.message).join('; '));
  return workspace;
}

/** The shop: a catalogue with links on the English storefront's host, carts, orders. */
async function shop(): Promise<Queryable & { count(): number }> {
  const db = await createTestDb();
  cleanup(() => db.dispose());
  await createShop(db, {
    customers: [1, 2, 3, 4, 5].map((id) => ({ id, email: `c${id}@example.com` })),
    products: [
      { sku: 'SH-001', name: 'Trail Boot', category: 'shoes', price: 129.9 },
      { sku: 'SK-001', name: 'Wool Socks', category: 'socks', price: 9.95 },
      { sku: 'RU-BOOT', name: 'Ботинки', category: 'shoes', price: 12990 },
      { sku: 'RU-SOCK', name: 'Носки', category: 'socks', price: 995 },
      { sku: 'BG-001', name: 'Tote', category: 'bags', price: 59 },
      { sku: 'CR-001', name: 'Balm', category: 'care', price: 5 },
      { sku: 'CR-002', name: 'Brush', category: 'care', price: 8 },
      { sku: 'CR-003', name: 'Spray', category: 'care', price: 3, in_stock: false },
      { sku: 'CR-004', name: 'Wax', category: 'care', price: 9 },
      { sku: 'CR-005', name: 'Cream', category: 'care', price: 12 },
      { sku: 'CR-006', name: 'Trees', category: 'care', price: 15 },
      { sku: 'CR-007', name: 'Kit', category: 'care', price: 20 },
    ],
    carts: [
      { id: 11, customer_id: 1, updated_at: '2026-11-20T08:00:00Z' },
      { id: 12, customer_id: 2, updated_at: '2026-11-20T08:00:00Z', site: 'shop-ru' },
    ],
    cart_items: [
      { cart_id: 11, sku: 'SK-001', quantity: 2 },
      { cart_id: 11, sku: 'SH-001', quantity: 1 },
      { cart_id: 12, sku: 'RU-BOOT', quantity: 1 },
      { cart_id: 12, sku: 'RU-SOCK', quantity: 2 },
      // A line whose product the catalogue lacks: nothing to show.
      { cart_id: 12, sku: 'GONE', quantity: 1 },
    ],
    orders: [
      // Late on the 18th in UTC: already the 19th in Berlin.
      { id: 31, customer_id: 3, total: 408, status: 'paid', created_at: '2026-11-18T23:30:00Z' },
      { id: 41, customer_id: 4, total: 129.9, status: 'delivered', created_at: '2026-11-10T10:00:00Z' },
      { id: 42, customer_id: 4, total: 8, status: 'delivered', created_at: '2026-10-01T10:00:00Z' },
    ],
    order_items: [
      // The price paid, not today's.
      { order_id: 31, sku: 'SH-001', quantity: 1, price: 119 },
      { order_id: 31, sku: 'SK-001', quantity: 2, price: 9.5 },
      { order_id: 41, sku: 'SH-001', quantity: 1, price: 129.9 },
      { order_id: 42, sku: 'CR-002', quantity: 1, price: 8 },
    ],
  });
  await db.exec(`
    UPDATE shop.products SET url = 'https://shop.example.com/p/' || lower(sku), image_url = 'https://shop.example.com/i/' || lower(sku) || '.jpg';
    UPDATE shop.products SET currency = 'RUB' WHERE sku LIKE 'RU-%';
    UPDATE shop.products SET url = 'javascript:alert(1)' WHERE sku = 'CR-004';
    UPDATE shop.products SET image_url = 'https://cdn.evil.example.net/tote.jpg' WHERE sku = 'BG-001';
  `);
  // Counts the statements the loader runs.
  let n = 0;
  return {
    query: <R,>(text: string, values?: unknown[]) => (n++, db.query<R>(text, values)),
    exec: (script: string) => db.exec(script),
    count: () => n,
  };
}

const row = (id: number, customer_id: number, payload: unknown, site = 'shop-en', locale = 'en'): TriggerRow => ({ id, customer_id, site, locale, payload });
/** Intl's spaces (U+00A0, U+202F) as plain ones, for readable expectations. */
const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v).replace(/[\u00a0\u202f]/g, ' '));

describe('loadTriggerExtras', () => {
  it('cart_abandoned: the cart\'s lines, its total for the locale and currency, and the link back, in one statement', async () => {
    const db = await shop();
    const ws = example();
    const rows = [
      row(1, 1, { cart_id: 11, version: '2026-11-20T08:00:00.000Z' }),
      row(2, 2, { cart_id: 12, version: '2026-11-20T08:00:00.000Z' }, 'shop-ru', 'ru'),
      // The same cart for a reader of the other language.
      row(3, 1, { cart_id: 11, version: '2026-11-20T08:00:00.000Z' }, 'shop-en', 'ru'),
      row(4, 2, { cart_id: 12, version: '2026-11-20T08:00:00.000Z' }, 'shop-ru', 'en'),
    ];
    const extras = await loadTriggerExtras(db, { schema: 'shop', project: ws.project.spec, trigger: ws.triggers.get('abandoned-cart')!.spec, name: 'abandoned-cart', rows });
    expect(db.count()).toBe(1);
    expect(extras.get(1)).toEqual({
      products: [],
      leftOut: [],
      cart: {
        items: [
          { sku: 'SH-001', name: 'Trail Boot', category: 'shoes', url: 'https://shop.example.com/p/sh-001', image_url: 'https://shop.example.com/i/sh-001.jpg', price: '€129.90', quantity: 1 },
          { sku: 'SK-001', name: 'Wool Socks', category: 'socks', url: 'https://shop.example.com/p/sk-001', image_url: 'https://shop.example.com/i/sk-001.jpg', price: '€9.95', quantity: 2 },
        ],
        total: '€149.80',
        url: 'https://shop.example.com/cart',
      },
    });
    const ru = plain(extras.get(2)) as { cart: { items: { name: string; price: string }[]; total: string; url: string } };
    expect(ru.cart.items.map((i) => [i.name, i.price])).toEqual([['Ботинки', '12 990,00 ₽'], ['Носки', '995,00 ₽']]);
    expect(ru.cart.total).toBe('14 980,00 ₽');
    expect(ru.cart.url).toBe('https://shop.example.ru/cart');
    expect((plain(extras.get(3)) as typeof ru).cart.total).toBe('149,80 €');
    expect((plain(extras.get(4)) as typeof ru).cart.total).toBe('RUB 14,980.00');
  });

  it('order_total_over: the order, its total as charged, its date in the site\'s time zone, its lines at the price paid', async () => {
    const db = await shop();
    const ws = example();
    const rows = [row(1, 3, { order_id: 31 }), row(2, 3, { order_id: 31 }, 'shop-en', 'ru')];
    const extras = await loadTriggerExtras(db, { schema: 'shop', project: ws.project.spec, trigger: ws.triggers.get('big-order-thanks')!.spec, name: 'big-order-thanks', rows });
    expect(db.count()).toBe(2);
    expect(extras.get(1)).toEqual({
      products: [],
      leftOut: [],
      order: {
        id: '31',
        total: '€408.00',
        created_at: 'November 19, 2026',
        items: [
          { sku: 'SH-001', name: 'Trail Boot', category: 'shoes', url: 'https://shop.example.com/p/sh-001', image_url: 'https://shop.example.com/i/sh-001.jpg', price: '€119.00', quantity: 1 },
          { sku: 'SK-001', name: 'Wool Socks', category: 'socks', url: 'https://shop.example.com/p/sk-001', image_url: 'https://shop.example.com/i/sk-001.jpg', price: '€9.50', quantity: 2 },
        ],
      },
    });
    expect(plain(extras.get(2))).toMatchObject({ order: { total: '408,00 €', created_at: '19 ноября 2026 г.' } });
  });

  it('back_in_stock: the product that came back; one with an off-domain image is left out and listed', async () => {
    const db = await shop();
    const ws = example();
    const rows = [row(1, 5, { sku: 'SH-001', back_at: '2026-11-20T08:00:00.000Z' }), row(2, 5, { sku: 'BG-001', back_at: '2026-11-20T08:00:00.000Z' })];
    const extras = await loadTriggerExtras(db, { schema: 'shop', project: ws.project.spec, trigger: ws.triggers.get('back-in-stock')!.spec, name: 'back-in-stock', rows });
    expect(db.count()).toBe(1);
    expect(extras.get(1)).toEqual({
      products: [{ sku: 'SH-001', name: 'Trail Boot', category: 'shoes', url: 'https://shop.example.com/p/sh-001', image_url: 'https://shop.example.com/i/sh-001.jpg', price: '€129.90' }],
      leftOut: [],
    });
    expect(extras.get(2)).toEqual({ products: [], leftOut: [{ sku: 'BG-001', reason: "its image_url's host cdn.evil.example.net is outside the domains of shop-en" }] });
  });

  it('cross_sell_after_purchase: the order, and the cheapest in-stock care products not yet bought; a javascript: link is left out', async () => {
    const db = await shop();
    const ws = example();
    const rows = [row(1, 4, { order_id: 41 }), row(2, 3, { order_id: 31 })];
    const extras = await loadTriggerExtras(db, { schema: 'shop', project: ws.project.spec, trigger: ws.triggers.get('shoe-care-cross-sell')!.spec, name: 'shoe-care-cross-sell', rows });
    // Orders, their lines, the recommendations: one statement each for the whole batch.
    expect(db.count()).toBe(3);
    const four = extras.get(1)!;
    // Brush is bought, Spray out of stock; of the four cheapest left, Wax links to javascript:.
    expect(four.products.map((p) => [p.sku, p.price])).toEqual([['CR-001', '€5.00'], ['CR-005', '€12.00'], ['CR-006', '€15.00']]);
    expect(four.leftOut).toEqual([{ sku: 'CR-004', reason: 'its url "javascript:alert(1)" is not an http(s) link' }]);
    expect(four.order).toMatchObject({ id: '41', total: '€129.90', items: [{ sku: 'SH-001', quantity: 1 }] });
    // Another customer, who bought no care product yet.
    expect(extras.get(2)!.products.map((p) => p.sku)).toEqual(['CR-001', 'CR-002', 'CR-005']);
  });

  it('sql: the payload\'s event as event tokens; birthday and the welcome carry no event data', async () => {
    const db = await shop();
    const ws = example();
    const project = ws.project.spec;
    const sql = await loadTriggerExtras(db, {
      schema: 'shop',
      project,
      trigger: ws.triggers.get('review-request')!.spec,
      name: 'review-request',
      rows: [row(1, 1, { event: { order_id: 7, note: '<b>hi</b>' } }), row(2, 2, { event: null }), row(3, 3, { event: [1, 2] })],
    });
    expect(sql.get(1)).toEqual({ products: [], leftOut: [], event: { order_id: 7, note: '<b>hi</b>' } });
    expect(sql.get(2)).toEqual({ products: [], leftOut: [], event: {} });
    expect(sql.get(3)).toEqual({ products: [], leftOut: [], event: {} });
    for (const name of ['birthday', 'welcome']) {
      const got = await loadTriggerExtras(db, { schema: 'shop', project, trigger: ws.triggers.get(name)!.spec, name, rows: [row(1, 1, { year: 2026, birthday: '1990-03-12' })] });
      expect(got.get(1)).toEqual({ products: [], leftOut: [] });
    }
    expect(db.count()).toBe(0);
  });

  it('refuses a payload without what its event needs, naming the message and the trigger', async () => {
    const db = await shop();
    const ws = example();
    await expect(loadTriggerExtras(db, { schema: 'shop', project: ws.project.spec, trigger: ws.triggers.get('abandoned-cart')!.spec, name: 'abandoned-cart', rows: [row(9, 1, { version: 'x' })] })).rejects.toThrow(
      'message 9 of trigger abandoned-cart has no cart_id in its payload: {"version":"x"}',
    );
    await expect(loadTriggerExtras(db, { schema: 'shop', project: ws.project.spec, trigger: ws.triggers.get('back-in-stock')!.spec, name: 'back-in-stock', rows: [row(9, 1, { sku: 'SH-001' }, 'shop-de')] })).rejects.toThrow(
      'message 9 of trigger back-in-stock is on site "shop-de", which herald.yaml does not have',
    );
  });
});

describe('trigger messages', () => {
  const anna: Recipient = { customer_id: 1, email: 'anna@example.com', first_name: 'Anna', last_name: 'Schmidt', site: 'shop-en', locale: 'en' };

  it('render the cart\'s lines with the example\'s abandoned-cart template', async () => {
    const db = await shop();
    const ws = example();
    const extras = await loadTriggerExtras(db, {
      schema: 'shop',
      project: ws.project.spec,
      trigger: ws.triggers.get('abandoned-cart')!.spec,
      name: 'abandoned-cart',
      rows: [row(1, 1, { cart_id: 11, version: '2026-11-20T08:00:00.000Z' }), row(2, 2, { cart_id: 12, version: '2026-11-20T08:00:00.000Z' }, 'shop-ru', 'ru')],
    });
    const use = templateUses(ws).find((u) => u.kind === 'trigger' && u.name === 'abandoned-cart')!;
    const source = messageSource(use, workingTemplates(ws));
    const renderer = createRenderer({ project: ws.project.spec, secret: 'x'.repeat(32), now: NOW });

    const en = await renderer.render(source, anna, extras.get(1)!);
    for (const s of ['Trail Boot', '€129.90', 'Wool Socks', '€9.95', 'Total: €149.80', 'href="https://shop.example.com/cart"', 'src="https://shop.example.com/i/sh-001.jpg"']) expect(en.html).toContain(s);
    expect(en.html.indexOf('Trail Boot')).toBeLessThan(en.html.indexOf('Wool Socks'));
    expect(en.text).toContain('Wool Socks');

    const ru = await renderer.render(source, { ...anna, customer_id: 2, first_name: 'Ольга', site: 'shop-ru', locale: 'ru' }, extras.get(2)!);
    const html = ru.html.replace(/[\u00a0\u202f]/g, ' ');
    for (const s of ['Ботинки', '12 990,00 ₽', 'Носки', '14 980,00 ₽', 'href="https://shop.example.ru/cart"']) expect(html).toContain(s);
  });

  it('print an sql trigger\'s event values as text', async () => {
    const ws = example();
    const body = (inner: string) => `<mjml><mj-body><mj-section><mj-column><mj-text>${inner}</mj-text></mj-column></mj-section></mj-body></mjml>`;
    const renderer = createRenderer({ project: ws.project.spec, secret: 'x'.repeat(32), now: NOW });
    const source = {
      kind: 'trigger' as const,
      name: 'review',
      title: 'Review',
      personalizedGreeting: true,
      templateName: 'review',
      template: { subject: { en: 'Order {{ event.order_id }}' }, bodies: { en: body('Note: {{ event.note }}. {{ event.missing }}{{ event.constructor }}') } },
    };
    const m = await renderer.render(source, anna, { products: [], event: { order_id: 7, note: '<b>hi</b>' } });
    expect(m.subject).toBe('Order 7');
    expect(m.html).toContain('Note: &lt;b&gt;hi&lt;/b&gt;. ');
    expect(m.html).not.toContain('function');
  });
});

describe('preview samples', () => {
  /** Keys all the way down, and the type of each value: what a template can rely on. */
  const shape = (v: unknown): unknown =>
    Array.isArray(v) ? [shape(v[0])] : v !== null && typeof v === 'object' ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)).map(([k, x]) => [k, shape(x)])) : typeof v;

  it('have the shape of a trigger message\'s cart and order', async () => {
    const db = await shop();
    const ws = example();
    const samples = await loadSamples(ws);
    const site = ws.project.spec.sites[0]!;
    const uses = templateUses(ws);
    const sample = (name: string) => samples.extras(uses.find((u) => u.kind === 'trigger' && u.name === name)!, site, 'en');
    const load = (name: string, payload: unknown) =>
      loadTriggerExtras(db, { schema: 'shop', project: ws.project.spec, trigger: ws.triggers.get(name)!.spec, name, rows: [row(1, 4, payload)] }).then((m) => m.get(1)!);

    const cart = await load('abandoned-cart', { cart_id: 11, version: '2026-11-20T08:00:00.000Z' });
    expect(shape(cart.cart)).toEqual(shape(sample('abandoned-cart').cart));
    const order = await load('big-order-thanks', { order_id: 41 });
    expect(shape(order.order)).toEqual(shape(sample('big-order-thanks').order));
    expect(sample('big-order-thanks').order!.created_at).toBe('November 18, 2026');
    const xsell = await load('shoe-care-cross-sell', { order_id: 41 });
    expect(shape(xsell.products)).toEqual(shape(sample('shoe-care-cross-sell').products));
  });

  it('give an sql trigger\'s template the event of its preview.yaml, or an empty one', async () => {
    const site = (ws: Workspace) => ws.project.spec.sites[0]!;
    const review = (ws: Workspace) => templateUses(ws).find((u) => u.name === 'review-request')!;
    const bare = example();
    expect((await loadSamples(bare)).extras(review(bare), site(bare), 'en').event).toEqual({});
    const ws = example({ 'templates/review-request/preview.yaml': 'event:\n  order_id: 100042\n  delivered_on: 18 November\n' });
    expect((await loadSamples(ws)).extras(review(ws), site(ws), 'en').event).toEqual({ order_id: 100042, delivered_on: '18 November' });
    // Other triggers get none.
    expect((await loadSamples(ws)).extras(templateUses(ws).find((u) => u.name === 'welcome')!, site(ws), 'en').event).toBeUndefined();
  });
});
