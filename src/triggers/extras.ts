import type { Queryable } from '../db/db.js';
import { quoteIdent } from '../db/ident.js';
import { dateText, money } from '../render/format.js';
import { siteHosts, type SiteHosts } from '../render/link-check.js';
import type { MessageExtras } from '../render/message.js';
import {
  cartUrl,
  checkProducts,
  lineTokens,
  linesTotal,
  loadProducts,
  productTokens,
  type CartToken,
  type LeftOutProduct,
  type LineRow,
  type OrderToken,
  type ProductRow,
} from '../render/products.js';
import { cancelledStatuses, siteTimeZone, type Project, type Site, type Trigger } from '../workspace/model.js';
import { unboughtRecommendation } from './recommend.js';

/**
 * The event data of a batch of a trigger's claimed messages, as tokens: the
 * cart, the order, the products, an sql trigger's payload (render/tokens.ts
 * says which event has which). Read from the shop when the message is sent,
 * not when the sweep found the occurrence: the exit check (exits.ts) made
 * sure, in the same claim, that what the message is about still holds.
 *
 * One statement per batch for each kind of data (cart lines, orders, order
 * lines, products), never one per message. Products from the shop's data
 * go through the campaign products' check (checkProducts) against the
 * message's site: one with a link or image that is not http(s) or off the
 * site's domains is left out, and listed so the report can count it.
 * Formatting is the preview's (render/format.ts, render/products.ts).
 */

/** A claimed ledger row of the trigger, as far as its tokens depend on it. */
export interface TriggerRow {
  id: number;
  site: string;
  locale: string;
  customer_id: number | null;
  /** What the sweep wrote (exits.ts lists each event's payload). */
  payload: unknown;
}

/** A message's tokens, and the products it leaves out. */
export type TriggerExtras = MessageExtras & { leftOut: LeftOutProduct[] };

export interface TriggerExtrasInput {
  /** The shop's schema (source.schema). */
  schema: string;
  project: Project;
  trigger: Trigger;
  /** The trigger's name, for errors. */
  name: string;
  rows: readonly TriggerRow[];
}

/** How many products a cross-sell shows: two rows of the product grid. */
const RECOMMENDED = 4;

/** loadTriggerExtras: each row's tokens, by ledger row id. */
export async function loadTriggerExtras(db: Queryable, i: TriggerExtrasInput): Promise<Map<number, TriggerExtras>> {
  const s = quoteIdent(i.schema);
  const each = perRow(i);
  if (i.rows.length === 0) return new Map();
  switch (i.trigger.event) {
    case 'cart_abandoned': {
      const lines = await cartLines(db, s, ids(i, 'cart_id'));
      return each((row, m) => {
        const all = lines.get(idOf(i, row, 'cart_id')) ?? [];
        // The total is the whole cart's, as the cart page shows it, even when a line is left out of the message.
        const cart: CartToken = { items: lineTokens(m.keep(all), row.locale), total: linesTotal(all, row.locale, m.site.currency), url: cartUrl(m.site) };
        return { products: [], cart };
      });
    }
    case 'back_in_stock': {
      const skus = [...new Set(i.rows.map((row) => skuOf(i, row)))];
      const bySku = new Map((await loadProducts(db, i.schema, skus)).map((p) => [p.sku, p]));
      return each((row, m) => {
        const product = bySku.get(skuOf(i, row));
        return { products: productTokens(m.keep(product ? [product] : []), row.locale) };
      });
    }
    case 'order_total_over':
    case 'cross_sell_after_purchase': {
      const orderIds = ids(i, 'order_id');
      const orders = await loadOrders(db, s, orderIds);
      const lines = await orderLines(db, s, orderIds);
      const recommend = i.trigger.event === 'cross_sell_after_purchase' ? i.trigger.recommend : undefined;
      const picks = recommend ? await recommendations(db, s, recommend, cancelledStatuses(i.project), customers(i.rows)) : new Map<number, ProductRow[]>();
      return each((row, m) => {
        const id = idOf(i, row, 'order_id');
        const o = orders.get(id);
        const picked = row.customer_id === null ? [] : (picks.get(row.customer_id) ?? []);
        const products = productTokens(m.keep(picked), row.locale);
        if (!o) return { products };
        const order: OrderToken = {
          id: String(o.id),
          total: money(o.total, o.currency, row.locale),
          created_at: dateText(o.created_at, row.locale, siteTimeZone(i.project, m.site)),
          items: lineTokens(m.keep(lines.get(id) ?? []), row.locale),
        };
        return { products, order };
      });
    }
    case 'sql':
      return each((row) => ({ products: [], event: eventOf(row.payload) }));
    case 'birthday':
    case 'no_order_after_signup':
      return each(() => ({ products: [] }));
  }
}

