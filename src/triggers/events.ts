import { durationMs } from '../audience/duration.js';
import { SQL_EVENTS } from '../audience/sql-sandbox.js';
import { quoteIdent } from '../db/ident.js';
import type { Trigger } from '../workspace/model.js';
import { stockNowSql } from './stock.js';

/**
 * The occurrences of a trigger's event: one pure function per event type,
 * each building a SELECT of
 *
 *   customer_id bigint, occurrence text, due_at timestamptz, payload jsonb
 *
 * over the shop's tables, for the occurrences due in [from, now] (both
 * parameters). `occurrence` is what makes one occurrence of the event (the
 * ledger's key with the trigger and the customer), `due_at` when it became
 * due (the event's time plus the trigger's delay) and `payload` the event
 * data the message is rendered from and its exit conditions are checked
 * against. The claim-time exit checks and render-time tokens read these keys
 * and payloads exactly as written here:
 *
 * | event | occurrence | payload |
 * |---|---|---|
 * | birthday | `'2026'` (the year celebrated) | `{"birthday": "1990-03-12", "year": 2026}` (the customer's date of birth) |
 * | cart_abandoned | `'cart:<id>@<updated_at, epoch ms>'` | `{"cart_id": 123, "version": "<updated_at, ISO, ms>"}` |
 * | back_in_stock | `'<sku>@<back_at, epoch ms>'` | `{"sku": "X", "back_at": "<ISO, ms>"}` |
 * | no_order_after_signup | `'signup'` | `{"signed_up_at": "<ISO, ms>"}` |
 * | order_total_over | `'order:<id>'` | `{"order_id": 1}` |
 * | cross_sell_after_purchase | `'order:<id>'` | `{"order_id": 1}` |
 * | sql | the query's `event_key` | `{"event": <its payload column, or null>}` |
 *
 * Times in payloads are UTC ISO 8601 to the millisecond, like JavaScript's
 * toISOString(), and epoch milliseconds in keys: the two name the same
 * instant (both truncate the microseconds). A delay (`after`, a day being
 * 24 hours) is moved to the other side of the window test (`updated_at
 * BETWEEN from - after AND now - after`, both computed here as parameters),
 * so the shop's index on the event's time, where there is one, can serve
 * it: the planner estimates a range of constants, where it cannot fold
 * `timestamptz - interval`. Orders count unless cancelled
 * (`source.cancelled_statuses`). The site restriction here is the event's
 * own site (a cart's, an order's); the sweep restricts customers to the
 * trigger's sites as well. A builder may yield an occurrence more than once
 * (two preorders of one product); the sweep keeps one.
 */

/** A site as events see it. */
export interface EventSite {
  /** IANA zone of its customers' local dates (birthdays). */
  timezone: string;
  /** ISO 4217: order_total_over compares totals in it. */
  currency: string;
}

export interface EventScope {
  /** The shop's schema (unquoted; quoted here). */
  schema: string;
  cancelled: readonly string[];
  /** The trigger's sites, by id. */
  sites: Readonly<Record<string, EventSite>>;
  /** The window: occurrences due in [from, now]. */
  from: Date;
  now: Date;
  /** Adds a value to the statement's parameters and returns its reference, with `cast`. */
  param(value: unknown, cast: string): string;
}

type Builder = (t: Trigger, s: EventScope) => string;

/** The SELECT of `t`'s occurrences due in the window. */
export function occurrencesSql(t: Trigger, s: EventScope): string {
  return BUILDERS[t.event](t, s);
}

const OUT_FOR_DEFAULT = '1d';

