import type { Db } from '../db/db.js';
import { quoteIdent } from '../db/ident.js';
import { UserError } from '../errors.js';
import { dateText } from '../render/format.js';
import type { Recipient } from '../render/message.js';
import { cartUrl, lineTokens, linesTotal, loadProducts, productTokens, type CartToken, type LineRow, type OrderToken, type ProductRow, type ProductToken } from '../render/products.js';
import { siteTimeZone, sourceSchema, type Preview, type Project, type Site, type Workspace } from '../workspace/model.js';
import type { TemplateUse } from '../workspace/uses.js';

/**
 * Who and what previews and test sends are rendered with: customers and
 * products from the shop's data when a database is at hand, otherwise the
 * template's preview.yaml, otherwise a built-in sample. Event data (a cart, an
 * order, an sql trigger's event) always comes from preview.yaml or the
 * built-in sample, in the shape a trigger's message has it (triggers/extras.ts).
 */
export interface Samples {
  /** Where the samples come from, for the preview's header. */
  readonly description: string;
  /** The customers asked for by id (`--customer`), each in their own site and locale; empty otherwise. */
  readonly customers: readonly Recipient[];
  /** The sample recipients of one cell: the given customers, or one sample for the site and locale. */
  recipients(use: TemplateUse, site: Site, locale: string): Recipient[];
  /** The products, cart, order and event tokens of a message, formatted for the locale. */
  extras(use: TemplateUse, site: Site, locale: string): MessageSamples;
}

export interface MessageSamples {
  products: ProductToken[];
  cart?: CartToken;
  order?: OrderToken;
  event?: Record<string, unknown>;
}

type SampleCustomer = NonNullable<Preview['customers']>[number];
type SampleProduct = NonNullable<Preview['products']>[number];

/** The built-in sample, used where a template has no preview.yaml. */
const BUILT_IN: Record<string, SampleCustomer> = {
  en: { first_name: 'Anna', last_name: 'Schmidt', email: 'anna.schmidt@example.com', city: 'Berlin', country: 'DE', birthday: '1990-03-12' },
  ru: { first_name: 'Ольга', last_name: 'Иванова', email: 'olga.ivanova@example.com', city: 'Москва', country: 'RU', birthday: '1988-11-30' },
  de: { first_name: 'Jonas', last_name: 'Weber', email: 'jonas.weber@example.com', city: 'Hamburg', country: 'DE', birthday: '1993-07-04' },
};

function builtInProducts(site: Site, skus: readonly string[]): SampleProduct[] {
  const base = site.url.replace(/\/+$/, '');
  const list = skus.length > 0 ? skus : ['SAMPLE-1', 'SAMPLE-2'];
  return list.map((sku, i) => ({ sku, name: `Sample product ${sku}`, category: 'sample', price: 19.9 + 10 * i, url: `${base}/p/${sku}`, image_url: `${base}/images/${sku}.jpg` }));
}

/** Samples from preview.yaml files and the built-in data; `db` adds the shop's customers and products. */
export async function loadSamples(ws: Workspace, opts: { db?: Db; customerIds?: number[] } = {}): Promise<Samples> {
  const fromDb = opts.db ? await shopSamples(opts.db, ws, opts.customerIds ?? []) : undefined;
  if (!fromDb && (opts.customerIds ?? []).length > 0) {
    throw new UserError('--customer needs the shop\'s data', 'pass --db (or set HERALD_DATABASE_URL) with the shop\'s customers, or leave out --customer to use preview.yaml samples');
  }
  const preview = (template: string): Preview => ws.templates.get(template)?.preview?.spec ?? {};

  const fileRecipients = (use: TemplateUse, site: Site, locale: string): Recipient[] => {
    const listed = (preview(use.template).customers ?? []).filter((c) => !c.locale || c.locale === locale);
    const chosen = listed.length > 0 ? listed : [BUILT_IN[locale.slice(0, 2)] ?? BUILT_IN.en!];
    return chosen.map((c, i) => ({
      customer_id: 1000 + i,
      email: c.email,
      first_name: c.first_name ?? null,
      last_name: c.last_name ?? null,
      city: c.city ?? null,
      country: c.country ?? null,
      birthday: c.birthday ?? null,
      site: site.id,
      locale,
    }));
  };

  return {
    description: fromDb?.description ?? "sample data from preview.yaml files (or herald's built-in sample)",
    customers: fromDb?.given ?? [],
    recipients(use, site, locale) {
      return fromDb?.recipients(site, locale) ?? fileRecipients(use, site, locale);
    },
    extras(use, site, locale) {
      const p = preview(use.template);
      const shop = fromDb?.products(use.products);
      const rows = shop ?? toRows(p.products ?? builtInProducts(site, use.products), site);
      const out: MessageSamples = { products: productTokens(rows, locale) };
      if (use.context === 'cart_abandoned') {
        const lines = toLines(p.cart?.items ?? builtInProducts(site, []), site);
        out.cart = { items: lineTokens(lines, locale), total: linesTotal(lines, locale, site.currency), url: p.cart?.url ?? cartUrl(site) };
      }
      if (use.context === 'order_total_over' || use.context === 'cross_sell_after_purchase') {
        const lines = toLines(p.order?.items ?? builtInProducts(site, []), site);
        out.order = {
          id: String(p.order?.id ?? '100042'),
          total: linesTotal(lines, locale, site.currency),
          created_at: dateText(p.order?.created_at ?? '2026-11-20T10:00:00Z', locale, siteTimeZone(ws.project.spec, site)),
          items: lineTokens(lines, locale),
        };
      }
      // An sql trigger's payload is whatever its SELECT returns: only preview.yaml can know a sample.
      if (use.context === 'sql') out.event = { ...(p.event ?? {}) };
      return out;
    },
  };
}

