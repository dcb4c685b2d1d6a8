import type { Db } from '../db/db.js';
import { quoteIdent } from '../db/ident.js';

/**
 * What the demo shop's customers do while the demo's clock moves on, so its
 * triggers have something to fire on: some leave carts, a few place big
 * orders, and the products most asked for come back in stock. Set-based
 * statements over the demo shop, deterministic (customers picked by an md5
 * order), in one transaction, and done once per day of the timeline (a
 * setting records it), so a rerun of the demo adds nothing twice.
 */
export interface Activity {
  carts: number;
  bigOrders: number;
  restocked: number;
}

export async function shopMovesOn(db: Db, schema: string, at: Date, siteCurrency: { site: string; currency: string }): Promise<Activity | undefined> {
  const s = quoteIdent(schema);
  const key = `demo_activity:${at.toISOString()}`;
  return db.transaction(async (tx) => {
    const done = await tx.query("INSERT INTO herald.settings (key, value) VALUES ($1, 'done') ON CONFLICT (key) DO NOTHING RETURNING key", [key]);
    if (done.length === 0) return undefined;
    // Forty customers without a cart fill one with one or two products, then leave.
    const [carts] = await tx.query<{ n: number }>(
      `WITH picked AS (
         SELECT c.id, c.site, row_number() OVER (ORDER BY md5(c.id::text || $2)) AS k
           FROM ${s}.customers c
          WHERE c.email_opt_in AND c.email IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ${s}.carts k WHERE k.customer_id = c.id)
          ORDER BY md5(c.id::text || $2) LIMIT 40),
       base AS (SELECT coalesce(max(id), 0) AS id FROM ${s}.carts),
       added AS (
         INSERT INTO ${s}.carts (id, customer_id, site, updated_at)
         SELECT base.id + p.k, p.id, p.site, $1::timestamptz FROM picked p, base
         RETURNING id),
       product AS (SELECT sku, row_number() OVER (ORDER BY md5(sku)) - 1 AS i, count(*) OVER () AS n FROM ${s}.products WHERE in_stock),
       lines AS (
         INSERT INTO ${s}.cart_items (cart_id, sku, quantity)
         SELECT a.id, p.sku, 1 FROM added a JOIN product p ON p.i IN (a.id % p.n, (a.id * 7 + 3) % p.n)
         RETURNING 1)
       SELECT (SELECT count(*)::int FROM added) AS n, (SELECT count(*) FROM lines) AS lines`,
      [at, 'demo-cart'],
    );
    // Five customers of the first site place an order over 300 in its currency.
    const [orders] = await tx.query<{ n: number }>(
      `WITH picked AS (
         SELECT c.id, row_number() OVER (ORDER BY md5(c.id::text || $2)) AS k
           FROM ${s}.customers c
          WHERE c.site = $3 AND c.email_opt_in AND c.email IS NOT NULL
          ORDER BY md5(c.id::text || $2) LIMIT 5),
       base AS (SELECT coalesce(max(id), 0) AS id FROM ${s}.orders),
       added AS (
         INSERT INTO ${s}.orders (id, customer_id, site, status, total, currency, created_at)
         SELECT base.id + p.k, p.id, $3, 'paid', 320 + 90 * p.k, $4, $1::timestamptz + interval '1 hour' FROM picked p, base
         RETURNING id, total),
       coat AS (SELECT sku FROM ${s}.products ORDER BY price DESC LIMIT 1),
       lines AS (
         INSERT INTO ${s}.order_items (order_id, sku, quantity, price) SELECT a.id, coat.sku, 1, a.total FROM added a, coat RETURNING 1)
       SELECT (SELECT count(*)::int FROM added) AS n, (SELECT count(*) FROM lines) AS lines`,
      [at, 'demo-order', siteCurrency.site, siteCurrency.currency],
    );
    // The three sold-out products with the most preorders are back.
    const restocked = await tx.query(
      `UPDATE ${s}.products SET in_stock = true
        WHERE sku IN (SELECT p.sku FROM ${s}.preorders p JOIN ${s}.products x ON x.sku = p.sku AND NOT x.in_stock
                       GROUP BY p.sku ORDER BY count(*) DESC, p.sku LIMIT 3)
       RETURNING sku`,
    );
    return { carts: carts!.n, bigOrders: orders!.n, restocked: restocked.length };
  });
}
