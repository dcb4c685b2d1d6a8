import { describe, expect, it } from 'vitest';
import type { Queryable } from '../../src/db/db.js';
import { exitReasonSql } from '../../src/triggers/exits.js';
import type { Trigger } from '../../src/workspace/model.js';
import { useCleanups } from '../support/cleanup.js';
import { createTestDb } from '../support/db.js';
import { createShop, type TestCustomer } from '../support/shop.js';

const cleanup = useCleanups();

async function setup() {
  const db = await createTestDb();
  cleanup(() => db.dispose());
  return db;
}

/** Ledger rows of one trigger, as a sweep inserts them. */
async function ledger(db: Queryable, source: string, rows: { customer_id: number; occurrence: string; payload: unknown }[]): Promise<void> {
  await db.query(
    `INSERT INTO herald.messages (source_kind, source, customer_id, address, site, locale, status, occurrence, payload, next_attempt_at, due_at)
     SELECT 'trigger', $1, x.customer_id, 'c' || x.customer_id || '@example.com', 'shop-en', 'en', 'queued', x.occurrence, x.payload, now(), now()
       FROM jsonb_to_recordset($2::jsonb) AS x(customer_id bigint, occurrence text, payload jsonb)`,
    [source, JSON.stringify(rows)],
  );
}

/** Each row's exit reason, by customer: what the claim statement would settle it with. */
async function reasons(db: Queryable, source: string, spec: Trigger, cancelled: string[] = ['cancelled']): Promise<Record<number, string | null>> {
  const values: unknown[] = [];
  const param = (v: unknown) => {
    values.push(v);
    return `$${values.length}`;
  };
  const reason = exitReasonSql(spec, { schema: 'shop', cancelled }, param);
  const rows = await db.query<{ customer_id: number; reason: string | null }>(
    `SELECT m.customer_id, ${reason} AS reason FROM herald.messages m
      WHERE m.source_kind = 'trigger' AND m.source = ${param(source)} ORDER BY m.customer_id`,
    values,
  );
  return Object.fromEntries(rows.map((r) => [r.customer_id, r.reason]));
}

const customers = (...ids: number[]): TestCustomer[] => ids.map((id) => ({ id, email: `c${id}@example.com` }));
const none = (ids: number[]) => Object.fromEntries(ids.map((id) => [id, null]));

const CART: Trigger = { event: 'cart_abandoned', after: '4h', template: 'abandoned-cart' };
const STOCK: Trigger = { event: 'back_in_stock', template: 'back-in-stock' };
const SIGNUP: Trigger = { event: 'no_order_after_signup', after: '3d', template: 'welcome' };
const BIG_ORDER: Trigger = { event: 'order_total_over', amount: 300, template: 'thank-you' };
const CROSS_SELL: Trigger = { event: 'cross_sell_after_purchase', after: '7d', categories: ['shoes'], recommend: ['care'], template: 'cross-sell' };
const BIRTHDAY: Trigger = { event: 'birthday', days_before: 3, template: 'birthday' };
const REVIEW: Trigger = { event: 'sql', sql: 'SELECT 1', template: 'review-request' };

