/**
 * The deterministic demo shop: fills a schema that follows the shop data
 * contract with realistic customers, a catalogue, orders, carts and preorders.
 *
 * Every row is made by set-based SQL (`INSERT … SELECT … FROM generate_series`),
 * so a million customers is the same handful of statements as a thousand.
 * Every random choice is a `draw`: a number in [0, 1) hashed from the seed, a
 * salt naming the choice and the row's key. Nothing depends on random() or on
 * the order rows happen to be produced in, so a seed gives byte-identical data
 * on PGlite and on a PostgreSQL server. Float arithmetic stays within + - * /
 * and sqrt, which IEEE 754 rounds exactly, so every platform agrees (pow and
 * ln come from the platform's maths library and may differ in the last bit).
 * Times are whole seconds added to `now`, so the session's time zone cannot
 * shift them.
 */
import type { Db } from '../db/db.js';
import { UserError } from '../errors.js';
import { quoteIdent } from '../db/ident.js';
import { shopContractSql, shopIndexesSql } from '../shop/contract.js';
import { CATALOG, EMAIL_DOMAINS, EURO_RATES, folkRows } from './reference.js';

export interface DemoSite {
  id: string;
  locales: string[];
  currency: string;
  url: string;
}

export interface SeedOptions {
  schema: string;
  customers: number;
  seed: number;
  sites: DemoSite[];
  now: Date;
}

export interface SeedSummary {
  customers: number;
  products: number;
  orders: number;
  orderItems: number;
  carts: number;
  preorders: number;
}


// ---------------------------------------------------------------------------
// SQL

/**
 * A number in [0, 1) for the row keyed by `key` and the choice named `salt`:
 * the first 52 bits of md5(seed:salt:key), which a float8 holds exactly.
 * Every statement passes the seed as $1.
 */
function draw(key: string, salt: string): string {
  return `(('x' || substr(md5($1::text || ':${salt}:' || ${key}), 1, 13))::bit(52)::bigint::float8 / 4503599627370496::float8)`;
}

/** An amount in a currency worth `rate` per euro: whole tens in small units (RUB 18 900), cents otherwise. */
function localPrice(euros: string, rate: string): string {
  return `CASE WHEN ${rate} >= 10 THEN round(${euros} * ${rate}, -1) ELSE round(${euros} * ${rate}, 2) END`;
}

/** Whole seconds as an interval without days, so adding it to a timestamptz ignores the time zone. */
const seconds = (expr: string) => `floor(${expr}) * interval '1 second'`;

const YEAR = 365 * 86400;

/** The sites parameter as a table: order (the first is the home site), id, locales, currency, euro rate. */
const sitesTable = (param: string) =>
  `jsonb_to_recordset(${param}::jsonb) AS site(ord int, id text, locales text[], currency text, rate numeric)`;

