import { describe, expect, it } from 'vitest';
import { silentLog } from '../../src/log.js';
import { tick } from '../../src/tick/tick.js';
import { sweepAll } from '../../src/triggers/sweeps.js';
import { triggerReport } from '../../src/report/write.js';
import { sinkWithTransport } from '../support/smtp.js';
import { createTestDb } from '../support/db.js';
import { createShop } from '../support/shop.js';
import { applyDir } from '../support/apply.js';
import { exampleWorkspace } from '../support/workspace.js';
import { useCleanups } from '../support/cleanup.js';

/**
 * The example workspace's triggers, end to end through the tick on an
 * injected clock: enabled at T0 (nothing due before then is sent), the shop
 * moves on, and at T1 every event type fires once, through the contact
 * policy, to a real SMTP peer; a second tick at T1 sends nothing twice.
 */
const cleanup = useCleanups();
const T0 = new Date('2026-11-20T10:00:00Z'); // 11:00 in Berlin
const T1 = new Date('2026-11-21T12:00:00Z'); // 13:00 in Berlin, the next day
const H = 3_600_000;
const iso = (ms: number) => new Date(T0.getTime() + ms).toISOString();

const peer = () => sinkWithTransport(cleanup);

async function setup() {
  const db = await createTestDb();
  const ws = exampleWorkspace({ policy: true });
  cleanup(() => db.dispose(), ws.remove);
  await createShop(db, {
    customers: [
      { id: 1, email: 'anna@example.com', first_name: 'Anna' },
      { id: 2, email: 'bob@example.com', first_name: 'Bob', birthday: '1990-11-24' },
      { id: 3, email: 'carl@example.com', first_name: 'Carl', created_at: iso(-3 * 24 * H + 2 * H) },
      { id: 4, email: 'dora@example.com', first_name: 'Dora' },
      { id: 5, email: 'emil@example.com', first_name: 'Emil' },
      { id: 6, email: 'fay@example.com', first_name: 'Fay' },
      // Greta's cart was abandoned long before the trigger was enabled: the back-fill horizon keeps it unsent.
      { id: 7, email: 'greta@example.com', first_name: 'Greta' },
    ],
    products: [
      { sku: 'SH-001', category: 'shoes', name: 'Trail Boot', price: 129.9 },
      { sku: 'CA-001', category: 'care', name: 'Shoe Wax', price: 9.9 },
      { sku: 'BG-001', category: 'bags', name: 'Tote', price: 99, in_stock: false },
      { sku: 'OW-001', category: 'outerwear', name: 'Wool Coat', price: 1249.5 },
      { sku: 'AC-002', category: 'accessories', name: 'Scarf', price: 39 },
    ],
    orders: [
      { id: 10, customer_id: 1, created_at: '2025-06-01T10:00:00Z' },
      { id: 11, customer_id: 2, created_at: '2025-06-01T10:00:00Z' },
      { id: 12, customer_id: 4, created_at: '2025-06-01T10:00:00Z' },
      { id: 13, customer_id: 5, created_at: iso(-7 * 24 * H + 3 * H) },
      { id: 14, customer_id: 6, created_at: '2025-06-01T10:00:00Z' },
      { id: 15, customer_id: 7, created_at: '2025-06-01T10:00:00Z' },
    ],
    order_items: [{ order_id: 13, sku: 'SH-001' }],
    carts: [{ id: 70, customer_id: 7, updated_at: iso(-26 * H) }],
    cart_items: [{ cart_id: 70, sku: 'SH-001' }],
    preorders: [{ customer_id: 6, sku: 'BG-001', created_at: iso(-5 * 24 * H) }],
  });
  await applyDir(db, ws.dir, { now: T0 });
  return db;
}

/** What the shop does between T0 and T1. */
async function shopMovesOn(db: Awaited<ReturnType<typeof setup>>) {
  await db.exec(`
    INSERT INTO shop.carts (id, customer_id, site, updated_at) VALUES (71, 1, 'shop-en', '${iso(H)}');
    INSERT INTO shop.cart_items (cart_id, sku, quantity) VALUES (71, 'SH-001', 2);
    INSERT INTO shop.orders (id, customer_id, site, status, total, currency, created_at) VALUES (16, 4, 'shop-en', 'paid', 350, 'EUR', '${iso(H / 2)}');
    UPDATE shop.products SET in_stock = true WHERE sku = 'BG-001';`);
}

