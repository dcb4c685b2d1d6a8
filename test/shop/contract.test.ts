import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHOP_CONTRACT, shopContractSql, shopIndexesSql } from '../../src/shop/contract.js';
import { createTestDb, type TestDb } from '../support/db.js';

describe('shop data contract', () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await createTestDb({ migrated: false });
    await db.exec(shopContractSql('shop'));
    await db.exec(shopIndexesSql('shop'));
  });
  afterAll(() => db?.dispose());

  it('creates every table and column of SHOP_CONTRACT, with its type and nullability, and nothing else', async () => {
    const rows = await db.query<{ table: string; column: string; type: string; not_null: boolean }>(
      `SELECT c.relname AS table, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null
       FROM pg_attribute a
       JOIN pg_class c ON c.oid = a.attrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'shop' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
       ORDER BY c.relname, a.attnum`,
    );
    const expected = SHOP_CONTRACT.flatMap((t) =>
      t.columns.map((c) => ({ table: t.name, column: c.name, type: c.type, not_null: c.notNull })),
    );
    // Tables in the catalog's byte order; within a table, declaration order (a stable sort keeps it).
    const byTable = (a: { table: string }, b: { table: string }) => (a.table < b.table ? -1 : a.table > b.table ? 1 : 0);
    expect(rows).toEqual([...expected].sort(byTable));
  });

  it('has no foreign keys, so views can stand in for the tables', async () => {
    const [row] = await db.query<{ n: number }>(
      `SELECT count(*) AS n FROM pg_constraint WHERE contype = 'f' AND connamespace = 'shop'::regnamespace`,
    );
    expect(row!.n).toBe(0);
  });

  it('creates the recommended indexes', async () => {
    const rows = await db.query<{ indexname: string }>(
      `SELECT indexname FROM pg_indexes WHERE schemaname = 'shop' AND indexname NOT LIKE '%_pkey' ORDER BY indexname`,
    );
    expect(rows.map((r) => r.indexname)).toEqual([
      'cart_items_cart_idx',
      'carts_customer_idx',
      'carts_updated_idx',
      'customers_city_lower_idx',
      'customers_created_idx',
      'customers_email_lower_idx',
      'customers_site_idx',
      'order_items_order_idx',
      'order_items_sku_idx',
      'orders_created_idx',
      'orders_customer_created_idx',
      'preorders_sku_idx',
      'push_subscriptions_customer_idx',
    ]);
  });

  it('quotes the schema name, so a reserved word works', async () => {
    await db.exec(shopContractSql('order'));
    const [row] = await db.query<{ n: number }>(
      `SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'order'`,
    );
    expect(row!.n).toBe(SHOP_CONTRACT.length);
  });

  it.each(['Shop', 'shop-1', '1shop', 'shop"; DROP SCHEMA public; --', '', 'shop.customers'])(
    'rejects the schema name %j',
    (name) => {
      expect(() => shopContractSql(name)).toThrow(/not a valid identifier/);
      expect(() => shopIndexesSql(name)).toThrow(/not a valid identifier/);
    },
  );

  it('is documented column by column in docs/shop-data-contract.md', () => {
    const doc = readFileSync(new URL('../../docs/shop-data-contract.md', import.meta.url), 'utf8');
    const documented = doc
      .split(/^### /m)
      .slice(1)
      .map((section) => ({
        name: /^`(\w+)`/.exec(section)?.[1],
        columns: [...section.matchAll(/^\| `(\w+)` \| ([^|]+?) \| (yes|no) \|/gm)].map((m) => [m[1], m[2], m[3]]),
      }));
    const contract = SHOP_CONTRACT.map((t) => ({
      name: t.name,
      // The page writes timestamptz, as people do; format_type spells it out.
      columns: t.columns.map((c) => [c.name, c.type.replace('timestamp with time zone', 'timestamptz'), c.notNull ? 'yes' : 'no']),
    }));
    expect(documented).toEqual(contract);
  });
});