describe('exitReasonSql', () => {
  it('cart_abandoned: ordered, cart emptied, cart changed', async () => {
    const db = await setup();
    const version = '2026-11-20T08:00:00.000Z';
    await createShop(db, {
      customers: customers(1, 2, 3, 4, 5, 6, 7),
      products: [{ sku: 'BOOT', category: 'shoes' }],
      orders: [
        // Before the cart's version, and a cancelled one after it: neither is the cart ordered.
        { id: 20, customer_id: 2, created_at: '2026-11-01T10:00:00Z' },
        { id: 21, customer_id: 2, status: 'cancelled', created_at: '2026-11-20T09:00:00Z' },
      ],
      carts: [
        { id: 101, customer_id: 1, updated_at: version },
        { id: 102, customer_id: 2, updated_at: version },
        { id: 103, customer_id: 3, updated_at: version },
        { id: 104, customer_id: 4, updated_at: version },
        { id: 105, customer_id: 5, updated_at: version },
        // A version with microseconds, as PostgreSQL keeps it, against the payload's milliseconds.
        { id: 106, customer_id: 6, updated_at: '2026-11-20T08:00:00.123456Z' },
        { id: 107, customer_id: 7, updated_at: version },
      ],
      cart_items: [101, 102, 103, 104, 105, 106, 107].map((cart_id) => ({ cart_id, sku: 'BOOT' })),
    });
    const epoch = Date.parse(version);
    await ledger(db, 'cart', [
      ...[1, 2, 3, 4, 5, 7].map((c) => ({ customer_id: c, occurrence: `cart:${100 + c}@${epoch}`, payload: { cart_id: 100 + c, version } })),
      { customer_id: 6, occurrence: `cart:106@${Date.parse('2026-11-20T08:00:00.123Z')}`, payload: { cart_id: 106, version: '2026-11-20T08:00:00.123Z' } },
    ]);
    expect(await reasons(db, 'cart', CART)).toEqual(none([1, 2, 3, 4, 5, 6, 7]));

    await db.exec(`
      INSERT INTO shop.orders (id, customer_id, site, status, total, currency, created_at) VALUES (22, 2, 'shop-en', 'new', 129, 'EUR', '2026-11-20T10:00:00Z');
      DELETE FROM shop.cart_items WHERE cart_id = 103;
      DELETE FROM shop.carts WHERE id = 104;
      UPDATE shop.carts SET updated_at = '2026-11-20T11:00:00Z' WHERE id = 105;
      -- Ordered, and the shop deleted the cart as most do: it counts as ordered.
      INSERT INTO shop.orders (id, customer_id, site, status, total, currency, created_at) VALUES (23, 7, 'shop-en', 'paid', 129, 'EUR', '2026-11-20T08:00:00Z');
      DELETE FROM shop.cart_items WHERE cart_id = 107;
      DELETE FROM shop.carts WHERE id = 107;
    `);
    expect(await reasons(db, 'cart', CART)).toEqual({ 1: null, 2: 'ordered', 3: 'cart emptied', 4: 'cart emptied', 5: 'cart changed', 6: null, 7: 'ordered' });
  });

  it('back_in_stock: out of stock again, preorder withdrawn', async () => {
    const db = await setup();
    await createShop(db, {
      customers: customers(1, 2, 3),
      products: [{ sku: 'BOOT', category: 'shoes' }, { sku: 'BAG', category: 'bags' }],
      preorders: [{ customer_id: 1, sku: 'BOOT' }, { customer_id: 2, sku: 'BAG' }, { customer_id: 3, sku: 'BOOT' }],
    });
    const back = (customer_id: number, sku: string) => ({ customer_id, occurrence: `${sku}@${Date.parse('2026-11-20T08:00:00Z')}`, payload: { sku, back_at: '2026-11-20T08:00:00.000Z' } });
    await ledger(db, 'stock', [back(1, 'BOOT'), back(2, 'BAG'), back(3, 'BOOT')]);
    expect(await reasons(db, 'stock', STOCK)).toEqual(none([1, 2, 3]));

    await db.exec(`
      UPDATE shop.products SET in_stock = false WHERE sku = 'BAG';
      DELETE FROM shop.preorders WHERE customer_id = 3;
    `);
    expect(await reasons(db, 'stock', STOCK)).toEqual({ 1: null, 2: 'out of stock again', 3: 'preorder withdrawn' });
  });

  it('no_order_after_signup: ordered (a cancelled order is none)', async () => {
    const db = await setup();
    await createShop(db, { customers: customers(1, 2), orders: [{ id: 10, customer_id: 1, status: 'cancelled', created_at: '2026-11-19T10:00:00Z' }] });
    await ledger(db, 'welcome', [1, 2].map((c) => ({ customer_id: c, occurrence: 'signup', payload: { signed_up_at: '2026-11-17T10:00:00.000Z' } })));
    expect(await reasons(db, 'welcome', SIGNUP)).toEqual(none([1, 2]));

    await db.exec(`INSERT INTO shop.orders (id, customer_id, site, status, total, currency, created_at) VALUES (11, 2, 'shop-en', 'new', 50, 'EUR', '2026-11-20T10:00:00Z')`);
    expect(await reasons(db, 'welcome', SIGNUP)).toEqual({ 1: null, 2: 'ordered' });
  });

  it('order_total_over: order cancelled, in any of the workspace\'s cancelled statuses, or gone', async () => {
    const db = await setup();
    await createShop(db, {
      customers: customers(1, 2, 3, 4),
      orders: [1, 2, 3, 4].map((c) => ({ id: 10 + c, customer_id: c, status: 'paid', total: 400, created_at: '2026-11-20T10:00:00Z' })),
    });
    await ledger(db, 'big', [1, 2, 3, 4].map((c) => ({ customer_id: c, occurrence: `order:${10 + c}`, payload: { order_id: 10 + c } })));
    const cancelled = ['cancelled', 'refunded'];
    expect(await reasons(db, 'big', BIG_ORDER, cancelled)).toEqual(none([1, 2, 3, 4]));

    await db.exec(`
      UPDATE shop.orders SET status = 'cancelled' WHERE id = 12;
      UPDATE shop.orders SET status = 'refunded' WHERE id = 13;
      DELETE FROM shop.orders WHERE id = 14;
    `);
    expect(await reasons(db, 'big', BIG_ORDER, cancelled)).toEqual({ 1: null, 2: 'order cancelled', 3: 'order cancelled', 4: 'order cancelled' });
  });

  it('cross_sell_after_purchase: order cancelled, or nothing left to recommend once every in-stock care product is bought', async () => {
    const db = await setup();
    await createShop(db, {
      customers: customers(1, 2, 3),
      products: [
        { sku: 'BOOT', category: 'shoes' },
        { sku: 'BALM', category: 'care' },
        { sku: 'BRUSH', category: 'care' },
        // Out of stock: never recommended, so it need not be bought.
        { sku: 'SPRAY', category: 'care', in_stock: false },
      ],
      orders: [
        { id: 11, customer_id: 1, created_at: '2026-11-10T10:00:00Z' },
        { id: 12, customer_id: 2, created_at: '2026-11-10T10:00:00Z' },
        { id: 13, customer_id: 3, created_at: '2026-11-10T10:00:00Z' },
        { id: 22, customer_id: 2, created_at: '2026-11-01T10:00:00Z' },
      ],
      order_items: [
        { order_id: 11, sku: 'BOOT' },
        { order_id: 12, sku: 'BOOT' },
        { order_id: 13, sku: 'BOOT' },
        { order_id: 22, sku: 'BALM' },
      ],
    });
    await ledger(db, 'xsell', [1, 2, 3].map((c) => ({ customer_id: c, occurrence: `order:${10 + c}`, payload: { order_id: 10 + c } })));
    expect(await reasons(db, 'xsell', CROSS_SELL)).toEqual(none([1, 2, 3]));

    // A cancelled order is not a purchase: BRUSH is still to recommend.
    await db.exec(`
      INSERT INTO shop.orders (id, customer_id, site, status, total, currency, created_at) VALUES (23, 2, 'shop-en', 'cancelled', 10, 'EUR', '2026-11-12T10:00:00Z');
      INSERT INTO shop.order_items (order_id, sku, quantity, price) VALUES (23, 'BRUSH', 1, 10);
      UPDATE shop.orders SET status = 'cancelled' WHERE id = 13;
    `);
    expect(await reasons(db, 'xsell', CROSS_SELL)).toEqual({ 1: null, 2: null, 3: 'order cancelled' });

    await db.exec(`UPDATE shop.orders SET status = 'delivered' WHERE id = 23`);
    expect(await reasons(db, 'xsell', CROSS_SELL)).toEqual({ 1: null, 2: 'nothing left to recommend', 3: 'order cancelled' });
    // Without recommend, the message shows no products: there is nothing to run out of.
    const { recommend: _, ...noRecommend } = CROSS_SELL;
    expect(await reasons(db, 'xsell', noRecommend)).toEqual({ 1: null, 2: null, 3: 'order cancelled' });
  });

  it('birthday: birthday changed, by day and month (a corrected year does not move it)', async () => {
    const db = await setup();
    await createShop(db, { customers: [1, 2, 3].map((id) => ({ id, email: `c${id}@example.com`, birthday: '1990-03-12' })) });
    await ledger(db, 'bday', [1, 2, 3].map((c) => ({ customer_id: c, occurrence: '2026', payload: { birthday: '1990-03-12', year: 2026 } })));
    expect(await reasons(db, 'bday', BIRTHDAY)).toEqual(none([1, 2, 3]));

    await db.exec(`
      UPDATE shop.customers SET birthday = '1990-04-01' WHERE id = 2;
      UPDATE shop.customers SET birthday = '1991-03-12' WHERE id = 3;
    `);
    expect(await reasons(db, 'bday', BIRTHDAY)).toEqual({ 1: null, 2: 'birthday changed', 3: null });
    await db.exec(`UPDATE shop.customers SET birthday = NULL WHERE id = 3`);
    expect((await reasons(db, 'bday', BIRTHDAY))[3]).toBe('birthday changed');
  });

  it('every event: no address, no consent; an sql trigger has only these', async () => {
    const db = await setup();
    await createShop(db, { customers: customers(1, 2, 3, 4, 5) });
    await ledger(db, 'review', [1, 2, 3, 4, 5].map((c) => ({ customer_id: c, occurrence: `${c}00`, payload: { event: { order_id: c } } })));
    await ledger(db, 'welcome', [1, 2].map((c) => ({ customer_id: c, occurrence: 'signup', payload: { signed_up_at: '2026-11-17T10:00:00.000Z' } })));
    expect(await reasons(db, 'review', REVIEW)).toEqual(none([1, 2, 3, 4, 5]));

    await db.exec(`
      UPDATE shop.customers SET email = NULL WHERE id = 2;
      UPDATE shop.customers SET email = 'not an address' WHERE id = 3;
      UPDATE shop.customers SET email_opt_in = false WHERE id = 4;
      DELETE FROM shop.customers WHERE id = 5;
    `);
    expect(await reasons(db, 'review', REVIEW)).toEqual({ 1: null, 2: 'no address', 3: 'no address', 4: 'no consent', 5: 'no address' });
    expect(await reasons(db, 'welcome', SIGNUP)).toEqual({ 1: null, 2: 'no address' });
  });

  it('puts the event\'s own reason before the customer\'s', async () => {
    const db = await setup();
    await createShop(db, { customers: [{ id: 1, email: 'c1@example.com', email_opt_in: false }], orders: [{ id: 9, customer_id: 1, created_at: '2026-11-20T10:00:00Z' }] });
    await ledger(db, 'welcome', [{ customer_id: 1, occurrence: 'signup', payload: { signed_up_at: '2026-11-17T10:00:00.000Z' } }]);
    expect(await reasons(db, 'welcome', SIGNUP)).toEqual({ 1: 'ordered' });
  });

  it('takes its values as parameters, each once', () => {
    const values: unknown[] = [];
    const param = (v: unknown) => {
      values.push(v);
      return `$${values.length}`;
    };
    const sql = exitReasonSql(CROSS_SELL, { schema: 'shop', cancelled: ['cancelled', "it's"] }, param);
    // The cancelled statuses are shared by every exit that reads them; an event that reads none adds none.
    expect(values).toEqual([['cancelled', "it's"], ['care']]);
    expect(sql).not.toContain("it's");
    expect(sql).not.toContain("'care'");
    values.length = 0;
    exitReasonSql(STOCK, { schema: 'shop', cancelled: ['cancelled'] }, param);
    exitReasonSql(BIRTHDAY, { schema: 'shop', cancelled: ['cancelled'] }, param);
    expect(values).toEqual([]);
  });

  it('settles rows in an UPDATE over the ledger, as the claim does', async () => {
    const db = await setup();
    await createShop(db, {
      customers: customers(1, 2, 3),
      products: [{ sku: 'BOOT', category: 'shoes', in_stock: false }, { sku: 'BAG', category: 'bags' }],
      preorders: [{ customer_id: 1, sku: 'BOOT' }, { customer_id: 2, sku: 'BAG' }, { customer_id: 3, sku: 'BOOT' }],
    });
    await ledger(db, 'stock', [
      { customer_id: 1, occurrence: 'BOOT@1', payload: { sku: 'BOOT', back_at: '2026-11-20T08:00:00.000Z' } },
      { customer_id: 2, occurrence: 'BAG@1', payload: { sku: 'BAG', back_at: '2026-11-20T08:00:00.000Z' } },
    ]);
    // Another trigger's row is left alone.
    await ledger(db, 'other', [{ customer_id: 3, occurrence: 'BOOT@1', payload: { sku: 'BOOT', back_at: '2026-11-20T08:00:00.000Z' } }]);
    const values: unknown[] = ['stock'];
    const param = (v: unknown) => {
      values.push(v);
      return `$${values.length}`;
    };
    const exit = exitReasonSql(STOCK, { schema: 'shop', cancelled: ['cancelled'] }, param);
    const settled = await db.query<{ customer_id: number; status: string; reason: string | null }>(
      `WITH due AS (SELECT m.id, ${exit} AS exit FROM herald.messages m WHERE m.source = $1 AND m.status = 'queued' FOR UPDATE)
       UPDATE herald.messages m SET status = CASE WHEN d.exit IS NULL THEN 'claimed' ELSE 'exited' END, reason = d.exit
         FROM due d WHERE m.id = d.id
       RETURNING m.customer_id, m.status, m.reason`,
      values,
    );
    expect(settled.sort((a, b) => a.customer_id - b.customer_id)).toEqual([
      { customer_id: 1, status: 'exited', reason: 'out of stock again' },
      { customer_id: 2, status: 'claimed', reason: null },
    ]);
    expect(await db.query(`SELECT status FROM herald.messages WHERE source = 'other'`)).toEqual([{ status: 'queued' }]);
  });

  it('refuses a schema name that is not an identifier', () => {
    expect(() => exitReasonSql(CART, { schema: 'shop"; DROP', cancelled: [] }, () => '$1')).toThrow('not a valid identifier');
  });
});