/** Per row: its site, and a `keep` that checks products against that site's domains and records what it leaves out. */
interface RowContext {
  site: Site;
  keep<T extends ProductRow>(rows: readonly T[]): T[];
}

function perRow(i: TriggerExtrasInput) {
  const sites = new Map(i.project.sites.map((s) => [s.id, s]));
  const hosts = new Map<string, SiteHosts>();
  return (make: (row: TriggerRow, m: RowContext) => MessageExtras): Map<number, TriggerExtras> => {
    const out = new Map<number, TriggerExtras>();
    for (const row of i.rows) {
      const site = sites.get(row.site);
      if (!site) throw new Error(`message ${row.id} of trigger ${i.name} is on site "${row.site}", which herald.yaml does not have`);
      let h = hosts.get(site.id);
      if (!h) hosts.set(site.id, (h = siteHosts(i.project, site)));
      const siteHostList = [h];
      const leftOut: LeftOutProduct[] = [];
      const keep = <T extends ProductRow>(rows: readonly T[]): T[] => {
        const checked = checkProducts(rows, siteHostList);
        leftOut.push(...checked.leftOut);
        return checked.products;
      };
      out.set(row.id, { ...make(row, { site, keep }), leftOut });
    }
    return out;
  };
}

function field(payload: unknown, key: string): unknown {
  return payload !== null && typeof payload === 'object' && !Array.isArray(payload) ? (payload as Record<string, unknown>)[key] : undefined;
}

/** A payload's id field (cart_id, order_id); a row without one is a sweep's mistake, not something to send around. */
function idOf(i: TriggerExtrasInput, row: TriggerRow, key: 'cart_id' | 'order_id'): number {
  const v = Number(field(row.payload, key));
  if (!Number.isSafeInteger(v)) throw new Error(`message ${row.id} of trigger ${i.name} has no ${key} in its payload: ${JSON.stringify(row.payload)}`);
  return v;
}

function skuOf(i: TriggerExtrasInput, row: TriggerRow): string {
  const v = field(row.payload, 'sku');
  if (typeof v !== 'string') throw new Error(`message ${row.id} of trigger ${i.name} has no sku in its payload: ${JSON.stringify(row.payload)}`);
  return v;
}

function ids(i: TriggerExtrasInput, key: 'cart_id' | 'order_id'): number[] {
  return [...new Set(i.rows.map((row) => idOf(i, row, key)))];
}

function customers(rows: readonly TriggerRow[]): number[] {
  return [...new Set(rows.flatMap((r) => (r.customer_id === null ? [] : [r.customer_id])))];
}

/**
 * An sql trigger's payload: {"event": <the SELECT's payload column>}. Only an
 * object has keys to be `event.*` tokens; anything else (no payload column,
 * NULL, a number) gives none.
 */
function eventOf(payload: unknown): Record<string, unknown> {
  const event = field(payload, 'event');
  return event !== null && typeof event === 'object' && !Array.isArray(event) ? (event as Record<string, unknown>) : {};
}

