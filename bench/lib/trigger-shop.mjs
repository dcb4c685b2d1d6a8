// What the trigger sweeps need on top of the segments issue's shop
// (bench/lib/shop.mjs), added to a copy of it by bench/sweep.mjs: recent
// carts, preorders, a stock history, and a ledger with a past newsletter in
// it. Deterministic like the shop (every choice an md5 of the row's key), and
// dated from the shop's fixed NOW.
//
// The seeded shop has carts for one customer in ten (a third changed in its
// last day) and preorders for the products out of stock; this adds
// customers/10 carts changed over the last four days (one in twenty emptied:
// an empty cart is not abandoned), and customers/40 preorders of products
// that go out of stock and come back. The stock history is recorded by
// herald itself: recordStock (dist/triggers/stock.js) at a first look a month
// ago, then after every flip of products.in_stock, so herald.stock_seen holds
// the episodes back_in_stock reads, as a shop swept on schedule would.
import { recordStock } from '../../dist/triggers/stock.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** A number in [0, 1) for the row keyed by `key` and the choice named `salt`. */
const draw = (salt, key) => `(('x' || substr(md5('bench-sweep:${salt}:' || ${key}), 1, 8))::bit(32)::bigint::float8 / 4294967296)`;

/**
 * The stock episodes, in hours before NOW; `in` and `out` pick products in
 * stock or out of stock in the seeded catalogue (by position). A trigger
 * enabled 3 days ago with a day of back-fill inserts what came back in the
 * last 96 hours and counts what came back before as skipped.
 */
const EPISODES = [
  { pick: 'in', k: 0, out: 240, back: 80 }, //  out 160 h, back after the horizon: sent
  { pick: 'in', k: 1, out: 200, back: 120 }, // back before the horizon: skipped
  { pick: 'in', k: 2, out: 72, back: 30 }, //   out 42 h: sent
  { pick: 'in', k: 3, out: 20, back: 10 }, //   out 10 h, less than out_for (1d): nothing
  { pick: 'in', k: 4, out: 50, back: null }, // still out: its preorders wait
  { pick: 'out', k: 0, out: null, back: 60 }, // out since the first look: sent
  { pick: 'out', k: 1, out: null, back: 6 }, //  sent
];
const FIRST_LOOK_DAYS = 30;

/** Adds the carts, preorders, stock history and past newsletter; returns what was added. */
export async function addTriggerEvents(db, now, customers) {
  const at = (hoursAgo) => new Date(now.getTime() - hoursAgo * HOUR);
  const carts = await addCarts(db, now, customers);

  const products = await db.query('SELECT sku, in_stock FROM shop.products ORDER BY md5(sku)');
  const pick = { in: products.filter((p) => p.in_stock), out: products.filter((p) => !p.in_stock) };
  const episodes = EPISODES.map((e) => {
    const sku = pick[e.pick][e.k]?.sku;
    if (!sku) throw new Error(`the catalogue has too few products ${e.pick} of stock for the bench's stock history`);
    return { ...e, sku };
  });
  const preorders = await addPreorders(db, customers, episodes.filter((e) => e.out !== null).map((e) => ({
    sku: e.sku, out_at: at(e.out).toISOString(), until: (e.back === null ? now : at(e.back)).toISOString(),
  })));

  // The stock history, as herald's sweeps would have seen it.
  await recordStock(db, 'shop', new Date(now.getTime() - FIRST_LOOK_DAYS * DAY));
  const flips = episodes.flatMap((e) => [
    ...(e.out === null ? [] : [{ sku: e.sku, inStock: false, hoursAgo: e.out }]),
    ...(e.back === null ? [] : [{ sku: e.sku, inStock: true, hoursAgo: e.back }]),
  ]).sort((a, b) => b.hoursAgo - a.hoursAgo);
  for (const f of flips) {
    await db.query('UPDATE shop.products SET in_stock = $2 WHERE sku = $1', [f.sku, f.inStock]);
    await recordStock(db, 'shop', at(f.hoursAgo));
  }

  const newsletter = await addPastNewsletter(db, now);
  await db.exec('VACUUM ANALYZE shop.carts, shop.cart_items, shop.preorders, shop.products, herald.stock_seen, herald.messages');
  return { carts, preorders, episodes, newsletter };
}