const SQL = {
  /**
   * The seed's statements spend their time in md5 and string functions, which
   * JIT compilation cannot speed up; compiling their large expressions cost
   * a server about a second per statement. (PGlite has no JIT; the setting is harmless there.)
   */
  noJit: `SET LOCAL jit = off`,

  /** Reseeding replaces the whole shop schema, so running the demo twice never appends. */
  recreate: (schema: string) => `DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE;\n${shopContractSql(schema)}`,

  /**
   * customers: ids 1..$3, each attribute from its own draw so changing how one
   * is chosen leaves the others alone. Earlier sites are bigger; most customers
   * read their site's first locale. Names follow the locale's language and a
   * gender (Russian family names agree with it); emails are built from the
   * transliterated name and the id, which makes them unique. A few have no
   * email, a few an unusable one, a few a capitalised one (lower(email)
   * matching must cope).
   * Names and places arrive as a small jsonb table of arrays, joined once per
   * customer: navigating a jsonb document per row copies it, which costs far more.
   */
  customers: (s: string) => `
WITH site AS (SELECT * FROM ${sitesTable('$4')}),
folk AS (
  SELECT * FROM jsonb_to_recordset($5::jsonb) AS x(lang text, gender text, first_native text[], first_latin text[],
                                                   last_native text[], last_latin text[], countries text[], cities text[], dial_codes text[])
),
-- Each site's locales in order, with the language its customers' names come from.
site_locale AS (
  SELECT site.ord, site.id AS site, l.pos::int AS pos, l.locale, cardinality(site.locales) AS locales,
         CASE WHEN EXISTS (SELECT FROM folk WHERE folk.lang = lower(left(l.locale, 2)))
              THEN lower(left(l.locale, 2)) ELSE 'en' END AS lang
  FROM site CROSS JOIN LATERAL unnest(site.locales) WITH ORDINALITY AS l(locale, pos)
),
-- MATERIALIZED: each draw is computed once, not once per reference below.
drawn AS MATERIALIZED (
  SELECT n,
         ${draw('n', 'site')} AS r_site,          ${draw('n', 'locale')} AS r_locale,
         ${draw('n', 'other_locale')} AS r_other, ${draw('n', 'gender')} AS r_gender,
         ${draw('n', 'first_name')} AS r_first,   ${draw('n', 'last_name')} AS r_last,
         ${draw('n', 'no_name')} AS r_no_name,    ${draw('n', 'place')} AS r_place,
         ${draw('n', 'no_city')} AS r_no_city,    ${draw('n', 'email')} AS r_email,
         ${draw('n', 'domain')} AS r_domain,      ${draw('n', 'phone')} AS r_phone,
         ${draw('n', 'phone_digits')} AS r_digits, ${draw('n', 'birthday')} AS r_birthday,
         ${draw('n', 'age_a')} AS r_age_a,        ${draw('n', 'age_b')} AS r_age_b,
         ${draw('n', 'since')} AS r_since,        ${draw('n', 'opt_in')} AS r_opt_in
  FROM generate_series(1, $3::int) AS n
),
person AS (
  SELECT d.*, sl.site, sl.locale, sl.lang, CASE WHEN d.r_gender < 0.6 THEN 'f' ELSE 'm' END AS gender
  FROM drawn d
  JOIN site_locale sl
    ON sl.ord = 1 + floor(d.r_site * sqrt(d.r_site) * (SELECT count(*) FROM site))::int
   AND sl.pos = CASE WHEN d.r_locale < 0.75 OR sl.locales = 1 THEN 1
                     ELSE 2 + floor(d.r_other * (sl.locales - 1))::int END
),
-- Positions are 1-based: a draw in [0, 1) times the list's length, plus one.
chosen AS (
  SELECT p.*, f.first_native, f.first_latin, f.last_native, f.last_latin, f.countries, f.cities, f.dial_codes,
         1 + floor(p.r_first * cardinality(f.first_native))::int AS first_at,
         1 + floor(p.r_last * cardinality(f.last_native))::int AS last_at,
         1 + floor(p.r_place * cardinality(f.countries))::int AS place_at,
         ($6::text[])[1 + floor(p.r_domain * cardinality($6::text[]))::int] AS domain
  FROM person p JOIN folk f ON f.lang = p.lang AND f.gender = p.gender
),
named AS (
  SELECT c.*, first_native[first_at] AS first_name, last_native[last_at] AS last_name,
         countries[place_at] AS country, cities[place_at] AS city, dial_codes[place_at] AS dial_code,
         first_latin[first_at] || '.' || last_latin[last_at] || '.' || n AS mailbox
  FROM chosen c
)
INSERT INTO ${s}.customers
  (id, email, phone, first_name, last_name, site, locale, country, city, birthday, created_at, email_opt_in, sms_opt_in)
SELECT n,
       CASE WHEN r_email < 0.03 THEN NULL
            WHEN r_email < 0.04 THEN CASE n % 3 WHEN 0 THEN mailbox || domain
                                                WHEN 1 THEN mailbox || '@@' || domain
                                                ELSE mailbox || '@' || replace(domain, '.', ',') END
            WHEN r_email < 0.06 THEN initcap(mailbox) || '@' || initcap(domain)
            ELSE mailbox || '@' || domain END,
       -- A mobile number of the customer's country (a real mobile prefix, then digits from 2 to 9 first),
       -- so the SMS channel's libphonenumber-js check takes it as the shop's real numbers would be.
       CASE WHEN r_phone < 0.6 THEN '+' || dial_code || ' ' || m.prefix || ' ' || (2 * 10::bigint ^ (m.digits - 1) + floor(r_digits * 8 * 10::bigint ^ (m.digits - 1)))::bigint END,
       CASE WHEN r_no_name >= 0.02 THEN first_name END,
       CASE WHEN r_no_name >= 0.02 THEN last_name END,
       site, locale,
       CASE WHEN r_no_city >= 0.02 THEN country END,
       CASE WHEN r_no_city >= 0.08 THEN city END,
       -- Ages 18 to 63, most around 40; a third never gave a birthday.
       CASE WHEN r_birthday >= 0.3
            THEN ($2::timestamptz AT TIME ZONE 'UTC')::date - (18 * 365 + floor((r_age_a + r_age_b) / 2 * 45 * 365.25))::int END,
       -- Three times as many sign-ups now as three years ago: the shop has been growing.
       $2::timestamptz - ${seconds(`(r_since + r_since * r_since) / 2 * ${3 * YEAR}`)},
       r_opt_in < 0.85,
       -- Half of those who gave a number agreed to SMS.
       r_phone < 0.3
FROM named
CROSS JOIN LATERAL (SELECT CASE dial_code WHEN '1' THEN '415' WHEN '7' THEN '912' WHEN '31' THEN '61' WHEN '33' THEN '61' WHEN '43' THEN '664'
                                          WHEN '44' THEN '7400' WHEN '49' THEN '151' WHEN '353' THEN '85' ELSE '29' END AS prefix,
                           CASE dial_code WHEN '44' THEN 6 WHEN '49' THEN 8 ELSE 7 END AS digits) m`,

  /** products: the fixed catalogue, priced in the home site's currency, with links under its url. */
  products: (s: string) => `
INSERT INTO ${s}.products (sku, name, category, price, currency, image_url, url, in_stock)
SELECT p ->> 0, p ->> 1, p ->> 2, ${localPrice(`(p ->> 3)::numeric`, '$3::numeric')}, $2::text,
       $4::text || '/images/products/' || lower(p ->> 0) || '.jpg',
       $4::text || '/products/' || trim(BOTH '-' FROM lower(regexp_replace(p ->> 1, '[^A-Za-z0-9]+', '-', 'g'))),
       (p ->> 4)::boolean
FROM jsonb_array_elements($1::jsonb) AS p`,

  /**
   * orders and order_items in one statement, so each total is the sum of
   * exactly the lines written. A third of customers never order; the rest
   * place 1 + floor(45·r⁴), scaled down for accounts younger than a year:
   * nearly half of them once, a tail up to 45 times, about five per customer
   * overall. Two buyers in five drift away at some point (what win-back
   * campaigns are for) and order only before it; the rest order until now.
   * Three orders in ten lean towards the end of that span (√r). Status
   * follows the order's age, with 5% cancelled at any age.
   * Lines (1–4, mostly 1–2) take distinct products 7 apart in a shuffled
   * catalogue, starting near the bestsellers; each is priced in the site's
   * currency.
   */
  ordersAndItems: (s: string) => `
WITH site AS (SELECT site.*, first_value(site.rate) OVER (ORDER BY site.ord) AS home_rate FROM ${sitesTable('$3')}),
-- Positions in a shuffled catalogue, so bestsellers (low positions) span categories.
product AS (SELECT row_number() OVER (ORDER BY md5(sku))::int - 1 AS i, sku, price FROM ${s}.products),
catalogue AS (SELECT count(*)::int AS size FROM product),
-- MATERIALIZED here and below: each draw is computed once, not once per reference.
buyer AS MATERIALIZED (
  SELECT id, site, created_at, extract(epoch FROM $2::timestamptz - created_at) AS tenure,
         ${draw('id', 'buys')} AS r_buys, ${draw('id', 'order_count')} AS r_count,
         ${draw('id', 'churn')} AS r_churn, ${draw('id', 'stay')} AS r_stay
  FROM ${s}.customers
),
placed AS (
  SELECT row_number() OVER (ORDER BY b.id, k) AS id, b.id AS customer_id, b.site, b.created_at AS customer_since,
         b.tenure * CASE WHEN b.r_churn < 0.4 THEN b.r_stay ELSE 1 END AS active_seconds
  FROM buyer b
  CROSS JOIN LATERAL generate_series(1, CASE WHEN b.r_buys < 0.35 THEN 0 ELSE 1 + floor(
           45 * b.r_count * b.r_count * b.r_count * b.r_count * least(1, b.tenure / ${YEAR}))::int END) AS k
),
drawn AS MATERIALIZED (
  SELECT o.*, ${draw('o.id', 'order_time')} AS r_time, ${draw('o.id', 'order_recent')} AS r_recent,
         ${draw('o.id', 'order_status')} AS r_status, ${draw('o.id', 'order_lines')} AS r_lines,
         ${draw('o.id', 'order_product')} AS r_product
  FROM placed o
),
dated AS (
  SELECT d.*, d.customer_since
         + ${seconds(`d.active_seconds * CASE WHEN d.r_recent < 0.3 THEN sqrt(d.r_time) ELSE d.r_time END`)} AS created_at
  FROM drawn d
),
sale AS (
  SELECT d.*, site.currency, site.rate, site.home_rate,
         CASE WHEN d.r_status < 0.05 THEN 'cancelled'
              WHEN $2::timestamptz - d.created_at < interval '1 day' THEN CASE WHEN d.r_status < 0.6 THEN 'new' ELSE 'paid' END
              WHEN $2::timestamptz - d.created_at < interval '3 days' THEN 'paid'
              WHEN $2::timestamptz - d.created_at < interval '10 days' THEN 'shipped'
              ELSE 'delivered' END AS status
  FROM dated d JOIN site ON site.id = d.site
),
line AS MATERIALIZED (
  SELECT o.id AS order_id, o.rate, o.home_rate,
         (floor(o.r_product * sqrt(o.r_product) * c.size)::int + 7 * j) % c.size AS product_i,
         ${draw(`o.id || ':' || j`, 'line_quantity')} AS r_quantity
  FROM sale o CROSS JOIN catalogue c
  CROSS JOIN LATERAL generate_series(0, floor(4 * o.r_lines * o.r_lines)::int) AS j
),
item AS (
  SELECT l.order_id, p.sku,
         CASE WHEN l.r_quantity < 0.85 THEN 1 WHEN l.r_quantity < 0.97 THEN 2 ELSE 3 END AS quantity,
         ${localPrice('p.price / l.home_rate', 'l.rate')} AS price
  FROM line l JOIN product p ON p.i = l.product_i
),
items_written AS (
  INSERT INTO ${s}.order_items (order_id, sku, quantity, price) SELECT order_id, sku, quantity, price FROM item
)
INSERT INTO ${s}.orders (id, customer_id, site, status, total, currency, created_at)
SELECT o.id, o.customer_id, o.site, o.status, t.total, o.currency, o.created_at
FROM sale o JOIN (SELECT order_id, sum(quantity * price) AS total FROM item GROUP BY order_id) AS t ON t.order_id = o.id`,

  /**
   * carts and cart_items for one customer in ten. A third were touched in the
   * last day (the abandoned carts a reminder is for), the rest within two
   * months, never before the account existed. 1–3 distinct in-stock products.
   */
  cartsAndItems: (s: string) => `
WITH product AS (SELECT row_number() OVER (ORDER BY md5(sku))::int - 1 AS i, sku FROM ${s}.products WHERE in_stock),
catalogue AS (SELECT count(*)::int AS size FROM product),
shopper AS (SELECT id, site, created_at FROM ${s}.customers WHERE ${draw('id', 'cart')} < 0.10),
-- MATERIALIZED: each draw is computed once, not once per reference.
cart AS MATERIALIZED (
  SELECT row_number() OVER (ORDER BY id) AS id, id AS customer_id, site, created_at AS customer_since,
         ${draw('id', 'cart_fresh')} AS r_fresh, ${draw('id', 'cart_age')} AS r_age,
         ${draw('id', 'cart_lines')} AS r_lines, ${draw('id', 'cart_product')} AS r_product
  FROM shopper
),
dated AS (
  SELECT c.*, greatest(c.customer_since, $2::timestamptz
           - ${seconds(`CASE WHEN c.r_fresh < 0.35 THEN c.r_age * 86400 ELSE 86400 + c.r_age * 59 * 86400 END`)}) AS updated_at
  FROM cart c
),
line AS (
  SELECT c.id AS cart_id, (floor(c.r_product * k.size)::int + 7 * j) % k.size AS product_i,
         CASE WHEN ${draw(`c.id || ':' || j`, 'cart_quantity')} < 0.9 THEN 1 ELSE 2 END AS quantity
  FROM cart c CROSS JOIN catalogue k
  CROSS JOIN LATERAL generate_series(0, floor(3 * c.r_lines * c.r_lines)::int) AS j
),
carts_written AS (
  INSERT INTO ${s}.carts (id, customer_id, site, updated_at) SELECT id, customer_id, site, updated_at FROM dated
)
INSERT INTO ${s}.cart_items (cart_id, sku, quantity)
SELECT l.cart_id, p.sku, l.quantity FROM line l JOIN product p ON p.i = l.product_i`,

  /** preorders: one customer in fifty waits for an out-of-stock product (one in five for two), asked within 45 days. */
  preorders: (s: string) => `
WITH product AS (SELECT row_number() OVER (ORDER BY sku)::int - 1 AS i, sku FROM ${s}.products WHERE NOT in_stock),
catalogue AS (SELECT count(*)::int AS size FROM product),
waiter AS (
  SELECT id, created_at, ${draw('id', 'preorder_product')} AS r_product, ${draw('id', 'preorder_second')} AS r_second,
         ${draw('id', 'preorder_time')} AS r_time
  FROM ${s}.customers WHERE ${draw('id', 'preorder')} < 0.02
),
wish AS (
  SELECT w.id AS customer_id, (floor(w.r_product * c.size)::int + j) % c.size AS product_i,
         $2::timestamptz - ${seconds(`w.r_time * least(${45 * 86400}, extract(epoch FROM $2::timestamptz - w.created_at))`)} AS created_at
  FROM waiter w CROSS JOIN catalogue c
  CROSS JOIN LATERAL generate_series(0, CASE WHEN w.r_second < 0.2 THEN 1 ELSE 0 END) AS j
)
INSERT INTO ${s}.preorders (customer_id, sku, created_at)
SELECT w.customer_id, p.sku, w.created_at FROM wish w JOIN product p ON p.i = w.product_i`,

  /** push_subscriptions: one customer in eight allowed push, in a browser (web push) or the shop's app (FCM). */
  pushSubscriptions: (s: string) => `
INSERT INTO ${s}.push_subscriptions (id, customer_id, kind, endpoint, p256dh, auth, token, created_at)
SELECT row_number() OVER (ORDER BY c.id), c.id,
       CASE WHEN c.id % 2 = 0 THEN 'webpush' ELSE 'fcm' END,
       CASE WHEN c.id % 2 = 0 THEN 'https://push.example.net/send/' || md5($1 || ':push:' || c.id) END,
       CASE WHEN c.id % 2 = 0 THEN 'BDemo' || md5($1 || ':p256dh:' || c.id) END,
       CASE WHEN c.id % 2 = 0 THEN md5($1 || ':auth:' || c.id) END,
       CASE WHEN c.id % 2 = 1 THEN 'demo-device-' || md5($1 || ':fcm:' || c.id) END,
       c.created_at + interval '1 day'
  FROM ${s}.customers c WHERE ${draw('c.id', 'push')} < 0.125`,

  /** Statistics as soon as a table is loaded, so the statements reading it are planned for its real size. */
  analyze: (s: string, tables: string[]) => `ANALYZE ${tables.map((t) => `${s}.${t}`).join(', ')}`,

  /** What was made, as seedShop's summary. */
  counts: (s: string) => `
SELECT (SELECT count(*) FROM ${s}.customers)   AS customers,
       (SELECT count(*) FROM ${s}.products)    AS products,
       (SELECT count(*) FROM ${s}.orders)      AS orders,
       (SELECT count(*) FROM ${s}.order_items) AS "orderItems",
       (SELECT count(*) FROM ${s}.carts)       AS carts,
       (SELECT count(*) FROM ${s}.preorders)   AS preorders`,
};