/** Rows grouped by their `key` column, without it, in the order the statement gave them. */
function groupBy<K extends string, T extends Record<K, number>>(rows: readonly T[], key: K): Map<number, Omit<T, K>[]> {
  const out = new Map<number, Omit<T, K>[]>();
  for (const { [key]: k, ...rest } of rows) {
    const list = out.get(k);
    if (list) list.push(rest);
    else out.set(k, [rest]);
  }
  return out;
}

/**
 * cartLines: what the batch's carts hold now, each line with its product at
 * today's price. A line whose SKU the catalogue lacks has no name or price to
 * show, and is left out. cart_items has no order of its own: by name.
 * Uses cart_items (cart_id).
 */
async function cartLines(db: Queryable, s: string, cartIds: readonly number[]): Promise<Map<number, LineRow[]>> {
  const rows = await db.query<LineRow & { cart_id: number }>(
    `SELECT i.cart_id, p.sku, p.name, p.category, p.price::text AS price, p.currency, p.url, p.image_url, i.quantity
       FROM ${s}.cart_items i
       JOIN ${s}.products p ON p.sku = i.sku
      WHERE i.cart_id = ANY($1::bigint[])
      ORDER BY i.cart_id, p.name, p.sku`,
    [cartIds],
  );
  return groupBy(rows, 'cart_id');
}

interface OrderRow {
  id: number;
  total: string;
  currency: string;
  created_at: Date;
}

/** loadOrders: the batch's orders, by id (orders' key). */
async function loadOrders(db: Queryable, s: string, orderIds: readonly number[]): Promise<Map<number, OrderRow>> {
  const rows = await db.query<OrderRow>(`SELECT o.id, o.total::text AS total, o.currency, o.created_at FROM ${s}.orders o WHERE o.id = ANY($1::bigint[])`, [orderIds]);
  return new Map(rows.map((o) => [o.id, o]));
}

/**
 * orderLines: the lines of the batch's orders, each at the unit price paid,
 * in the order's currency, with its product's name and links. A line whose
 * SKU the catalogue no longer has is left out. Uses order_items (order_id).
 */
async function orderLines(db: Queryable, s: string, orderIds: readonly number[]): Promise<Map<number, LineRow[]>> {
  const rows = await db.query<LineRow & { order_id: number }>(
    `SELECT i.order_id, p.sku, p.name, p.category, i.price::text AS price, o.currency, p.url, p.image_url, i.quantity
       FROM ${s}.order_items i
       JOIN ${s}.orders o ON o.id = i.order_id
       JOIN ${s}.products p ON p.sku = i.sku
      WHERE i.order_id = ANY($1::bigint[])
      ORDER BY i.order_id, p.name, p.sku`,
    [orderIds],
  );
  return groupBy(rows, 'order_id');
}

/**
 * recommendations: for each customer of the batch, the products a
 * cross-sell shows (recommend.ts): cheapest first, at most RECOMMENDED. One
 * lateral probe of products per customer.
 */
async function recommendations(db: Queryable, s: string, recommend: readonly string[], cancelled: readonly string[], customerIds: readonly number[]): Promise<Map<number, ProductRow[]>> {
  const unbought = unboughtRecommendation({ schema: s, customerId: 'r.customer_id', recommend: '$2::text[]', cancelled: '$3::text[]' });
  const rows = await db.query<ProductRow & { customer_id: number }>(
    `SELECT r.customer_id, pick.sku, pick.name, pick.category, pick.price::text AS price, pick.currency, pick.url, pick.image_url
       FROM unnest($1::bigint[]) AS r (customer_id)
       CROSS JOIN LATERAL (
         SELECT p.sku, p.name, p.category, p.price, p.currency, p.url, p.image_url
           FROM ${s}.products p
          WHERE ${unbought}
          ORDER BY p.price, p.sku
          LIMIT ${RECOMMENDED}) AS pick
      ORDER BY r.customer_id, pick.price, pick.sku`,
    [customerIds, [...recommend], [...cancelled]],
  );
  return groupBy(rows, 'customer_id');
}
