// The baselines of bench/sweep.mjs: for each example trigger, the
// INSERT … SELECT one would write by hand for this shop to put the same rows
// into the ledger as herald's sweep (src/triggers/sweep-sql.ts, events.ts):
// the same occurrences, keys, payloads and due times, the recipients and the
// suppressed with the same reasons, `once` and the audience applied; and,
// like the sweep, the count of the window's occurrences due before the
// back-fill horizon, which it reads but does not insert.
//
// Written for these triggers, not for any: each one's settings (delays,
// amount, categories, `once`) are literals here, and SPECS says which, so the
// bench stops if triggers/*.yaml no longer says the same. Values that are the
// shop's configuration (the sites' locales and zone) come from the deployed
// project. What a hand-writer would do differently from herald's generic
// statement is done: the site table and the time zone inlined, birthdays
// matched on their month and day instead of generated per year, the VIP test
// an aggregate of the few customers concerned instead of a summary of all.

const ADDRESS = `'^[^@[:space:]]+@[^@[:space:]]+\\.[^@[:space:]]+$'`;
const iso = (ts) => `to_char(${ts} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
const epochMs = (ts) => `floor(extract(epoch FROM ${ts}) * 1000)::bigint::text`;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** What each hand-written query takes for granted about its trigger's spec. */
export const SPECS = {
  'birthday': { event: 'birthday', days_before: 3, once: 'per_year' },
  'abandoned-cart': { event: 'cart_abandoned', after: '4h', once: '7d' },
  'back-in-stock': { event: 'back_in_stock', once: 'per_event' },
  'welcome': { event: 'no_order_after_signup', after: '3d', once: 'per_customer' },
  'big-order-thanks': { event: 'order_total_over', amount: 300, site: 'shop-en', once: 'per_event', audience: { not: { segment: 'vip' } } },
  'shoe-care-cross-sell': { event: 'cross_sell_after_purchase', after: '7d', categories: ['shoes'], recommend: ['care'], once: 'per_event', audience: { not: { purchased: { categories: ['care'], within: '90d' } } } },
  'review-request': { event: 'sql', once: 'per_event' },
};

/** The hand-written INSERT … SELECT of `name`'s sweep over window `w` ({ from, horizon, now }). */
export function handSweep(name, { w, versions, project, reviewSql }) {
  const values = [];
  const p = (v, cast = '') => {
    values.push(v);
    return `$${values.length}${cast}`;
  };
  // A time, as a parameter made on first use (PostgreSQL cannot type one the statement never mentions).
  const times = new Map();
  const time = (d) => times.get(d.getTime()) ?? times.set(d.getTime(), p(d, '::timestamptz')).get(d.getTime());
  const ago = (ms) => time(new Date(w.now.getTime() - ms));
  const before = (ms) => time(new Date(w.from.getTime() - ms));
  const [from, now, horizon] = [() => time(w.from), () => time(w.now), () => time(w.horizon)];
  const zone = project.defaults?.timezone ?? 'UTC';
  let sites = project.sites;
  let occurrences;
  let audience = '';

  switch (name) {
    case 'birthday': {
      // The month-days whose birthday falls due in the window, with the year celebrated (a day either side for the zone; the exact test follows).
      const days = [];
      for (let t = w.from.getTime() - DAY; t <= w.now.getTime() + DAY; t += DAY) {
        const d = new Date(t + 3 * DAY);
        const [y, md] = [d.getUTCFullYear(), d.toISOString().slice(5, 10)];
        days.push(`('${md}', ${y})`);
        const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
        if (md === '02-28' && !leap) days.push(`('02-29', ${y})`);
      }
      occurrences = `
        SELECT c.id AS customer_id, d.year::text AS occurrence, b.due_at,
               jsonb_build_object('birthday', to_char(c.birthday, 'YYYY-MM-DD'), 'year', d.year) AS payload
          FROM shop.customers c
          JOIN (VALUES ${days.join(', ')}) AS d (md, year) ON to_char(c.birthday, 'MM-DD') = d.md
         CROSS JOIN LATERAL (SELECT (make_date(d.year, extract(month FROM c.birthday)::int,
                                               CASE WHEN d.md = '02-29' AND NOT (d.year % 4 = 0 AND (d.year % 100 <> 0 OR d.year % 400 = 0)) THEN 28
                                                    ELSE extract(day FROM c.birthday)::int END) - 3)::timestamp AT TIME ZONE '${zone}' AS due_at) b
         WHERE b.due_at BETWEEN ${from()} AND ${now()}`;
      break;
    }
    case 'abandoned-cart':
      occurrences = `
        SELECT k.customer_id, 'cart:' || k.id || '@' || ${epochMs('k.updated_at')} AS occurrence, k.updated_at + interval '4 hours' AS due_at,
               jsonb_build_object('cart_id', k.id, 'version', ${iso('k.updated_at')}) AS payload
          FROM shop.carts k
         WHERE k.updated_at BETWEEN ${before(4 * HOUR)} AND ${ago(4 * HOUR)}
           AND EXISTS (SELECT 1 FROM shop.cart_items i WHERE i.cart_id = k.id)
           AND NOT EXISTS (SELECT 1 FROM shop.orders o WHERE o.customer_id = k.customer_id AND o.created_at > k.updated_at AND o.status <> 'cancelled')`;
      break;
    case 'back-in-stock':
      // herald.stock_seen as the sweep's own look at the shop (recordStock) left it. Two preorders of one product
      // by one customer are one occurrence: ON CONFLICT keeps the first.
      occurrences = `
        SELECT o.customer_id, s.sku || '@' || ${epochMs('s.back_at')} AS occurrence, s.back_at AS due_at,
               jsonb_build_object('sku', s.sku, 'back_at', ${iso('s.back_at')}) AS payload
          FROM herald.stock_seen s
          JOIN shop.products pr ON pr.sku = s.sku AND pr.in_stock
          JOIN shop.preorders o ON o.sku = s.sku AND o.created_at < s.back_at
         WHERE s.back_at BETWEEN ${from()} AND ${now()} AND s.was_out >= interval '1 day'`;
      break;
    case 'welcome':
      occurrences = `
        SELECT c.id AS customer_id, 'signup' AS occurrence, c.created_at + interval '72 hours' AS due_at,
               jsonb_build_object('signed_up_at', ${iso('c.created_at')}) AS payload
          FROM shop.customers c
         WHERE c.created_at BETWEEN ${before(3 * DAY)} AND ${ago(3 * DAY)}
           AND NOT EXISTS (SELECT 1 FROM shop.orders o WHERE o.customer_id = c.id AND o.created_at >= c.created_at AND o.status <> 'cancelled')`;
      break;
    case 'big-order-thanks': {
      const site = project.sites.find((s) => s.id === 'shop-en');
      sites = [site];
      occurrences = `
        SELECT o.customer_id, 'order:' || o.id AS occurrence, o.created_at AS due_at, jsonb_build_object('order_id', o.id) AS payload
          FROM shop.orders o
         WHERE o.created_at BETWEEN ${from()} AND ${now()} AND o.status <> 'cancelled'
           AND o.site = 'shop-en' AND o.currency = '${site.currency}' AND o.total > 300`;
      // Not VIP (segments/vip.yaml): 3 orders in 365 days and an average of 150 EUR (shop-en) or 15,000 RUB (shop-ru), from these customers' own orders.
      audience = `AND NOT EXISTS (SELECT 1 FROM shop.orders v WHERE v.customer_id = c.id AND v.status <> 'cancelled'
                                  HAVING count(*) FILTER (WHERE v.created_at >= ${ago(365 * DAY)}) >= 3
                                     AND ((c.site = 'shop-en' AND avg(v.total) >= 150) OR (c.site = 'shop-ru' AND avg(v.total) >= 15000)))`;
      break;
    }
    case 'shoe-care-cross-sell':
      occurrences = `
        SELECT o.customer_id, 'order:' || o.id AS occurrence, o.created_at + interval '168 hours' AS due_at, jsonb_build_object('order_id', o.id) AS payload
          FROM shop.orders o
         WHERE o.created_at BETWEEN ${before(7 * DAY)} AND ${ago(7 * DAY)} AND o.status <> 'cancelled'
           AND EXISTS (SELECT 1 FROM shop.order_items i JOIN shop.products p ON p.sku = i.sku WHERE i.order_id = o.id AND p.category = 'shoes')
           -- something to recommend: a care product in stock the customer never bought
           AND EXISTS (SELECT 1 FROM shop.products r WHERE r.category = 'care' AND r.in_stock
                          AND NOT EXISTS (SELECT 1 FROM shop.orders b JOIN shop.order_items bi ON bi.order_id = b.id
                                           WHERE b.customer_id = o.customer_id AND bi.sku = r.sku AND b.status <> 'cancelled'))`;
      audience = `AND NOT EXISTS (SELECT 1 FROM shop.orders b JOIN shop.order_items bi ON bi.order_id = b.id JOIN shop.products bp ON bp.sku = bi.sku
                                   WHERE b.customer_id = c.id AND b.status <> 'cancelled' AND b.created_at >= ${ago(90 * DAY)} AND bp.category = 'care')`;
      break;
    case 'review-request':
      // The trigger's query itself, its rows due now.
      occurrences = `
        SELECT q.customer_id, q.event_key AS occurrence, ${now()} AS due_at,
               jsonb_build_object('event', NULL::jsonb) AS payload
          FROM (${reviewSql}) q`;
      break;
    default:
      throw new Error(`no hand-written sweep for ${name}`);
  }

  const trigger = p(name, '::text');
  const siteTable = `(VALUES ${sites.map((s) => `('${s.id}', '{${s.locales.join(',')}}'::text[], '${s.default_locale}')`).join(', ')}) AS s (site, locales, fallback)`;
  // `once` other than per_event: a customer's earliest occurrence not in the ledger, and nothing of this trigger's sent (within the period) or pending.
  const once = SPECS[name].once;
  const since = once === 'per_year' ? ` AND m.sent_at > ${ago(365 * DAY)}` : once === '7d' ? ` AND m.sent_at > ${ago(7 * DAY)}` : '';
  const onceTests = once === 'per_event' ? '' : `
            AND NOT EXISTS (SELECT 1 FROM herald.messages m WHERE m.source_kind = 'trigger' AND m.source = ${trigger} AND m.channel = 'email'
                              AND m.customer_id = b.customer_id AND m.occurrence = b.occurrence)
            AND NOT EXISTS (SELECT 1 FROM herald.messages m WHERE m.source_kind = 'trigger' AND m.source = ${trigger} AND m.channel = 'email'
                              AND m.customer_id = b.customer_id AND (m.status IN ('queued', 'claimed') OR (m.status = 'sent'${since})))`;
  // The window's occurrences of the trigger's customers, each with its reason not to send (NULL: a recipient);
  // those due before the horizon are counted, as herald's sweep counts them, the rest inserted.
  const text = `