/** `'2026-03-12T10:00:00.000Z'`: the instant in UTC, to the millisecond. */
const iso = (ts: string) => `to_char(${ts} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
/** The instant in epoch milliseconds, as text for a key. */
const epochMs = (ts: string) => `floor(extract(epoch FROM ${ts}) * 1000)::bigint::text`;

/** A duration of the trigger, in milliseconds. */
function duration(t: Trigger, key: 'after' | 'out_for', fallback?: string): number {
  const text = t[key] ?? fallback;
  if (text === undefined) throw new Error(`trigger event ${t.event} needs ${key}`);
  return durationMs(text);
}

const interval = (s: EventScope, ms: number) => s.param(`${ms / 1000} seconds`, '::interval');

/** The window's ends as parameters, moved back by `delay` ms: an event at x is due in [from, now] when x is in [from - delay, now - delay]. */
function window(s: EventScope, delay = 0): { from: string; now: string } {
  return {
    from: s.param(new Date(s.from.getTime() - delay), '::timestamptz'),
    now: s.param(new Date(s.now.getTime() - delay), '::timestamptz'),
  };
}

const siteIds = (s: EventScope) => s.param(Object.keys(s.sites), '::text[]');
const siteConfig = (s: EventScope) => s.param(JSON.stringify(s.sites), '::jsonb');

const BUILDERS: Record<Trigger['event'], Builder> = {
  /**
   * `days_before` days before the birthday, at midnight of the customer's
   * local date in the site's zone; once a year (the key is the year
   * celebrated). A 29 February birthday is celebrated on 28 February in
   * other years. The years tried are those the window touches, and the next
   * (a birthday early in January is due in December). No index serves a
   * month and day across years, so this reads every customer on the
   * trigger's sites once per sweep; a cheap first test keeps only the
   * birthdays (month and day) that can be due in the window — each UTC date
   * of it, a day wider on each side for the zones, plus `days_before`, and
   * 29 February always — a hashed lookup per customer, so the dates and
   * zones are computed for those few only (a sweep of 200k customers went
   * from 1.4 s to 0.1 s).
   */
  birthday(t, s) {
    const days = s.param(t.days_before ?? 0, '::int');
    const w = window(s);
    return `SELECT c.id AS customer_id, b.year::text AS occurrence, b.due_at,
                   jsonb_build_object('birthday', to_char(c.birthday::timestamp, 'YYYY-MM-DD'), 'year', b.year) AS payload
              FROM ${quoteIdent(s.schema)}.customers c
              JOIN jsonb_each(${siteConfig(s)}) AS site(id, cfg) ON site.id = c.site
              CROSS JOIN LATERAL (
                SELECT y.year,
                       ((CASE WHEN to_char(c.birthday::timestamp, 'MM-DD') = '02-29' AND NOT (y.year % 4 = 0 AND (y.year % 100 <> 0 OR y.year % 400 = 0))
                              THEN make_date(y.year, 2, 28)
                              ELSE make_date(y.year, extract(month FROM c.birthday)::int, extract(day FROM c.birthday)::int) END
                         - ${days})::timestamp AT TIME ZONE (site.cfg->>'timezone')) AS due_at
                  FROM generate_series(extract(year FROM ${w.from} AT TIME ZONE 'UTC')::int,
                                       extract(year FROM ${w.now} AT TIME ZONE 'UTC')::int + 1) AS y(year)) b
             WHERE to_char(c.birthday::timestamp, 'MM-DD') IN (
                     SELECT to_char(d + ${days} * interval '1 day', 'MM-DD')
                       FROM generate_series(date_trunc('day', ${w.from} AT TIME ZONE 'UTC') - interval '1 day',
                                            ${w.now} AT TIME ZONE 'UTC' + interval '1 day', interval '1 day') AS d
                     UNION ALL SELECT '02-29')
               AND b.due_at BETWEEN ${w.from} AND ${w.now}`;
  },

  /**
   * A cart with at least one line, idle for `after` since its last change.
   * Each change is a new version of the cart, so a new occurrence: a cart
   * reminded of and then changed is reminded of again (`once` limits how
   * often). A customer who ordered (not cancelled) after the cart's last
   * change has bought it, or given up on it: no reminder.
   */
  cart_abandoned(t, s) {
    const after = duration(t, 'after');
    const w = window(s, after);
    const q = quoteIdent(s.schema);
    return `SELECT k.customer_id, 'cart:' || k.id || '@' || ${epochMs('k.updated_at')} AS occurrence,
                   k.updated_at + ${interval(s, after)} AS due_at,
                   jsonb_build_object('cart_id', k.id, 'version', ${iso('k.updated_at')}) AS payload
              FROM ${q}.carts k
             WHERE k.updated_at BETWEEN ${w.from} AND ${w.now}
               AND k.customer_id IS NOT NULL AND k.site = ANY(${siteIds(s)})
               AND EXISTS (SELECT 1 FROM ${q}.cart_items i WHERE i.cart_id = k.id)
               AND NOT EXISTS (SELECT 1 FROM ${q}.orders o
                                WHERE o.customer_id = k.customer_id AND o.created_at > k.updated_at
                                  AND o.status <> ALL(${s.param([...s.cancelled], '::text[]')}))`;
  },

  /**
   * The customers waiting (a preorder made before the product came back)
   * for a product whose latest stock episode (stock.ts) started in the
   * window, after it was out for at least `out_for` (default 1d), and that
   * is in stock now. Due when herald saw it back.
   */
  back_in_stock(t, s) {
    const w = window(s);
    return `SELECT p.customer_id, st.sku || '@' || ${epochMs('st.back_at')} AS occurrence, st.back_at AS due_at,
                   jsonb_build_object('sku', st.sku, 'back_at', ${iso('st.back_at')}) AS payload
              FROM (${stockNowSql(s.schema, w.now)}) AS st
              JOIN ${quoteIdent(s.schema)}.preorders p ON p.sku = st.sku AND p.created_at < st.back_at
             WHERE st.in_stock AND st.was_out >= ${interval(s, duration(t, 'out_for', OUT_FOR_DEFAULT))} AND st.back_at BETWEEN ${w.from} AND ${w.now}`;
  },

  /** Customers who signed up `after` ago and have ordered nothing (not cancelled) since. Once per customer by its key. */
  no_order_after_signup(t, s) {
    const after = duration(t, 'after');
    const w = window(s, after);
    const q = quoteIdent(s.schema);
    return `SELECT c.id AS customer_id, 'signup' AS occurrence, c.created_at + ${interval(s, after)} AS due_at,
                   jsonb_build_object('signed_up_at', ${iso('c.created_at')}) AS payload
              FROM ${q}.customers c
             WHERE c.created_at BETWEEN ${w.from} AND ${w.now}
               AND c.site = ANY(${siteIds(s)})
               AND NOT EXISTS (SELECT 1 FROM ${q}.orders o
                                WHERE o.customer_id = c.id AND o.created_at >= c.created_at
                                  AND o.status <> ALL(${s.param([...s.cancelled], '::text[]')}))`;
  },

  /**
   * An order (not cancelled) on one of the trigger's sites whose total is
   * over `amount` in that site's currency; an order in another currency is
   * not compared at all. Due when placed.
   */
  order_total_over(t, s) {
    if (t.amount === undefined) throw new Error('trigger event order_total_over needs amount');
    const w = window(s);
    return `SELECT o.customer_id, 'order:' || o.id AS occurrence, o.created_at AS due_at,
                   jsonb_build_object('order_id', o.id) AS payload
              FROM ${quoteIdent(s.schema)}.orders o
              JOIN jsonb_each(${siteConfig(s)}) AS site(id, cfg) ON site.id = o.site
             WHERE o.created_at BETWEEN ${w.from} AND ${w.now}
               AND o.status <> ALL(${s.param([...s.cancelled], '::text[]')})
               AND o.currency = site.cfg->>'currency' AND o.total > ${s.param(t.amount, '::numeric')}`;
  },

  /**
   * `after` an order (not cancelled) on one of the trigger's sites holding an
   * item of `categories`, for customers to whom the message has something
   * to show: a product of `recommend` in stock that they have not bought
   * (in any order not cancelled). Without `recommend` there is no such
   * test.
   */
  cross_sell_after_purchase(t, s) {
    if (!t.categories) throw new Error('trigger event cross_sell_after_purchase needs categories');
    const after = duration(t, 'after');
    const w = window(s, after);
    const q = quoteIdent(s.schema);
    const cancelled = s.param([...s.cancelled], '::text[]');
    const recommend = t.recommend ? `AND ${somethingToRecommend(q, s.param([...t.recommend], '::text[]'), cancelled)}` : '';
    return `SELECT o.customer_id, 'order:' || o.id AS occurrence, o.created_at + ${interval(s, after)} AS due_at,
                   jsonb_build_object('order_id', o.id) AS payload
              FROM ${q}.orders o
             WHERE o.created_at BETWEEN ${w.from} AND ${w.now}
               AND o.status <> ALL(${cancelled}) AND o.site = ANY(${siteIds(s)})
               AND EXISTS (SELECT 1 FROM ${q}.order_items i JOIN ${q}.products p ON p.sku = i.sku
                            WHERE i.order_id = o.id AND p.category = ANY(${s.param([...t.categories], '::text[]')}))
               ${recommend}`;
  },

  /**
   * The user's query, evaluated beforehand in confinement into SQL_EVENTS
   * (sql-sandbox.ts evaluateSqlEvent): every row is due now. The query has
   * no time of its own for the window or the back-fill horizon to test, so
   * it bounds what it returns itself (orders delivered 14 to 15 days ago).
   */
  sql(_t, s) {
    // Every row is due now, which lies in [from, now] exactly when from <= now.
    return `SELECT e.customer_id, e.event_key AS occurrence, ${s.param(s.now, '::timestamptz')} AS due_at,
                   jsonb_build_object('event', e.payload) AS payload
              FROM ${SQL_EVENTS} e
             WHERE ${s.param(s.from <= s.now, '::boolean')}`;
  },
};

/**
 * The customer of order `o` has something to be recommended: an in-stock
 * product of `categories` they have not bought (in an order not
 * cancelled). EXISTS stops at the first such product; a count of what was
 * bought (an earlier form, chosen to keep the estimate under the JIT
 * threshold) read the customer's whole history for every order of the
 * window, before the test for a purchase in `categories` (9.5 s of a 10 s
 * sweep on the 1M-customer bench). Sweeps run without JIT now.
 */
function somethingToRecommend(q: string, categories: string, cancelled: string): string {
  return `EXISTS (SELECT 1 FROM ${q}.products r
                   WHERE r.category = ANY(${categories}) AND r.in_stock
                     AND NOT EXISTS (SELECT 1 FROM ${q}.orders b JOIN ${q}.order_items bi ON bi.order_id = b.id
                                      WHERE b.customer_id = o.customer_id AND bi.sku = r.sku AND b.status <> ALL(${cancelled})))`;
}
