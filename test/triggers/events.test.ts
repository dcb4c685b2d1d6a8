import { describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/db.js';
import { recordStock } from '../../src/triggers/stock.js';
import type { Trigger } from '../../src/workspace/model.js';
import { useCleanups } from '../support/cleanup.js';
import type { TestShop } from '../support/shop.js';
import { active, DAY, HOUR, ledger, MINUTE, plus, shopDb, sweep, type LedgerRow } from './support.js';

/*
 * Every event type, the same story: the trigger is enabled at T0, when one
 * occurrence ("early") is already due; another ("late") falls due between
 * T0 and T1. The enabling sweep inserts nothing (no back-fill) and counts
 * the early one as skipped; two sweeps at T1 running at once, on two
 * connections, insert the late one once between them; a third, after them,
 * inserts nothing. With `backfill: 1d` the enabling sweep sends the early
 * one too.
 */

const cleanup = useCleanups();

const T0 = new Date('2026-06-10T12:00:00Z');
const T1 = plus(T0, 12 * HOUR);
const iso = (d: Date) => d.toISOString();
const customers = [1, 2, 3, 4].map((id) => ({ id, email: `c${id}@example.com` }));

interface Scenario {
  spec: Trigger;
  shop: TestShop;
  /** Before the enabling sweep. */
  before?: (db: Db) => Promise<void>;
  /** Between the enabling sweep and the sweeps at T1. */
  between?: (db: Db) => Promise<void>;
  early: Omit<LedgerRow, 'status' | 'reason'>;
  late: Omit<LedgerRow, 'status' | 'reason'>;
  /** The event has no time of its own (sql): everything it returns is due at the sweep, so the horizon never drops it. */
  dueAtSweep?: true;
}

const SCENARIOS: Record<Trigger['event'], Scenario> = {
  birthday: {
    spec: active({ event: 'birthday' }),
    shop: {
      customers: [
        { id: 1, email: 'c1@example.com', birthday: '1990-06-10' },
        { id: 2, email: 'c2@example.com', birthday: '1985-06-11' },
        { id: 3, email: 'c3@example.com', birthday: '1985-06-12' },
        { id: 4, email: 'c4@example.com' },
      ],
    },
    // Midnight in Berlin (the site's zone, from defaults) is 22:00 UTC in summer.
    early: { customer_id: 1, occurrence: '2026', payload: { birthday: '1990-06-10', year: 2026 }, due_at: '2026-06-09T22:00:00.000Z' },
    late: { customer_id: 2, occurrence: '2026', payload: { birthday: '1985-06-11', year: 2026 }, due_at: '2026-06-10T22:00:00.000Z' },
  },
  cart_abandoned: {
    spec: active({ event: 'cart_abandoned', after: '4h' }),
    shop: {
      customers,
      products: [{ sku: 'SH', category: 'shoes' }],
      carts: [
        { id: 1, customer_id: 1, updated_at: iso(plus(T0, -5 * HOUR)) },
        { id: 2, customer_id: 2, updated_at: iso(plus(T0, HOUR)) },
        // Empty: nothing to remind of.
        { id: 3, customer_id: 3, updated_at: iso(plus(T0, HOUR)) },
        // Ordered since.
        { id: 4, customer_id: 4, updated_at: iso(plus(T0, HOUR)) },
      ],
      cart_items: [1, 2, 4].map((cart_id) => ({ cart_id, sku: 'SH' })),
      orders: [{ id: 40, customer_id: 4, created_at: iso(plus(T0, 2 * HOUR)) }],
    },
    early: { customer_id: 1, occurrence: `cart:1@${plus(T0, -5 * HOUR).getTime()}`, payload: { cart_id: 1, version: iso(plus(T0, -5 * HOUR)) }, due_at: iso(plus(T0, -HOUR)) },
    late: { customer_id: 2, occurrence: `cart:2@${plus(T0, HOUR).getTime()}`, payload: { cart_id: 2, version: iso(plus(T0, HOUR)) }, due_at: iso(plus(T0, 5 * HOUR)) },
  },
  back_in_stock: {
    spec: active({ event: 'back_in_stock' }),
    shop: {
      customers,
      products: [
        { sku: 'A', category: 'shoes', in_stock: false },
        { sku: 'B', category: 'shoes', in_stock: false },
      ],
      preorders: [
        { customer_id: 1, sku: 'A' },
        { customer_id: 2, sku: 'B' },
        // Two preorders of one product: one message.
        { customer_id: 2, sku: 'B', created_at: '2024-02-01T00:00:00Z' },
      ],
    },
    // A is seen out three days before T0 and back an hour before it (by another trigger's sweeps, say).
    async before(db) {
      await recordStock(db, 'shop', plus(T0, -3 * DAY));
      await db.query("UPDATE shop.products SET in_stock = true WHERE sku = 'A'");
      await recordStock(db, 'shop', plus(T0, -HOUR));
    },
    async between(db) {
      await db.query("UPDATE shop.products SET in_stock = true WHERE sku = 'B'");
    },
    early: { customer_id: 1, occurrence: `A@${plus(T0, -HOUR).getTime()}`, payload: { sku: 'A', back_at: iso(plus(T0, -HOUR)) }, due_at: iso(plus(T0, -HOUR)) },
    late: { customer_id: 2, occurrence: `B@${T1.getTime()}`, payload: { sku: 'B', back_at: iso(T1) }, due_at: iso(T1) },
  },
  no_order_after_signup: {
    spec: active({ event: 'no_order_after_signup', after: '3d' }),
    shop: {
      customers: [
        { id: 1, email: 'c1@example.com', created_at: iso(plus(T0, -3 * DAY - HOUR)) },
        { id: 2, email: 'c2@example.com', created_at: iso(plus(T0, -3 * DAY + HOUR)) },
        { id: 3, email: 'c3@example.com', created_at: iso(plus(T0, -3 * DAY + HOUR)) },
        { id: 4, email: 'c4@example.com' },
      ],
      // Customer 3 ordered since signing up.
      orders: [{ id: 3, customer_id: 3, created_at: iso(plus(T0, -DAY)) }],
    },
    early: { customer_id: 1, occurrence: 'signup', payload: { signed_up_at: iso(plus(T0, -3 * DAY - HOUR)) }, due_at: iso(plus(T0, -HOUR)) },
    late: { customer_id: 2, occurrence: 'signup', payload: { signed_up_at: iso(plus(T0, -3 * DAY + HOUR)) }, due_at: iso(plus(T0, HOUR)) },
  },
  order_total_over: {
    spec: active({ event: 'order_total_over', amount: 300 }),
    shop: {
      customers,
      orders: [
        { id: 1, customer_id: 1, total: 500, created_at: iso(plus(T0, -HOUR)) },
        { id: 2, customer_id: 2, total: 500, created_at: iso(plus(T0, HOUR)) },
        { id: 3, customer_id: 3, total: 300, created_at: iso(plus(T0, HOUR)) },
        { id: 4, customer_id: 4, total: 500, created_at: iso(plus(T0, HOUR)), status: 'cancelled' },
      ],
    },
    early: { customer_id: 1, occurrence: 'order:1', payload: { order_id: 1 }, due_at: iso(plus(T0, -HOUR)) },
    late: { customer_id: 2, occurrence: 'order:2', payload: { order_id: 2 }, due_at: iso(plus(T0, HOUR)) },
  },
  cross_sell_after_purchase: {
    spec: active({ event: 'cross_sell_after_purchase', after: '7d', categories: ['shoes'], recommend: ['care'] }),
    shop: {
      customers,
      products: [
        { sku: 'SH', category: 'shoes' },
        { sku: 'CR', category: 'care' },
      ],
      orders: [
        { id: 1, customer_id: 1, created_at: iso(plus(T0, -7 * DAY - HOUR)) },
        { id: 2, customer_id: 2, created_at: iso(plus(T0, -7 * DAY + HOUR)) },
        // Customer 3 already has the only care product.
        { id: 3, customer_id: 3, created_at: iso(plus(T0, -7 * DAY + HOUR)) },
        { id: 30, customer_id: 3, created_at: '2026-01-01T00:00:00Z' },
      ],
      order_items: [
        { order_id: 1, sku: 'SH' },
        { order_id: 2, sku: 'SH' },
        { order_id: 3, sku: 'SH' },
        { order_id: 30, sku: 'CR' },
      ],
    },
    early: { customer_id: 1, occurrence: 'order:1', payload: { order_id: 1 }, due_at: iso(plus(T0, -HOUR)) },
    late: { customer_id: 2, occurrence: 'order:2', payload: { order_id: 2 }, due_at: iso(plus(T0, HOUR)) },
  },
  sql: {
    spec: active({ event: 'sql', sql: "SELECT c.id AS customer_id, 'k' || c.id AS event_key, jsonb_build_object('n', c.id) AS payload FROM customers c WHERE c.city = 'Due'" }),
    shop: { customers: [{ id: 1, email: 'c1@example.com', city: 'Due' }, ...customers.slice(1)] },
    async between(db) {
      await db.query("UPDATE shop.customers SET city = 'Due' WHERE id = 2");
    },
    early: { customer_id: 1, occurrence: 'k1', payload: { event: { n: 1 } }, due_at: iso(T0) },
    late: { customer_id: 2, occurrence: 'k2', payload: { event: { n: 2 } }, due_at: iso(T1) },
    dueAtSweep: true,
  },
};

const queued = (r: Omit<LedgerRow, 'status' | 'reason'>): LedgerRow => ({ ...r, status: 'queued', reason: null });

describe.each(Object.entries(SCENARIOS))('%s', (_event, sc) => {
  it('sends nothing due before enabling, then each new occurrence once across overlapping sweeps', async () => {
    const { db, other } = await shopDb(sc.shop, cleanup);
    await sc.before?.(db);

    const enabling = await sweep(db, sc.spec, T0);
    if (sc.dueAtSweep) {
      // What the query returns is due now: its own WHERE is its window.
      expect(enabling).toEqual({ inserted: 1, skippedByHorizon: 0 });
      expect(await ledger(db)).toEqual([queued(sc.early)]);
    } else {
      expect(enabling).toEqual({ inserted: 0, skippedByHorizon: 1 });
      expect(await ledger(db)).toEqual([]);
    }

    await sc.between?.(db);
    const both = await Promise.all([sweep(db, sc.spec, T1), sweep(other, sc.spec, T1)]);
    expect(both.map((r) => r.inserted).sort()).toEqual([0, 1]);
    const after = sc.dueAtSweep ? [queued(sc.early), queued(sc.late)] : [queued(sc.late)];
    expect(await ledger(db)).toEqual(after);

    expect((await sweep(db, sc.spec, plus(T1, MINUTE))).inserted).toBe(0);
    expect(await ledger(db)).toEqual(after);
  });

  it('with backfill: 1d, the enabling sweep sends what fell due in the day before', async () => {
    const { db } = await shopDb(sc.shop, cleanup);
    await sc.before?.(db);
    expect(await sweep(db, { ...sc.spec, backfill: '1d' }, T0)).toEqual({ inserted: 1, skippedByHorizon: 0 });
    expect(await ledger(db)).toEqual([queued(sc.early)]);
  });
});