/** customers/10 carts of customers without one, changed over the last 4 days, with 1–3 in-stock products (none in one in twenty). */
async function addCarts(db, now, customers) {
  const [r] = await db.query(
    `WITH product AS (SELECT row_number() OVER (ORDER BY sku)::int - 1 AS i, sku FROM shop.products WHERE in_stock),
     catalogue AS (SELECT count(*)::int AS size FROM product),
     shopper AS MATERIALIZED (
       SELECT c.id AS customer_id, c.site, c.created_at, row_number() OVER (ORDER BY c.id) AS n,
              ${draw('cart_age', 'c.id')} AS r_age, ${draw('cart_lines', 'c.id')} AS r_lines, ${draw('cart_product', 'c.id')} AS r_product
         FROM shop.customers c
        WHERE NOT EXISTS (SELECT 1 FROM shop.carts k WHERE k.customer_id = c.id)
        ORDER BY ${draw('cart', 'c.id')}
        LIMIT $2),
     cart AS MATERIALIZED (
       SELECT (SELECT coalesce(max(id), 0) FROM shop.carts) + n AS id, customer_id, site, r_lines, r_product,
              greatest(created_at, $1::timestamptz - r_age * interval '96 hours') AS updated_at
         FROM shopper),
     carts_written AS (
       INSERT INTO shop.carts (id, customer_id, site, updated_at) SELECT id, customer_id, site, updated_at FROM cart RETURNING 1),
     items_written AS (
       INSERT INTO shop.cart_items (cart_id, sku, quantity)
       SELECT c.id, p.sku, 1 + (j % 2)
         FROM cart c CROSS JOIN catalogue k
        CROSS JOIN LATERAL generate_series(1, CASE WHEN c.r_lines < 0.05 THEN 0 ELSE 1 + floor(3 * c.r_lines * c.r_lines)::int END) AS j
         JOIN product p ON p.i = (floor(c.r_product * k.size)::int + 7 * j) % k.size
       RETURNING 1)
     SELECT (SELECT count(*) FROM carts_written)::int AS carts, (SELECT count(*) FROM items_written)::int AS lines`,
    [now, Math.round(customers / 10)],
  );
  return r;
}

/** customers/40 preorders, each of one of the episodes' products, made while it was out of stock. */
async function addPreorders(db, customers, episodes) {
  const [r] = await db.query(
    `WITH episode AS (SELECT (x.i - 1)::int AS i, x.e ->> 'sku' AS sku, (x.e ->> 'out_at')::timestamptz AS out_at, (x.e ->> 'until')::timestamptz AS until
                        FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS x(e, i)),
     waiter AS (
       SELECT c.id, ${draw('preorder_product', 'c.id')} AS r_product, ${draw('preorder_time', 'c.id')} AS r_time
         FROM shop.customers c ORDER BY ${draw('preorder', 'c.id')} LIMIT $2),
     written AS (
       INSERT INTO shop.preorders (customer_id, sku, created_at)
       SELECT w.id, e.sku, e.out_at + w.r_time * (e.until - e.out_at)
         FROM waiter w JOIN episode e ON e.i = floor(w.r_product * $3::int)::int
       RETURNING 1)
     SELECT count(*)::int AS n, (SELECT count(*) FROM shop.preorders)::int + count(*)::int AS total FROM written`,
    [JSON.stringify(episodes), Math.round(customers / 40), episodes.length],
  );
  return r;
}

/** A newsletter sent ten days ago to every customer with consent and an address, so the ledger is a shop's, not empty. */
async function addPastNewsletter(db, now) {
  const sent = new Date(now.getTime() - 10 * DAY);
  const rows = await db.query(
    `INSERT INTO herald.messages (source_kind, source, channel, customer_id, address, site, locale, status, sent_at, next_attempt_at, attempts)
     SELECT 'campaign', 'bench-newsletter', 'email', id, email, site, locale, 'sent', $1, $1, 1
       FROM shop.customers WHERE email_opt_in AND email ~ '^[^@[:space:]]+@[^@[:space:]]+\\.[^@[:space:]]+$'
     RETURNING 1`,
    [sent],
  );
  return rows.length;
}