WITH base AS (
  SELECT e.customer_id, e.occurrence, e.payload, e.due_at, c.email, c.site,
         CASE WHEN c.locale = ANY (s.locales) THEN c.locale ELSE s.fallback END AS locale,
         CASE WHEN c.email IS NULL OR btrim(c.email) = '' THEN 'no email'
              WHEN c.email !~ ${ADDRESS} THEN 'invalid email'
              WHEN NOT c.email_opt_in THEN 'email_opt_in is false'
              WHEN a.email IS NOT NULL THEN 'suppressed: ' || a.reason || ' (all sites)'
              WHEN x.email IS NOT NULL THEN 'suppressed: ' || x.reason || ' (' || x.site || ')' END AS reason
    FROM (${occurrences}) e
    JOIN shop.customers c ON c.id = e.customer_id
    JOIN ${siteTable} ON s.site = c.site
    LEFT JOIN herald.suppressions a ON a.email = lower(c.email) AND a.site IS NULL
    LEFT JOIN herald.suppressions x ON x.email = lower(c.email) AND x.site = c.site
   WHERE true ${audience}),
inserted AS (
  INSERT INTO herald.messages (source_kind, source, channel, customer_id, address, site, locale, occurrence, payload, due_at,
                               status, reason, next_attempt_at, source_version, template_version)
  SELECT 'trigger', ${trigger}, 'email', r.customer_id, r.email, r.site, r.locale, r.occurrence, r.payload, r.due_at,
         CASE WHEN r.reason IS NULL THEN 'queued' ELSE 'suppressed' END, r.reason, ${now()}, ${p(versions.source, '::int')}, ${p(versions.template, '::int')}
    FROM (SELECT ${once === 'per_event' ? '' : 'DISTINCT ON (b.customer_id) '}b.* FROM base b
           WHERE b.due_at >= ${horizon()}${onceTests}
           ${once === 'per_event' ? '' : 'ORDER BY b.customer_id, b.due_at, b.occurrence'}) r
  ON CONFLICT (source_kind, source, channel, customer_id, occurrence) WHERE customer_id IS NOT NULL DO NOTHING
  RETURNING 1)
SELECT (SELECT count(*) FROM inserted)::int AS inserted,
       (SELECT count(DISTINCT (customer_id, occurrence)) FROM base WHERE due_at < ${horizon()})::int AS skipped`;
  return { text, values };
}
