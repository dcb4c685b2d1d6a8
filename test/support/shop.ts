import type { Queryable } from '../../src/db/db.js';
import { shopContractSql } from '../../src/shop/contract.js';

export interface TestCustomer {
  id: number;
  email: string | null;
  first_name?: string | null;
  last_name?: string | null;
  site?: string;
  locale?: string;
  country?: string | null;
  city?: string | null;
  created_at?: string;
  email_opt_in?: boolean;
}

export interface TestOrder {
  id: number;
  customer_id: number;
  status?: string;
  total?: number;
  created_at: string;
  site?: string;
}

/** Creates the shop contract in `shop` and fills it with hand-made rows, set-based. */
export async function createShop(db: Queryable, data: { customers: TestCustomer[]; orders?: TestOrder[] }): Promise<void> {
  await db.exec(shopContractSql('shop'));
  await db.query(
    `INSERT INTO shop.customers (id, email, first_name, last_name, site, locale, country, city, created_at, email_opt_in)
     SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(id bigint, email text, first_name text, last_name text, site text,
            locale text, country text, city text, created_at timestamptz, email_opt_in boolean)`,
    [
      JSON.stringify(
        data.customers.map((c) => ({
          site: 'shop-en',
          locale: 'en',
          created_at: '2024-01-01T00:00:00Z',
          email_opt_in: true,
          first_name: null,
          last_name: null,
          country: null,
          city: null,
          ...c,
        })),
      ),
    ],
  );
  await db.query(
    `INSERT INTO shop.orders (id, customer_id, site, status, total, currency, created_at)
     SELECT id, customer_id, site, status, total, 'EUR', created_at
       FROM jsonb_to_recordset($1::jsonb) AS x(id bigint, customer_id bigint, site text, status text, total numeric, created_at timestamptz)`,
    [JSON.stringify((data.orders ?? []).map((o) => ({ site: 'shop-en', status: 'delivered', total: 100, ...o })))],
  );
}
