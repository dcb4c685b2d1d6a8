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
  /** YYYY-MM-DD */
  birthday?: string | null;
  created_at?: string;
  email_opt_in?: boolean;
  phone?: string | null;
  sms_opt_in?: boolean;
}

export interface TestOrder {
  id: number;
  customer_id: number;
  status?: string;
  total?: number;
  created_at: string;
  site?: string;
}

export interface TestProduct {
  sku: string;
  category: string;
  name?: string;
  price?: number;
  in_stock?: boolean;
}

export interface TestOrderItem {
  order_id: number;
  sku: string;
  quantity?: number;
  price?: number;
}

export interface TestCart {
  id: number;
  customer_id: number;
  updated_at: string;
  site?: string;
}

export interface TestCartItem {
  cart_id: number;
  sku: string;
  quantity?: number;
}

export interface TestPreorder {
  customer_id: number;
  sku: string;
  created_at?: string;
}

export interface TestPushSubscription {
  id: number;
  customer_id: number;
  kind: 'webpush' | 'fcm';
  endpoint?: string | null;
  p256dh?: string | null;
  auth?: string | null;
  token?: string | null;
  created_at?: string;
}

export interface TestShop {
  customers: TestCustomer[];
  orders?: TestOrder[];
  products?: TestProduct[];
  order_items?: TestOrderItem[];
  carts?: TestCart[];
  cart_items?: TestCartItem[];
  preorders?: TestPreorder[];
  push_subscriptions?: TestPushSubscription[];
}

/** Creates the shop contract in `shop` and fills it with hand-made rows, set-based: one INSERT per table. */
export async function createShop(db: Queryable, data: TestShop): Promise<void> {
  await db.exec(shopContractSql('shop'));
  const fill = (sql: string, rows: object[]) => db.query(sql, [JSON.stringify(rows)]);
  await fill(
    `INSERT INTO shop.customers (id, email, first_name, last_name, site, locale, country, city, birthday, created_at, email_opt_in, phone, sms_opt_in)
     SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(id bigint, email text, first_name text, last_name text, site text,
            locale text, country text, city text, birthday date, created_at timestamptz, email_opt_in boolean, phone text, sms_opt_in boolean)`,
    data.customers.map((c) => ({
      site: 'shop-en',
      locale: 'en',
      created_at: '2024-01-01T00:00:00Z',
      email_opt_in: true,
      first_name: null,
      last_name: null,
      country: null,
      city: null,
      birthday: null,
      phone: null,
      sms_opt_in: false,
      ...c,
    })),
  );
  await fill(
    `INSERT INTO shop.orders (id, customer_id, site, status, total, currency, created_at)
     SELECT id, customer_id, site, status, total, 'EUR', created_at
       FROM jsonb_to_recordset($1::jsonb) AS x(id bigint, customer_id bigint, site text, status text, total numeric, created_at timestamptz)`,
    (data.orders ?? []).map((o) => ({ site: 'shop-en', status: 'delivered', total: 100, ...o })),
  );
  await fill(
    `INSERT INTO shop.products (sku, name, category, price, currency, in_stock)
     SELECT sku, name, category, price, 'EUR', in_stock
       FROM jsonb_to_recordset($1::jsonb) AS x(sku text, name text, category text, price numeric, in_stock boolean)`,
    (data.products ?? []).map((p) => ({ name: p.sku, price: 10, in_stock: true, ...p })),
  );
  await fill(
    `INSERT INTO shop.order_items (order_id, sku, quantity, price)
     SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(order_id bigint, sku text, quantity int, price numeric)`,
    (data.order_items ?? []).map((i) => ({ quantity: 1, price: 10, ...i })),
  );
  await fill(
    `INSERT INTO shop.carts (id, customer_id, site, updated_at)
     SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(id bigint, customer_id bigint, site text, updated_at timestamptz)`,
    (data.carts ?? []).map((k) => ({ site: 'shop-en', ...k })),
  );
  await fill(
    `INSERT INTO shop.cart_items (cart_id, sku, quantity)
     SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(cart_id bigint, sku text, quantity int)`,
    (data.cart_items ?? []).map((i) => ({ quantity: 1, ...i })),
  );
  await fill(
    `INSERT INTO shop.preorders (customer_id, sku, created_at)
     SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(customer_id bigint, sku text, created_at timestamptz)`,
    (data.preorders ?? []).map((p) => ({ created_at: '2024-01-01T00:00:00Z', ...p })),
  );
  await fill(
    `INSERT INTO shop.push_subscriptions (id, customer_id, kind, endpoint, p256dh, auth, token, created_at)
     SELECT * FROM jsonb_to_recordset($1::jsonb)
         AS x(id bigint, customer_id bigint, kind text, endpoint text, p256dh text, auth text, token text, created_at timestamptz)`,
    (data.push_subscriptions ?? []).map((p) => ({ endpoint: null, p256dh: null, auth: null, token: null, created_at: '2024-01-01T00:00:00Z', ...p })),
  );
}

/**
 * `count` customers whose only order is a year old: all of them in the
 * example workspace's lapsed segment, so all in winback's audience (its
 * control group aside).
 */
export async function lapsedShop(db: Queryable, count: number): Promise<void> {
  await createShop(db, {
    customers: [],
    // The campaign's four SKUs (plan refuses SKUs the shop does not have).
    products: [
      { sku: 'SH-001', category: 'shoes' },
      { sku: 'OW-001', category: 'outerwear' },
      { sku: 'BG-001', category: 'bags' },
      { sku: 'AC-002', category: 'accessories' },
    ],
  });
  await db.query(
    `INSERT INTO shop.customers (id, email, first_name, site, locale, created_at, email_opt_in)
     SELECT i, 'customer' || i || '@example.com', 'Customer ' || i,
            CASE WHEN i % 3 = 0 THEN 'shop-ru' ELSE 'shop-en' END, CASE WHEN i % 3 = 0 THEN 'ru' ELSE 'en' END,
            now() - interval '2 years', true
       FROM generate_series(1, $1::int) AS i`,
    [count],
  );
  await db.query(
    `INSERT INTO shop.orders (id, customer_id, site, status, total, currency, created_at)
     SELECT i, i, CASE WHEN i % 3 = 0 THEN 'shop-ru' ELSE 'shop-en' END, 'delivered', 100, 'EUR', now() - interval '1 year'
       FROM generate_series(1, $1::int) AS i`,
    [count],
  );
}

/** The four products the example workspace's campaign names (plan refuses SKUs the shop does not have). */
export const EXAMPLE_PRODUCTS: TestProduct[] = [
  { sku: 'SH-001', category: 'shoes', name: 'Trail Boot', price: 129.9 },
  { sku: 'OW-001', category: 'outerwear', name: 'Wool Coat', price: 1249.5 },
  { sku: 'BG-001', category: 'bags', name: 'Tote', price: 99 },
  { sku: 'AC-002', category: 'accessories', name: 'Scarf', price: 39 },
];
