import { describe, expect, it } from 'vitest';
import { useCleanups } from '../support/cleanup.js';
import { active, at, DAY, HOUR, keys, plus, shopDb, sweep } from './support.js';

const cleanup = useCleanups();

const T0 = at('2026-06-10T12:00:00Z');
const iso = (d: Date) => d.toISOString();

describe('order_total_over', () => {
  it("compares totals in the order's site's currency, on the trigger's sites", async () => {
    const { db } = await shopDb(
      {
        customers: [
          { id: 1, email: 'c1@example.com' },
          { id: 2, email: 'c2@example.com', site: 'shop-us' },
        ],
        orders: [
          { id: 1, customer_id: 1, total: 500, created_at: iso(plus(T0, HOUR)) },
          { id: 2, customer_id: 2, total: 500, created_at: iso(plus(T0, HOUR)), site: 'shop-us' },
          { id: 3, customer_id: 2, total: 500, created_at: iso(plus(T0, HOUR)), site: 'shop-us' },
        ],
      },
      cleanup,
    );
    // Order 2 is in dollars, shop-us's currency; order 3 in euros on shop-us is not compared.
    await db.query("UPDATE shop.orders SET currency = 'USD' WHERE id = 2");
    const spec = active({ event: 'order_total_over', amount: 300 });
    await sweep(db, spec, T0);
    await sweep(db, spec, plus(T0, 2 * HOUR));
    expect(await keys(db)).toEqual([
      [1, 'order:1'],
      [2, 'order:2'],
    ]);

    const english = active({ event: 'order_total_over', amount: 300, site: 'shop-en' });
    await sweep(db, english, T0, { name: 'en' });
    await sweep(db, english, plus(T0, 2 * HOUR), { name: 'en' });
    expect(await keys(db, 'en')).toEqual([[1, 'order:1']]);
  });
});

describe('no_order_after_signup', () => {
  it('a cancelled order is no order', async () => {
    const { db } = await shopDb(
      {
        customers: [1, 2].map((id) => ({ id, email: `c${id}@example.com`, created_at: iso(plus(T0, -3 * DAY + HOUR)) })),
        orders: [
          { id: 1, customer_id: 1, created_at: iso(plus(T0, -DAY)), status: 'cancelled' },
          { id: 2, customer_id: 2, created_at: iso(plus(T0, -DAY)), status: 'new' },
        ],
      },
      cleanup,
    );
    const spec = active({ event: 'no_order_after_signup', after: '3d' });
    await sweep(db, spec, T0);
    await sweep(db, spec, plus(T0, 2 * HOUR));
    expect(await keys(db)).toEqual([[1, 'signup']]);
  });
});

describe('cross_sell_after_purchase', () => {
  async function crossSellShop(careInStock: boolean) {
    return shopDb(
      {
        customers: [{ id: 1, email: 'c1@example.com' }],
        products: [
          { sku: 'SH', category: 'shoes' },
          { sku: 'BG', category: 'bags' },
          { sku: 'CR', category: 'care', in_stock: careInStock },
        ],
        orders: [
          { id: 1, customer_id: 1, created_at: iso(plus(T0, -7 * DAY + HOUR)) },
          { id: 2, customer_id: 1, created_at: iso(plus(T0, -7 * DAY + HOUR)) },
          { id: 3, customer_id: 1, created_at: iso(plus(T0, -7 * DAY + HOUR)), status: 'cancelled' },
        ],
        order_items: [
          { order_id: 1, sku: 'SH' },
          { order_id: 2, sku: 'BG' },
          { order_id: 3, sku: 'SH' },
        ],
      },
      cleanup,
    );
  }

  it('fires for orders holding the categories (not cancelled), when something of recommend is in stock', async () => {
    const { db } = await crossSellShop(true);
    const spec = active({ event: 'cross_sell_after_purchase', after: '7d', categories: ['shoes'], recommend: ['care'] });
    await sweep(db, spec, T0);
    await sweep(db, spec, plus(T0, 2 * HOUR));
    expect(await keys(db)).toEqual([[1, 'order:1']]);
  });

  it('has nothing to say when every recommendable product is out of stock', async () => {
    const { db } = await crossSellShop(false);
    const spec = active({ event: 'cross_sell_after_purchase', after: '7d', categories: ['shoes'], recommend: ['care'] });
    await sweep(db, spec, T0);
    await sweep(db, spec, plus(T0, 2 * HOUR));
    expect(await keys(db)).toEqual([]);
    // Without recommend there is no such test.
    const plain = active({ event: 'cross_sell_after_purchase', after: '7d', categories: ['shoes'] });
    await sweep(db, plain, T0, { name: 'plain' });
    await sweep(db, plain, plus(T0, 2 * HOUR), { name: 'plain' });
    expect(await keys(db, 'plain')).toEqual([[1, 'order:1']]);
  });
});
