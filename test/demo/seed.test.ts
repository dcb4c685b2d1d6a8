import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDb, type Queryable } from '../../src/db/db.js';
import { seedShop, type DemoSite, type SeedOptions, type SeedSummary } from '../../src/demo/seed.js';
import { createTestDb, serverUrl, type TestDb } from '../support/db.js';

const SITES: DemoSite[] = [
  { id: 'shop-en', locales: ['en', 'ru'], currency: 'EUR', url: 'https://shop.example.com' },
  { id: 'shop-ru', locales: ['ru', 'en'], currency: 'RUB', url: 'https://shop.example.ru/' },
];
const NOW = new Date('2025-06-01T12:00:00Z');
const options = (seed: number): SeedOptions => ({ schema: 'shop', customers: 2000, seed, sites: SITES, now: NOW });

const TABLES = ['customers', 'products', 'orders', 'order_items', 'carts', 'cart_items', 'preorders'] as const;

/**
 * An md5 per table over every row's text, in byte order (COLLATE "C", so the
 * database's collation cannot reorder it) and in UTC (so timestamps print alike).
 */
async function fingerprint(db: { transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> }) {
  return db.transaction(async (tx) => {
    await tx.query(`SET LOCAL TimeZone = 'UTC'`);
    const [row] = await tx.query<Record<string, string>>(
      `SELECT ${TABLES.map((t) => `(SELECT md5(string_agg(r::text, E'\\n' ORDER BY r::text COLLATE "C")) FROM shop.${t} r) AS ${t}`).join(',\n')}`,
    );
    return row!;
  });
}

async function one<T>(db: Queryable, sql: string): Promise<T> {
  const [row] = await db.query<{ v: T }>(sql);
  return row!.v;
}

describe('seedShop', () => {
  let db: TestDb;
  let summary: SeedSummary;
  let print: Record<string, string>;
  beforeAll(async () => {
    db = await createTestDb({ migrated: false });
    summary = await seedShop(db, options(42));
    print = await fingerprint(db);
  });
  afterAll(() => db?.dispose());

  it('makes counts in the expected ranges', () => {
    expect(summary.customers).toBe(2000);
    expect(summary.products).toBe(40);
    expect(summary.orders).toBeGreaterThan(8000);
    expect(summary.orders).toBeLessThan(12000);
    expect(summary.orderItems / summary.orders).toBeGreaterThan(1.5);
    expect(summary.orderItems / summary.orders).toBeLessThan(2.5);
    expect(summary.carts).toBeGreaterThan(140);
    expect(summary.carts).toBeLessThan(260);
    expect(summary.preorders).toBeGreaterThan(20);
    expect(summary.preorders).toBeLessThan(90);
  });

  it('returns the counts that are in the tables', async () => {
    expect(await one(db, 'SELECT count(*) AS v FROM shop.order_items')).toBe(summary.orderItems);
    expect(await one(db, 'SELECT count(*) AS v FROM shop.customers')).toBe(summary.customers);
  });

  it('puts customers on the given sites in their locales, with addresses only under reserved domains', async () => {
    expect(
      await one(db, `SELECT count(*) AS v FROM shop.customers
                     WHERE (site, locale) NOT IN (('shop-en', 'en'), ('shop-en', 'ru'), ('shop-ru', 'ru'), ('shop-ru', 'en'))`),
    ).toBe(0);
    expect(await one(db, `SELECT count(*) AS v FROM shop.customers WHERE email !~* 'example[.,](com|org|net)$'`)).toBe(0);
    expect(await one(db, `SELECT count(DISTINCT lower(email)) = count(email) AS v FROM shop.customers`)).toBe(true);
    const noEmail = await one<number>(db, 'SELECT count(*) AS v FROM shop.customers WHERE email IS NULL');
    expect(noEmail / 2000).toBeGreaterThan(0.01);
    expect(noEmail / 2000).toBeLessThan(0.06);
  });

  it('cancels about 5% of orders', async () => {
    const share = await one<number>(db, `SELECT avg((status = 'cancelled')::int)::float8 AS v FROM shop.orders`);
    expect(share).toBeGreaterThan(0.035);
    expect(share).toBeLessThan(0.065);
  });

  it('makes every order total the sum of its 1–4 items', async () => {
    const bad = await one(
      db,
      `SELECT count(*) AS v
       FROM shop.orders o
       LEFT JOIN (SELECT order_id, sum(quantity * price) AS total, count(*) AS lines FROM shop.order_items GROUP BY order_id) i
         ON i.order_id = o.id
       WHERE i.total IS DISTINCT FROM o.total OR i.lines NOT BETWEEN 1 AND 4`,
    );
    expect(bad).toBe(0);
  });

  it('places orders between sign-up and now, and preorders only on out-of-stock products', async () => {
    expect(
      await one(db, `SELECT count(*) AS v FROM shop.orders o JOIN shop.customers c ON c.id = o.customer_id
                     WHERE o.created_at < c.created_at OR o.created_at > '${NOW.toISOString()}'`),
    ).toBe(0);
    expect(
      await one(db, `SELECT count(*) AS v FROM shop.preorders p JOIN shop.products USING (sku) WHERE in_stock`),
    ).toBe(0);
  });

  it('gives identical data for the same seed, replacing the previous shop', async () => {
    await db.exec('CREATE TABLE shop.leftover (id int)');
    expect(await seedShop(db, options(42))).toEqual(summary);
    expect(await fingerprint(db)).toEqual(print);
    expect(await one(db, `SELECT to_regclass('shop.leftover') IS NULL AS v`)).toBe(true);
  });

  it('gives different data for a different seed, with the same catalogue', async () => {
    await seedShop(db, options(7));
    const other = await fingerprint(db);
    expect(other.products).toBe(print.products);
    for (const t of TABLES.filter((t) => t !== 'products')) expect(other[t], t).not.toBe(print[t]);
  });

  it.skipIf(!serverUrl)('gives the same data on PGlite as on the server', async () => {
    const pglite = await openDb('memory://');
    try {
      await seedShop(pglite, options(42));
      expect(await fingerprint(pglite)).toEqual(print);
    } finally {
      await pglite.close();
    }
  });

  it('refuses options it cannot honour', async () => {
    await expect(seedShop(db, { ...options(1), sites: [] })).rejects.toThrow(/at least one site/);
    await expect(seedShop(db, { ...options(1), customers: -1 })).rejects.toThrow(/whole number of customers/);
    await expect(seedShop(db, { ...options(1), schema: 'Shop' })).rejects.toThrow(/not a valid identifier/);
  });
});
