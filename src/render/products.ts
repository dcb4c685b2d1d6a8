import type { Queryable } from '../db/db.js';
import { quoteIdent } from '../db/ident.js';

/** A product as templates see it: `products[].name`, `.price` (formatted), … */
export interface ProductToken {
  sku: string;
  name: string;
  category: string;
  url: string | null;
  image_url: string | null;
  price: string;
}

export interface ProductRow {
  sku: string;
  name: string;
  category: string;
  price: string;
  currency: string;
  url: string | null;
  image_url: string | null;
}

/**
 * loadProducts: the campaign's SKUs from the shop data, in the order the
 * campaign lists them. SKUs the shop does not have are left out.
 */
export async function loadProducts(db: Queryable, schema: string, skus: readonly string[]): Promise<ProductRow[]> {
  if (skus.length === 0) return [];
  return db.query<ProductRow>(
    `SELECT p.sku, p.name, p.category, p.price::text AS price, p.currency, p.url, p.image_url
       FROM ${quoteIdent(schema)}.products p
       JOIN unnest($1::text[]) WITH ORDINALITY AS want(sku, pos) ON want.sku = p.sku
      ORDER BY want.pos`,
    [skus],
  );
}

/** Prices formatted once per locale with Intl, so per-message rendering only picks the list. */
export function productTokens(rows: readonly ProductRow[], locale: string): ProductToken[] {
  return rows.map((r) => ({
    sku: r.sku,
    name: r.name,
    category: r.category,
    url: r.url,
    image_url: r.image_url,
    price: new Intl.NumberFormat(locale, { style: 'currency', currency: r.currency }).format(Number(r.price)),
  }));
}
