import type { Queryable } from '../db/db.js';
import { quoteIdent } from '../db/ident.js';
import { campaignSites, type Campaign, type Project, type Site } from '../workspace/model.js';
import { money } from './format.js';
import { siteHosts, sitesRefusing, type SiteHosts } from './link-check.js';

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

/** A product a message does not carry, and why: for the report and the plan. */
export interface LeftOutProduct {
  sku: string;
  reason: string;
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

/**
 * campaignProducts: a deployed campaign's products as its messages carry
 * them, and those its messages leave out. Send, report and plan all read them
 * through here, so they agree on what a message holds.
 */
export async function campaignProducts(
  db: Queryable,
  schema: string,
  project: Project,
  campaign: Campaign,
): Promise<{ products: ProductRow[]; leftOut: LeftOutProduct[] }> {
  return checkProducts(await loadProducts(db, schema, campaign.products ?? []), campaignHosts(project, campaign));
}

/** The hosts each site of a campaign lets its messages link to and load images from. */
export function campaignHosts(project: Project, campaign: Campaign): SiteHosts[] {
  const ids = campaignSites(campaign);
  return project.sites.filter((s) => ids.includes(s.id)).map((s) => siteHosts(project, s));
}

/**
 * checkProducts: the products a message may carry, and those it may not.
 * A product's `url` and `image_url` come from the shop's data, not from a
 * reviewed template: each must be an absolute http(s) URL, without a user
 * name, on the domains of every site the message is for (the site's host and
 * subdomains, its `domains:`, the tracking host; the same rule as the links
 * in templates, so a CDN for images is listed under `domains:`). A product
 * row holds one URL for every site, so a product one site refuses is left
 * out for all: the campaign's messages show the same products everywhere.
 * A kept URL is passed on as the parser read it (`\` as `/`, no tabs or
 * spaces), so every mail client sees the host that was checked. No URL
 * (null or blank) is not a problem: the template decides what to show.
 */
export function checkProducts<T extends Pick<ProductRow, 'sku' | 'url' | 'image_url'>>(rows: readonly T[], sites: readonly SiteHosts[]): { products: T[]; leftOut: LeftOutProduct[] } {
  const products: T[] = [];
  const leftOut: LeftOutProduct[] = [];
  for (const row of rows) {
    const url = checkedUrl(row.url, 'url', sites);
    const image = checkedUrl(row.image_url, 'image_url', sites);
    const reason = url.reason ?? image.reason;
    if (reason) leftOut.push({ sku: row.sku, reason });
    else products.push(Object.assign({}, row, { url: url.href ?? null, image_url: image.href ?? null }));
  }
  return { products, leftOut };
}

function checkedUrl(value: string | null, field: 'url' | 'image_url', sites: readonly SiteHosts[]): { href?: string; reason?: string } {
  if (value === null || value.trim() === '') return {};
  let u: URL | undefined;
  try {
    u = new URL(value);
  } catch {
    // Not absolute: a relative link has no host to check, and resolves against whatever the mail client likes.
  }
  if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:')) return { reason: `its ${field} ${quoted(value)} is not an http(s) link` };
  // The host alone goes through the link rule: a path or query never exempts a link from it.
  const refusing = sitesRefusing(`${u.protocol}//${u.host}/`, sites);
  if (refusing.length > 0) return { reason: `its ${field}'s host ${u.hostname} is outside the domains of ${refusing.map((s) => s.site).join(', ')}` };
  // A user name is how look-alike links are made (`https://shop.example.com@evil.example/`); a shop's own links need none.
  if (u.username || u.password) return { reason: `its ${field} on ${u.hostname} has a user name or password in it` };
  return { href: u.href };
}

/** A URL from the shop's data in a reason: quoted, shortened, escaped. */
function quoted(value: string): string {
  return `"${escapedText(value.length > 80 ? `${value.slice(0, 80)}…` : value)}"`;
}

/** Shop data (a SKU, a URL) with control and bidi characters escaped as JSON does: never raw on a terminal or in a report. */
export function escapedText(value: string): string {
  return JSON.stringify(value)
    .slice(1, -1)
    .replace(/[\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Prices formatted once per locale with Intl, so per-message rendering only picks the list. */
export function productTokens(rows: readonly ProductRow[], locale: string): ProductToken[] {
  return rows.map((r) => ({
    sku: r.sku,
    name: r.name,
    category: r.category,
    url: r.url,
    image_url: r.image_url,
    price: money(r.price, r.currency, locale),
  }));
}

/**
 * A line of a cart or an order: a product, how many, and the unit price in
 * `currency` (the product's current price in a cart, the price paid in an
 * order).
 */
export interface LineRow extends ProductRow {
  quantity: number;
}

/** `cart.items[]` and `order.items[]`: a product token with its quantity. */
export type LineToken = ProductToken & { quantity: number };

/**
 * The event data of a trigger's message, as templates see it (tokens.ts).
 * Sends (triggers/extras.ts) and previews (preview/samples.ts) both build
 * them from these types and helpers, so a preview has the shape a message has.
 * Type aliases, not interfaces: they go where the renderer takes any record.
 */
export type CartToken = { items: LineToken[]; total: string; url: string };
export type OrderToken = { id: string; total: string; created_at: string; items: LineToken[] };

export function lineTokens(lines: readonly LineRow[], locale: string): LineToken[] {
  const tokens = productTokens(lines, locale);
  // Object.assign, not { ...t, quantity }: see render/personalize.ts.
  return tokens.map((t, i) => Object.assign({}, t, { quantity: lines[i]!.quantity }));
}

/**
 * What the lines cost together, formatted. Summed in cents, so 0.1 + 0.2 is
 * 0.30; lines in several currencies (a catalogue priced per product) cannot
 * be one number, so each currency is summed and shown on its own: "€10.00 +
 * RUB 900.00". No lines cost zero in `currency`.
 */
export function linesTotal(lines: readonly LineRow[], locale: string, currency: string): string {
  const cents = new Map<string, number>();
  for (const l of lines) cents.set(l.currency, (cents.get(l.currency) ?? 0) + Math.round(Number(l.price) * 100) * l.quantity);
  if (cents.size === 0) return money(0, currency, locale);
  return [...cents].map(([c, n]) => money(n / 100, c, locale)).join(' + ');
}

/** Where `cart.url` points: the site's cart page. */
export function cartUrl(site: Site): string {
  return `${site.url.replace(/\/+$/, '')}/cart`;
}