/**
 * Drops and recreates `opts.schema` and fills it, all in one transaction: a
 * failed seed leaves the previous demo as it was. Indexes come after the rows,
 * which is faster than maintaining them during the load.
 */
export async function seedShop(db: Db, opts: SeedOptions): Promise<SeedSummary> {
  const s = quoteIdent(opts.schema);
  checkOptions(opts);
  const seed = String(opts.seed);
  const now = opts.now.toISOString();
  const rate = (currency: string) => EURO_RATES[currency] ?? '1';
  const sites = JSON.stringify(
    opts.sites.map((site, i) => ({ ord: i + 1, id: site.id, locales: site.locales, currency: site.currency, rate: rate(site.currency) })),
  );
  const home = opts.sites[0]!;

  return db.transaction(async (tx) => {
    await tx.query(SQL.noJit);
    await tx.exec(SQL.recreate(opts.schema));
    await tx.query(SQL.products(s), [JSON.stringify(CATALOG), home.currency, rate(home.currency), home.url.replace(/\/+$/, '')]);
    await tx.query(SQL.customers(s), [
      seed,
      now,
      opts.customers,
      sites,
      JSON.stringify(folkRows()),
      EMAIL_DOMAINS,
    ]);
    await tx.query(SQL.analyze(s, ['products', 'customers']));
    await tx.query(SQL.ordersAndItems(s), [seed, now, sites]);
    await tx.query(SQL.cartsAndItems(s), [seed, now]);
    await tx.query(SQL.preorders(s), [seed, now]);
    await tx.query(SQL.pushSubscriptions(s), [seed]);
    await tx.exec(shopIndexesSql(opts.schema));
    await tx.query(SQL.analyze(s, ['orders', 'order_items', 'carts', 'cart_items', 'preorders']));
    const [counts] = await tx.query<SeedSummary>(SQL.counts(s));
    return counts!;
  });
}

function checkOptions(opts: SeedOptions): void {
  if (!Number.isSafeInteger(opts.customers) || opts.customers < 0) {
    throw new UserError(`the demo needs a whole number of customers, not ${opts.customers}`);
  }
  if (!Number.isSafeInteger(opts.seed)) {
    throw new UserError(`the demo seed must be a whole number, not ${opts.seed}`);
  }
  if (opts.sites.length === 0) throw new UserError('the demo needs at least one site');
  const ids = new Set<string>();
  for (const site of opts.sites) {
    if (site.locales.length === 0) throw new UserError(`demo site ${site.id} has no locales`);
    if (ids.has(site.id)) throw new UserError(`demo site ${site.id} is listed twice`);
    ids.add(site.id);
  }
}