describe('triggers through the tick', () => {
  it('fire once per occurrence for every event type, never back-fill, and a second tick at the same time sends nothing', async () => {
    const db = await setup();
    const { arrived, transport } = await peer();
    const run = (at: Date) => tick(db, { transport, log: silentLog, clock: () => at });

    const first = await run(T0);
    expect(first.delivered.sent).toBe(0);
    const swept0 = Object.fromEntries(first.swept.map((w) => [w.trigger, w]));
    expect(swept0['abandoned-cart']).toMatchObject({ inserted: 0, skippedByHorizon: 1 });

    await shopMovesOn(db);
    const second = await run(T1);
    const to = (name: string) => arrived.filter((a) => a.to.startsWith(name));
    expect(to('anna')).toHaveLength(1); // the cart left at T0+1h, idle for 4h
    expect(to('anna')[0]!.html).toContain('Trail Boot');
    expect(to('bob')).toHaveLength(1); // three days before 24 November
    expect(to('carl')).toHaveLength(1); // signed up three days ago, no order
    expect(to('dora')).toHaveLength(1); // an order over 300 EUR
    expect(to('emil')).toHaveLength(1); // a week after buying shoes: care products
    expect(to('emil')[0]!.html).toContain('Shoe Wax');
    expect(to('fay')).toHaveLength(1); // the tote she preordered is back
    expect(to('greta')).toHaveLength(0); // abandoned before the trigger was enabled
    expect(second.delivered.sent).toBe(6);

    const third = await run(T1);
    expect(third.swept.reduce((n, w) => n + w.inserted, 0)).toBe(0);
    expect(third.delivered.sent).toBe(0);
    expect(arrived).toHaveLength(6);

    const report = await triggerReport(db, 'abandoned-cart');
    expect(report).toMatchObject({ kind: 'trigger', name: 'abandoned-cart', totals: { occurrences: 1, sent: 1 } });
  });

  it('settles an occurrence whose condition went away before the claim as exited, with the reason, never sent', async () => {
    const db = await setup();
    const { arrived, transport } = await peer();
    await tick(db, { transport, log: silentLog, clock: () => T0 });
    await shopMovesOn(db);
    await sweepAll(db, T1, silentLog);
    // Between the sweep and the claim: Anna orders, the tote sells out again.
    await db.exec(`
      INSERT INTO shop.orders (id, customer_id, site, status, total, currency, created_at) VALUES (17, 1, 'shop-en', 'paid', 40, 'EUR', '${iso(25 * H)}');
      UPDATE shop.products SET in_stock = false WHERE sku = 'BG-001';`);
    const r = await tick(db, { transport, log: silentLog, clock: () => T1 });
    expect(r.delivered.exited).toBe(2);
    expect(arrived.filter((a) => a.to.startsWith('anna') || a.to.startsWith('fay'))).toEqual([]);
    expect(
      await db.query("SELECT source, status, reason FROM herald.messages WHERE status = 'exited' ORDER BY source"),
    ).toEqual([
      { source: 'abandoned-cart', status: 'exited', reason: 'ordered' },
      { source: 'back-in-stock', status: 'exited', reason: 'out of stock again' },
    ]);
  });

  it('holds the frequency cap across a campaign and a trigger: a trigger over the cap is put off, not dropped', async () => {
    const db = await setup();
    const { arrived, transport } = await peer();
    await tick(db, { transport, log: silentLog, clock: () => T0 });
    // Anna had three messages this week already (a campaign's, sent at T0).
    await db.exec(`
      INSERT INTO herald.messages (source_kind, source, customer_id, address, site, locale, status, sent_at)
      SELECT 'campaign', 'news-' || g, 1, 'anna@example.com', 'shop-en', 'en', 'sent', '${iso(0)}'::timestamptz FROM generate_series(1, 3) g`);
    await shopMovesOn(db);
    const r = await tick(db, { transport, log: silentLog, clock: () => T1 });
    expect(arrived.filter((a) => a.to.startsWith('anna'))).toEqual([]);
    expect(r.delivered.deferred).toBe(1);
    const [row] = await db.query<{ status: string; deferred_reason: string; next_attempt_at: Date }>(
      "SELECT status, deferred_reason, next_attempt_at FROM herald.messages WHERE source = 'abandoned-cart'",
    );
    // The oldest of the three leaves the 7-day window at T0 + 7d.
    expect(row).toEqual({ status: 'queued', deferred_reason: 'frequency cap', next_attempt_at: new Date(T0.getTime() + 7 * 24 * H) });
  });
});
