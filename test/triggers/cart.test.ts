import { describe, expect, it } from 'vitest';
import { useCleanups } from '../support/cleanup.js';
import { active, at, DAY, HOUR, keys, ledger, markSent, plus, shopDb, sweep } from './support.js';

const cleanup = useCleanups();

const T0 = at('2026-06-10T12:00:00Z');
const ms = (d: Date) => d.getTime();

async function cartShop(carts: { id: number; customer_id: number; updated_at: Date }[]) {
  return shopDb(
    {
      customers: [1, 2].map((id) => ({ id, email: `c${id}@example.com` })),
      products: [{ sku: 'SH', category: 'shoes' }],
      carts: carts.map((k) => ({ ...k, updated_at: k.updated_at.toISOString() })),
      cart_items: carts.map((k) => ({ cart_id: k.id, sku: 'SH' })),
    },
    cleanup,
  );
}

const touch = (db: { query: (t: string, v: unknown[]) => Promise<unknown> }, cart: number, when: Date) =>
  db.query('UPDATE shop.carts SET updated_at = $2 WHERE id = $1', [cart, when]);

describe('cart_abandoned', () => {
  it('a cart changed after its reminder is a new occurrence, due when idle again', async () => {
    const first = plus(T0, HOUR);
    const { db } = await cartShop([{ id: 1, customer_id: 1, updated_at: first }]);
    const spec = active({ event: 'cart_abandoned', after: '4h' });
    await sweep(db, spec, T0);
    expect((await sweep(db, spec, plus(T0, 5 * HOUR))).inserted).toBe(1);
    await markSent(db, plus(T0, 5 * HOUR));

    const second = plus(T0, 6 * HOUR);
    await touch(db, 1, second);
    expect((await sweep(db, spec, plus(T0, 8 * HOUR))).inserted).toBe(0);
    expect((await sweep(db, spec, plus(T0, 10 * HOUR))).inserted).toBe(1);
    expect(await ledger(db)).toEqual([
      { customer_id: 1, occurrence: `cart:1@${ms(first)}`, status: 'sent', reason: null, payload: { cart_id: 1, version: first.toISOString() }, due_at: plus(first, 4 * HOUR).toISOString() },
      { customer_id: 1, occurrence: `cart:1@${ms(second)}`, status: 'queued', reason: null, payload: { cart_id: 1, version: second.toISOString() }, due_at: plus(second, 4 * HOUR).toISOString() },
    ]);
  });

  it('keeps the millisecond of the version, and no more, in its key', async () => {
    const { db } = await cartShop([{ id: 1, customer_id: 1, updated_at: T0 }]);
    await db.query("UPDATE shop.carts SET updated_at = '2026-06-10T12:00:00.123456Z'");
    const spec = active({ event: 'cart_abandoned', after: '4h', backfill: '1d' });
    await sweep(db, spec, plus(T0, 5 * HOUR));
    expect(await ledger(db)).toMatchObject([{ occurrence: `cart:1@${ms(T0) + 123}`, payload: { cart_id: 1, version: '2026-06-10T12:00:00.123Z' } }]);
  });

  it('a cancelled order after the cart does not count as buying it', async () => {
    const { db } = await cartShop([
      { id: 1, customer_id: 1, updated_at: plus(T0, HOUR) },
      { id: 2, customer_id: 2, updated_at: plus(T0, HOUR) },
    ]);
    await db.query(
      `INSERT INTO shop.orders (id, customer_id, site, status, total, currency, created_at)
       VALUES (1, 1, 'shop-en', 'cancelled', 10, 'EUR', $1), (2, 2, 'shop-en', 'paid', 10, 'EUR', $1)`,
      [plus(T0, 2 * HOUR)],
    );
    const spec = active({ event: 'cart_abandoned', after: '4h' });
    await sweep(db, spec, T0);
    await sweep(db, spec, plus(T0, 6 * HOUR));
    expect(await keys(db)).toEqual([[1, `cart:1@${ms(plus(T0, HOUR))}`]]);
  });

  it('once: 7d sends one reminder a week, the earliest cart first, however many carts', async () => {
    const { db } = await cartShop([
      { id: 1, customer_id: 1, updated_at: plus(T0, 2 * HOUR) },
      { id: 2, customer_id: 1, updated_at: plus(T0, HOUR) },
    ]);
    const spec = active({ event: 'cart_abandoned', after: '4h', once: '7d' });
    await sweep(db, spec, T0);
    // Both carts are due in this sweep: only the earlier one.
    expect((await sweep(db, spec, plus(T0, 7 * HOUR))).inserted).toBe(1);
    expect(await keys(db)).toEqual([[1, `cart:2@${ms(plus(T0, HOUR))}`]]);
    // Still queued: the other cart waits even in a later sweep.
    expect((await sweep(db, spec, plus(T0, 8 * HOUR))).inserted).toBe(0);
    await markSent(db, plus(T0, 8 * HOUR));

    // A change three days later: within the week of the reminder, nothing.
    await touch(db, 1, plus(T0, 3 * DAY));
    expect((await sweep(db, spec, plus(T0, 3 * DAY + 5 * HOUR))).inserted).toBe(0);
    // Changed again after the week: a reminder.
    await touch(db, 1, plus(T0, 8 * DAY));
    expect((await sweep(db, spec, plus(T0, 8 * DAY + 5 * HOUR))).inserted).toBe(1);
    expect(await keys(db)).toEqual([
      [1, `cart:1@${ms(plus(T0, 8 * DAY))}`],
      [1, `cart:2@${ms(plus(T0, HOUR))}`],
    ]);
  });
});
