import type { Queryable } from '../db/db.js';
import { quoteIdent } from '../db/ident.js';

/**
 * What herald has seen of the shop's stock (herald.stock_seen). The shop's
 * products table says only whether a product is in stock now; herald never
 * writes the shop's schema, so it keeps its own memory of when a product
 * went out and when it came back, and back_in_stock triggers fire from that.
 *
 * An episode: a product seen out of stock gets `out_since` (kept while it
 * stays out); seen back in stock after that, it gets `back_at` (the
 * episode's start, the moment herald saw it back) and `was_out` (how long it
 * had been out, as herald saw it), and `out_since` is cleared. A product
 * first seen in stock starts no episode. The latest episode stays until the
 * next one replaces it, so a product that flaps (out for minutes, then back)
 * replaces a long episode with a short one, and the trigger, which wants
 * `was_out` ≥ its `out_for`, sends nothing new for it.
 *
 * Times are the sweeps' `now`, so an outage is measured to the precision of
 * the sweep interval, and only from the first sweep that saw the product.
 */

/**
 * stockNow: the stock_seen row of every product as it is once herald has
 * seen the shop at `now` (a parameter reference, timestamptz), without
 * writing it: recordStock stores it, and back_in_stock reads it, so a sweep
 * and a preview that writes nothing see the same episodes. Seeing the shop
 * twice at the same `now` changes nothing (the second look finds no
 * change), which is why the sweep can read this after recordStock. One
 * pass over products with a hash join on stock_seen's key.
 */
export function stockNowSql(schema: string, now: string): string {
  return `SELECT p.sku, p.in_stock,
                 CASE WHEN p.in_stock THEN NULL ELSE coalesce(s.out_since, ${now}) END AS out_since,
                 CASE WHEN p.in_stock AND NOT s.in_stock THEN ${now} ELSE s.back_at END AS back_at,
                 CASE WHEN p.in_stock AND NOT s.in_stock THEN ${now} - s.out_since ELSE s.was_out END AS was_out,
                 CASE WHEN s.in_stock IS DISTINCT FROM p.in_stock THEN ${now} ELSE s.seen_at END AS seen_at
            FROM ${quoteIdent(schema)}.products p
            LEFT JOIN herald.stock_seen s ON s.sku = p.sku`;
}

/**
 * recordStock: stores what herald sees of products.in_stock at `now`, in
 * one statement. Only products whose stock changed (or that are new, both
 * stamped `now` by stockNow) are written, so a sweep of an unchanged
 * catalogue writes nothing; `seen_at` is thus when the product's current
 * state was first seen. Two sweeps seeing the same change at once: the
 * second finds the row changed already (the conflict's WHERE reads the
 * committed row) and leaves the first's episode. A product that left the
 * catalogue keeps its row: it can come back. Returns the rows written.
 */
export async function recordStock(db: Queryable, schema: string, now: Date): Promise<number> {
  const rows = await db.query(
    `INSERT INTO herald.stock_seen AS s (sku, in_stock, out_since, back_at, was_out, seen_at)
     SELECT n.sku, n.in_stock, n.out_since, n.back_at, n.was_out, n.seen_at
       FROM (${stockNowSql(schema, '$1::timestamptz')}) AS n
      WHERE n.seen_at = $1::timestamptz
     ON CONFLICT (sku) DO UPDATE
        SET in_stock = EXCLUDED.in_stock, out_since = EXCLUDED.out_since, back_at = EXCLUDED.back_at,
            was_out = EXCLUDED.was_out, seen_at = EXCLUDED.seen_at
      WHERE s.in_stock IS DISTINCT FROM EXCLUDED.in_stock
     RETURNING 1`,
    [now],
  );
  return rows.length;
}
