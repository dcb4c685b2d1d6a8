/**
 * The shop data contract: the tables herald reads from the shop's schema
 * (named in herald.yaml). herald never writes them; a shop provides them as
 * tables or as views over its own tables, and the demo and tests create them
 * with `shopContractSql`. docs/shop-data-contract.md is the user-facing page.
 *
 * There are no foreign keys on purpose: a shop maps its own tables with views,
 * and views cannot carry them.
 */
import { quoteIdent } from '../db/ident.js';

export interface ContractColumn {
  name: string;
  /** The type as PostgreSQL's format_type() spells it, so a catalog check can compare it directly. */
  type: string;
  /** NOT NULL: herald relies on a value being there. */
  notNull: boolean;
  meaning: string;
  /** Needed only by a campaign or trigger that sends on this channel. */
  channel?: 'sms' | 'push';
}

export interface ContractTable {
  name: string;
  meaning: string;
  columns: ContractColumn[];
  /** Needed only by a campaign or trigger that sends on this channel; a shop without it sends email alone. */
  channel?: 'sms' | 'push';
}

function col(name: string, type: string, notNull: boolean, meaning: string): ContractColumn {
  return { name, type, notNull, meaning };
}

const TIMESTAMPTZ = 'timestamp with time zone';
const MONEY = 'numeric(12,2)';

export const SHOP_CONTRACT: readonly ContractTable[] = [
  {
    name: 'customers',
    meaning: 'One row per customer account; the people herald writes to.',
    columns: [
      col('id', 'bigint', true, 'The shop’s customer id; every other table refers to it.'),
      col('email', 'text', false, 'Where messages go; a customer without a usable address gets none.'),
      col('phone', 'text', false, 'Mobile number for SMS, in any format; herald reads it in the customer’s country and sends to it in E.164.'),
      col('first_name', 'text', false, 'Given name, for greetings.'),
      col('last_name', 'text', false, 'Family name.'),
      col('site', 'text', true, 'The storefront the customer belongs to; matches a site id in herald.yaml.'),
      col('locale', 'text', true, 'The language the customer reads, e.g. en or ru; one of the site’s locales.'),
      col('country', 'text', false, 'ISO 3166-1 alpha-2 country code.'),
      col('city', 'text', false, 'City name as the customer entered it.'),
      col('birthday', 'date', false, 'Date of birth, for birthday messages.'),
      col('created_at', TIMESTAMPTZ, true, 'When the account was created.'),
      col('email_opt_in', 'boolean', true, 'Consent to marketing email; campaigns go only to customers where it is true.'),
      { ...col('sms_opt_in', 'boolean', true, 'Consent to marketing SMS; SMS goes only to customers where it is true.'), channel: 'sms' },
    ],
  },
  {
    name: 'products',
    meaning: 'The catalogue, for product blocks in messages and for segments by category.',
    columns: [
      col('sku', 'text', true, 'Stock keeping unit; the product’s key.'),
      col('name', 'text', true, 'Display name.'),
      col('category', 'text', true, 'Category, e.g. shoes or bags.'),
      col('price', MONEY, true, 'Current price in `currency`.'),
      col('currency', 'text', true, 'ISO 4217 currency code of `price`.'),
      col('image_url', 'text', false, 'Absolute URL of the main picture.'),
      col('url', 'text', false, 'Absolute URL of the product page.'),
      col('in_stock', 'boolean', true, 'Whether it can be bought now; back-in-stock messages watch it.'),
    ],
  },
  {
    name: 'orders',
    meaning: 'Placed orders, for purchase history segments and order-based messages.',
    columns: [
      col('id', 'bigint', true, 'The shop’s order id.'),
      col('customer_id', 'bigint', true, 'Who placed it (customers.id).'),
      col('site', 'text', true, 'The storefront it was placed on.'),
      col('status', 'text', true, 'new, paid, shipped, delivered or cancelled.'),
      col('total', MONEY, true, 'Amount charged, in `currency`.'),
      col('currency', 'text', true, 'ISO 4217 currency code of `total`.'),
      col('created_at', TIMESTAMPTZ, true, 'When it was placed.'),
    ],
  },
  {
    name: 'order_items',
    meaning: 'The lines of each order.',
    columns: [
      col('order_id', 'bigint', true, 'The order (orders.id).'),
      col('sku', 'text', true, 'The product (products.sku).'),
      col('quantity', 'integer', true, 'Units bought.'),
      col('price', MONEY, true, 'Unit price paid, in the order’s currency.'),
    ],
  },
  {
    name: 'carts',
    meaning: 'Open shopping carts, for abandoned-cart messages.',
    columns: [
      col('id', 'bigint', true, 'The shop’s cart id.'),
      col('customer_id', 'bigint', true, 'Whose cart it is (customers.id).'),
      col('site', 'text', true, 'The storefront it belongs to.'),
      col('updated_at', TIMESTAMPTZ, true, 'Last change; a cart idle for a while counts as abandoned.'),
    ],
  },
  {
    name: 'cart_items',
    meaning: 'What is in each cart.',
    columns: [
      col('cart_id', 'bigint', true, 'The cart (carts.id).'),
      col('sku', 'text', true, 'The product (products.sku).'),
      col('quantity', 'integer', true, 'Units in the cart.'),
    ],
  },
  {
    name: 'push_subscriptions',
    channel: 'push',
    meaning: 'Browsers and app installs that agreed to push notifications: web push subscriptions and FCM device tokens.',
    columns: [
      col('id', 'bigint', true, 'The shop’s subscription id.'),
      col('customer_id', 'bigint', true, 'Whose device it is (customers.id).'),
      col('kind', 'text', true, 'webpush (a browser’s subscription) or fcm (a Firebase Cloud Messaging registration token).'),
      col('endpoint', 'text', false, 'webpush: the push service URL the browser gave.'),
      col('p256dh', 'text', false, 'webpush: the browser’s public key (keys.p256dh), base64url.'),
      col('auth', 'text', false, 'webpush: the browser’s auth secret (keys.auth), base64url.'),
      col('token', 'text', false, 'fcm: the registration token the app got from Firebase.'),
      col('created_at', TIMESTAMPTZ, true, 'When the device subscribed.'),
    ],
  },
  {
    name: 'preorders',
    meaning: 'Customers waiting for an out-of-stock product, for back-in-stock messages.',
    columns: [
      col('customer_id', 'bigint', true, 'Who is waiting (customers.id).'),
      col('sku', 'text', true, 'For which product (products.sku).'),
      col('created_at', TIMESTAMPTZ, true, 'When they asked.'),
    ],
  },
];