function toRows(products: readonly SampleProduct[], site: Site): ProductRow[] {
  return products.map((p) => ({ sku: p.sku, name: p.name, category: p.category ?? '', price: String(p.price), currency: site.currency, url: p.url ?? null, image_url: p.image_url ?? null }));
}

function toLines(items: readonly SampleProduct[], site: Site): LineRow[] {
  return toRows(items, site).map((r, i) => ({ ...r, quantity: items[i]!.quantity ?? 1 }));
}

interface ShopSamples {
  description: string;
  given: Recipient[];
  recipients(site: Site, locale: string): Recipient[] | undefined;
  products(skus: readonly string[]): ProductRow[] | undefined;
}

/**
 * The shop's own customers and products. Without ids: the first customer with
 * an address of each site and locale, in one statement. A database without
 * the shop's tables (a fresh embedded one) gives no samples.
 */
async function shopSamples(db: Db, ws: Workspace, ids: number[]): Promise<ShopSamples | undefined> {
  const project: Project = ws.project.spec;
  const schemaName = sourceSchema(project);
  const schema = quoteIdent(schemaName);
  const [present] = await db.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [`${schema}.customers`]);
  if (!present?.ok) {
    if (ids.length > 0) throw new UserError(`--customer needs the shop's data, and ${db.where} has no ${schemaName}.customers`, 'point --db at the shop database, or leave out --customer to use preview.yaml samples');
    return undefined;
  }
  const rows = await db.query<Recipient & { id: number }>(
    ids.length > 0
      ? `SELECT id, id AS customer_id, email, first_name, last_name, city, country, to_char(birthday, 'YYYY-MM-DD') AS birthday, site, locale
           FROM ${schema}.customers WHERE id = ANY($1::bigint[]) ORDER BY id`
      : `SELECT DISTINCT ON (site, locale) id, id AS customer_id, email, first_name, last_name, city, country, to_char(birthday, 'YYYY-MM-DD') AS birthday, site, locale
           FROM ${schema}.customers WHERE email IS NOT NULL AND site = ANY($1::text[])
          ORDER BY site, locale, id`,
    [ids.length > 0 ? ids : project.sites.map((s) => s.id)],
  );
  const missing = ids.filter((id) => !rows.some((r) => Number(r.id) === id));
  if (missing.length > 0) throw new UserError(`no customer with id ${missing.join(', ')} in ${schemaName}.customers`, 'check the ids, or leave out --customer');
  if (rows.length === 0) return undefined;
  const skus = [...new Set([...ws.campaigns.values()].flatMap((c) => c.spec.products ?? []))];
  const bySku = new Map((await loadProducts(db, schemaName, skus)).map((p) => [p.sku, p]));
  return {
    description: ids.length > 0 ? `customers ${ids.join(', ')} from ${db.where}` : `customers from ${db.where}, one per site and locale`,
    given: ids.length > 0 ? rows.map(({ id: _id, ...r }) => r) : [],
    recipients(site, locale) {
      if (ids.length > 0) {
        // Each given customer appears in their own site and locale.
        return rows.filter((r) => r.site === site.id && (site.locales.includes(r.locale) ? r.locale : site.default_locale) === locale).map((r) => ({ ...r, locale }));
      }
      // A site with no customer in this locale yet still gets a preview: its first customer, in this locale.
      const one = rows.find((r) => r.site === site.id && r.locale === locale) ?? rows.find((r) => r.site === site.id);
      return one ? [{ ...one, locale }] : undefined;
    },
    products(want) {
      const found = want.flatMap((s) => (bySku.has(s) ? [bySku.get(s)!] : []));
      return found.length > 0 ? found : undefined;
    },
  };
}
