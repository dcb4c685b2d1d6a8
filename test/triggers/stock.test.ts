import { describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/db.js';
import { recordStock } from '../../src/triggers/stock.js';
import { useCleanups } from '../support/cleanup.js';
import { active, at, DAY, HOUR, keys, MINUTE, plus, shopDb, sweep } from './support.js';

const cleanup = useCleanups();

const T0 = at('2026-06-10T12:00:00Z');

const setStock = (db: Db, sku: string, inStock: boolean) => db.query('UPDATE shop.products SET in_stock = $2 WHERE sku = $1', [sku, inStock]);

async function seen(db: Db) {
  const rows = await db.query<{ sku: string; in_stock: boolean; out_since: Date | null; back_at: Date | null; was_out: string | null; seen_at: Date }>(
    "SELECT sku, in_stock, out_since, back_at, extract(epoch FROM was_out)::int AS was_out, seen_at FROM herald.stock_seen ORDER BY sku",
  );
  return rows.map((r) => ({ ...r, out_since: r.out_since?.toISOString() ?? null, back_at: r.back_at?.toISOString() ?? null, seen_at: r.seen_at.toISOString() }));
}

describe('recordStock', () => {
  it('starts an episode only when a product seen out of stock is seen back', async () => {
    const { db } = await shopDb(
      {
        customers: [],
        products: [
          { sku: 'IN', category: 'x', in_stock: true },
          { sku: 'OUT', category: 'x', in_stock: false },
        ],
      },
      cleanup,
    );
    expect(await recordStock(db, 'shop', T0)).toBe(2);
    const t0 = T0.toISOString();
    expect(await seen(db)).toEqual([
      { sku: 'IN', in_stock: true, out_since: null, back_at: null, was_out: null, seen_at: t0 },
      { sku: 'OUT', in_stock: false, out_since: t0, back_at: null, was_out: null, seen_at: t0 },
    ]);
    // Nothing changed: nothing written, out_since kept.
    expect(await recordStock(db, 'shop', plus(T0, HOUR))).toBe(0);
    expect(await seen(db)).toEqual([
      { sku: 'IN', in_stock: true, out_since: null, back_at: null, was_out: null, seen_at: t0 },
      { sku: 'OUT', in_stock: false, out_since: t0, back_at: null, was_out: null, seen_at: t0 },
    ]);
    await setStock(db, 'OUT', true);
    await setStock(db, 'IN', false);
    const t2 = plus(T0, 2 * DAY).toISOString();
    expect(await recordStock(db, 'shop', plus(T0, 2 * DAY))).toBe(2);
    expect(await seen(db)).toEqual([
      { sku: 'IN', in_stock: false, out_since: t2, back_at: null, was_out: null, seen_at: t2 },
      { sku: 'OUT', in_stock: true, out_since: null, back_at: t2, was_out: 2 * 86_400, seen_at: t2 },
    ]);
  });
});

describe('back_in_stock', () => {
  it('a product that flaps sends nothing new; one out for two days notifies its preorders once', async () => {
    const { db } = await shopDb(
      {
        customers: [1, 2, 3].map((id) => ({ id, email: `c${id}@example.com` })),
        products: [{ sku: 'A', category: 'x', in_stock: true }],
        preorders: [
          { customer_id: 1, sku: 'A' },
          { customer_id: 2, sku: 'A' },
        ],
      },
      cleanup,
    );
    const spec = active({ event: 'back_in_stock' });
    let now = T0;
    const step = async (ms: number, inStock?: boolean) => {
      if (inStock !== undefined) await setStock(db, 'A', inStock);
      now = plus(now, ms);
      return (await sweep(db, spec, now)).inserted;
    };
    expect(await step(0)).toBe(0); // enabled; A first seen in stock: no episode
    expect(await step(HOUR, false)).toBe(0);
    expect(await step(10 * MINUTE, true)).toBe(0); // out ten minutes
    expect(await step(HOUR, false)).toBe(0);
    expect(await step(2 * DAY, true)).toBe(2); // out two days: both preorders
    const back = now.getTime();
    // Someone asks after it came back: they see it in stock, no message.
    await db.query("INSERT INTO shop.preorders (customer_id, sku, created_at) VALUES (3, 'A', $1)", [plus(now, MINUTE)]);
    expect(await step(5 * MINUTE)).toBe(0);
    expect(await step(HOUR, false)).toBe(0);
    expect(await step(10 * MINUTE, true)).toBe(0); // flaps again
    expect(await step(HOUR)).toBe(0);
    expect(await keys(db)).toEqual([
      [1, `A@${back}`],
      [2, `A@${back}`],
    ]);
  });

  it('out_for sets how long an outage must last; a product out again by the sweep sends nothing', async () => {
    const { db } = await shopDb(
      {
        customers: [{ id: 1, email: 'c1@example.com' }],
        products: [{ sku: 'A', category: 'x', in_stock: false }],
        preorders: [{ customer_id: 1, sku: 'A' }],
      },
      cleanup,
    );
    const hourly = active({ event: 'back_in_stock', out_for: '1h' });
    const daily = active({ event: 'back_in_stock' });
    await sweep(db, hourly, T0, { name: 'hourly' });
    await sweep(db, daily, T0, { name: 'daily' });
    await setStock(db, 'A', true);
    // Back after two hours: enough for out_for 1h, not for the default 1d.
    expect((await sweep(db, hourly, plus(T0, 2 * HOUR), { name: 'hourly' })).inserted).toBe(1);
    expect((await sweep(db, daily, plus(T0, 2 * HOUR), { name: 'daily' })).inserted).toBe(0);

    // Out for two days, back (seen by one trigger's sweep), out again before the other's.
    await setStock(db, 'A', false);
    await sweep(db, hourly, plus(T0, 3 * HOUR), { name: 'hourly' });
    await setStock(db, 'A', true);
    expect((await sweep(db, hourly, plus(T0, 2 * DAY + 3 * HOUR), { name: 'hourly' })).inserted).toBe(1);
    await setStock(db, 'A', false);
    expect((await sweep(db, daily, plus(T0, 2 * DAY + 4 * HOUR), { name: 'daily' })).inserted).toBe(0);
    await setStock(db, 'A', true);
    expect((await sweep(db, daily, plus(T0, 2 * DAY + 5 * HOUR), { name: 'daily' })).inserted).toBe(0);
    expect(await keys(db, 'daily')).toEqual([]);
  });
});