/**
 * The DDL that creates the contract's tables in a new schema. Kept as literal
 * SQL so it reads like the contract; test/shop/contract.test.ts checks it
 * against SHOP_CONTRACT.
 */
export function shopContractSql(schema: string): string {
  const s = quoteIdent(schema);
  return `
CREATE SCHEMA ${s};

CREATE TABLE ${s}.customers (
  id            bigint      PRIMARY KEY,
  email         text,
  phone         text,
  first_name    text,
  last_name     text,
  site          text        NOT NULL,
  locale        text        NOT NULL,
  country       text,
  city          text,
  birthday      date,
  created_at    timestamptz NOT NULL,
  email_opt_in  boolean     NOT NULL DEFAULT false,
  sms_opt_in    boolean     NOT NULL DEFAULT false
);

CREATE TABLE ${s}.products (
  sku        text          PRIMARY KEY,
  name       text          NOT NULL,
  category   text          NOT NULL,
  price      numeric(12,2) NOT NULL,
  currency   text          NOT NULL,
  image_url  text,
  url        text,
  in_stock   boolean       NOT NULL DEFAULT true
);

CREATE TABLE ${s}.orders (
  id           bigint        PRIMARY KEY,
  customer_id  bigint        NOT NULL,
  site         text          NOT NULL,
  status       text          NOT NULL,
  total        numeric(12,2) NOT NULL,
  currency     text          NOT NULL,
  created_at   timestamptz   NOT NULL
);

CREATE TABLE ${s}.order_items (
  order_id  bigint        NOT NULL,
  sku       text          NOT NULL,
  quantity  int           NOT NULL,
  price     numeric(12,2) NOT NULL
);

CREATE TABLE ${s}.carts (
  id           bigint      PRIMARY KEY,
  customer_id  bigint      NOT NULL,
  site         text        NOT NULL,
  updated_at   timestamptz NOT NULL
);

CREATE TABLE ${s}.cart_items (
  cart_id   bigint NOT NULL,
  sku       text   NOT NULL,
  quantity  int    NOT NULL
);

CREATE TABLE ${s}.push_subscriptions (
  id           bigint      PRIMARY KEY,
  customer_id  bigint      NOT NULL,
  kind         text        NOT NULL CHECK (kind IN ('webpush', 'fcm')),
  endpoint     text,
  p256dh       text,
  auth         text,
  token        text,
  created_at   timestamptz NOT NULL
);

CREATE TABLE ${s}.preorders (
  customer_id  bigint      NOT NULL,
  sku          text        NOT NULL,
  created_at   timestamptz NOT NULL
);
`;
}

/**
 * The indexes the contract recommends: each serves a lookup herald's segment
 * and message queries make. Separate from the DDL so a bulk load can create
 * them after the rows are in, which is much faster than maintaining them row
 * by row.
 */
export function shopIndexesSql(schema: string): string {
  const s = quoteIdent(schema);
  return `
-- A customer's purchase history, newest last: "ordered in the last 90 days", "first order".
CREATE INDEX orders_customer_created_idx ON ${s}.orders (customer_id, created_at);
-- An order's lines, for totals and for product blocks in order messages.
CREATE INDEX order_items_order_idx ON ${s}.order_items (order_id);
-- Who bought a product or category: "bought shoes", cross-sell.
CREATE INDEX order_items_sku_idx ON ${s}.order_items (sku);
-- A customer's cart, for abandoned-cart messages.
CREATE INDEX carts_customer_idx ON ${s}.carts (customer_id);
-- A cart's contents.
CREATE INDEX cart_items_cart_idx ON ${s}.cart_items (cart_id);
-- A batch's push subscriptions, loaded by customer.
CREATE INDEX push_subscriptions_customer_idx ON ${s}.push_subscriptions (customer_id);
-- Who waits for a product that came back in stock.
CREATE INDEX preorders_sku_idx ON ${s}.preorders (sku);
-- Every audience is per site.
CREATE INDEX customers_site_idx ON ${s}.customers (site);
-- Suppressions and bounces arrive as addresses; matching is case-insensitive.
CREATE INDEX customers_email_lower_idx ON ${s}.customers (lower(email));
-- Segments by city ignore case: "city: Berlin" reads lower(city).
CREATE INDEX customers_city_lower_idx ON ${s}.customers (lower(city));
-- Trigger sweeps read the events of a short window: orders placed (order_total_over, cross_sell_after_purchase),
CREATE INDEX orders_created_idx ON ${s}.orders (created_at);
-- customers signed up (no_order_after_signup),
CREATE INDEX customers_created_idx ON ${s}.customers (created_at);
-- carts last changed (cart_abandoned).
CREATE INDEX carts_updated_idx ON ${s}.carts (updated_at);
`;
}
