import { UserError } from '../errors.js';
import type { AggregatePredicate, DatePredicate, ItemFilter, LastOrderPredicate, MessageFilter, TextPredicate } from '../workspace/types.gen.js';
import { parseDuration } from './duration.js';
import { SQL_RESULTS } from './sql-sandbox.js';

/**
 * One function per segment predicate, each returning a boolean SQL
 * expression over the customer row `c`. compile.ts documents what each one
 * means (customers without orders included); this file is how.
 *
 * Two shapes, chosen for the plans PostgreSQL can make of them:
 * - Existence (last_order within/exists, purchased, open_order, in_cart,
 *   order_count ≥ 1 or = 0) is a correlated EXISTS keyed on `c.id`. The
 *   planner turns one under AND into a semi- or anti-join, and picks index
 *   probes for a few customers or a hash over the whole table for many,
 *   using the contract's indexes orders (customer_id, created_at),
 *   order_items (order_id), carts (customer_id), cart_items (cart_id).
 *   received, opened and clicked are existence too, over herald's own
 *   ledger: messages_contacted (customer_id, sent_at) or, for one source,
 *   messages_customer_key (source_kind, source, …), and
 *   message_events_message (message_id, kind).
 * - Comparisons of aggregates (order_count, total_spent, avg_order_value,
 *   max_order_value, last_order before) read columns of one per-customer
 *   summary of the counted orders, `oa`, which compile.ts LEFT JOINs once
 *   per statement (`Scope.summaryJoin`). A correlated `EXISTS (… HAVING …)`
 *   cannot become a join, so it ran one index probe and aggregate per
 *   customer; the summary is one grouped pass over orders, and every
 *   aggregate in the statement, whatever its window, shares it (windows are
 *   FILTER clauses). A comparison the no-orders customer cannot pass is left
 *   NULL-strict (`oa.n >= $1`), so under AND PostgreSQL reduces the LEFT
 *   JOIN to a join and pushes the comparison into the summary's HAVING; one
 *   the no-orders customer passes reads `coalesce(oa.n, 0)`.
 */

/** What every predicate shares: the parameter list, the schema, and values resolved once per statement. */
export class Scope {
  private shared = new Map<string, string>();

  /** The summary's columns by `kind:window`, in the order first used. */
  private summaryColumns = new Map<string, { name: string; expr: string; cutoff: string | undefined }>();

  constructor(
    readonly values: unknown[],
    /** The shop schema, already validated and quoted. */
    readonly schema: string,
    readonly now: Date,
    readonly cancelledStatuses: readonly string[],
    readonly openStatuses: readonly string[],
    readonly timezone: string,
    /** The customers the statement keeps, when the caller narrows it (CompileContext.candidates). */
    readonly candidates?: string,
  ) {}

  param(value: unknown, cast = ''): string {
    this.values.push(value);
    return `$${this.values.length}${cast}`;
  }

  /**
   * A parameter added on first use and reused after: PostgreSQL cannot type a
   * parameter the statement never mentions, so nothing is added up front.
   */
  private once(key: string, value: () => unknown, cast: string): string {
    let ref = this.shared.get(key);
    if (!ref) this.shared.set(key, (ref = this.param(value(), cast)));
    return ref;
  }

  get cancelled(): string {
    return this.once('cancelled', () => [...this.cancelledStatuses], '::text[]');
  }

  get open(): string {
    return this.once('open', () => [...this.openStatuses], '::text[]');
  }

  get tz(): string {
    return this.once('tz', () => this.timezone, '::text');
  }

  /**
   * `now` minus a duration, computed here rather than in SQL: a day is 24
   * hours whatever the server's TimeZone, so PGlite and every server agree.
   */
  cutoff(duration: string): string {
    return this.once(`ago:${duration}`, () => new Date(this.now.getTime() - durationMs(duration)).toISOString(), '::timestamptz');
  }

  /** A column of the per-customer order summary `oa`: `kind` over the counted orders in the window. */
  summary(kind: keyof typeof SUMMARY, within?: string): string {
    const key = `${kind}:${within ?? ''}`;
    let col = this.summaryColumns.get(key);
    if (!col) {
      const cutoff = within ? this.cutoff(within) : undefined;
      col = { name: `${kind}_${this.summaryColumns.size + 1}`, expr: SUMMARY[kind], cutoff };
      this.summaryColumns.set(key, col);
    }
    return `oa.${col.name}`;
  }

  /**
   * `LEFT JOIN (…) oa ON oa.customer_id = c.id` when a predicate used the
   * summary: one row per customer with counted orders, so a customer without
   * any has NULL in every column. When every column has a window, only the
   * orders in the widest one are read; a single window needs no FILTER.
   *
   * With candidates (a trigger sweep's few thousand customers), only their
   * orders are grouped: PostgreSQL cannot push the join's `c.id` into a
   * grouped subquery, so the summary grouped the whole shop's orders for
   * them (1.2 s of a 2.8 s sweep on the 1M-customer bench). As a semi-join
   * the planner probes orders (customer_id, created_at) per candidate, or
   * hashes them when they are many.
   */
  summaryJoin(): string | undefined {
    const cols = [...this.summaryColumns.values()];
    if (!cols.length) return undefined;
    const cutoffs = [...new Set(cols.map((col) => col.cutoff))];
    const windowed = !cutoffs.includes(undefined);
    const filtered = !(windowed && cutoffs.length === 1);
    const select = cols.map((col) => `${col.expr}${filtered && col.cutoff ? ` FILTER (WHERE o.created_at >= ${col.cutoff})` : ''} AS ${col.name}`);
    const window = !windowed ? '' : cutoffs.length === 1 ? ` AND o.created_at >= ${cutoffs[0]}` : ` AND o.created_at >= least(${cutoffs.join(', ')})`;
    const only = this.candidates ? ` AND o.customer_id IN (${this.candidates})` : '';
    return `LEFT JOIN (SELECT o.customer_id, ${select.join(', ')}
                 FROM ${this.schema}.orders o WHERE o.status <> ALL(${this.cancelled})${window}${only}
                GROUP BY o.customer_id) oa ON oa.customer_id = c.id`;
  }
}

const UNIT_MS = { h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

function durationMs(text: string): number {
  const d = parseDuration(text);
  if (!d) throw new Error(`not a duration: ${text}`);
  return d.n * UNIT_MS[d.unit];
}

// ── customer attributes ────────────────────────────────────────────────────

/** site, locale (exact) and country, city (case-insensitive). NULL matches only `not_in`. */
export function text(column: string, pred: TextPredicate, s: Scope, caseInsensitive: boolean): string {
  const col = caseInsensitive ? `lower(${column})` : column;
  const list = (values: string[]) =>
    caseInsensitive ? `(SELECT lower(v) FROM unnest(${s.param(values, '::text[]')}) AS v)` : `(${s.param(values, '::text[]')})`;
  if (typeof pred === 'string') return caseInsensitive ? `${col} = lower(${s.param(pred)})` : `${col} = ${s.param(pred)}`;
  if (pred.in) return `${col} = ANY ${list(pred.in)}`;
  if (pred.not_in) return `(${column} IS NULL OR NOT ${col} = ANY ${list(pred.not_in)})`;
  throw new Error('empty text predicate');
}

/** registered: within/before relative to now, since/until as dates or instants. */
export function registered(pred: DatePredicate, s: Scope): string {
  const col = 'c.created_at';
  const parts: string[] = [];
  if (pred.within) parts.push(`${col} >= ${s.cutoff(pred.within)}`);
  if (pred.before) parts.push(`${col} < ${s.cutoff(pred.before)}`);
  if (pred.since) parts.push(`${col} >= ${instant(pred.since, s)}`);
  if (pred.until) {
    // A date-only `until` includes that whole day.
    parts.push(isDateOnly(pred.until) ? `${col} < ((${s.param(pred.until)}::date + 1)::timestamp AT TIME ZONE ${s.tz})` : `${col} <= ${instant(pred.until, s)}`);
  }
  return all(parts);
}

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const HAS_OFFSET = /(Z|[+-]\d{2}:?\d{2})$/;

function isDateOnly(text: string): boolean {
  return DATE_ONLY.test(text);
}

/** A date or local time is read in the workspace's timezone; a time with an offset is already an instant. */
function instant(text: string, s: Scope): string {
  return HAS_OFFSET.test(text) ? s.param(text, '::timestamptz') : `(${s.param(text)}::timestamp AT TIME ZONE ${s.tz})`;
}

/** The birthday's month and day; the year is ignored. */
const MONTH_DAY = `to_char(c.birthday::timestamp, 'MM-DD')`;

/** birthday: within = the next N days starting today; since/until = a range of month-days. */
export function birthday(pred: DatePredicate, s: Scope): string {
  if (pred.before) {
    throw new UserError('birthday: before is not meaningful for birthdays', 'use within: 7d for birthdays in the next 7 days, or since/until for a range of days in the year');
  }
  const parts: string[] = [];
  if (pred.within) parts.push(`${MONTH_DAY} = ANY(${s.param(upcomingBirthdays(s.now, s.timezone, pred.within), '::text[]')})`);
  const from = pred.since && monthDay(pred.since);
  const to = pred.until && monthDay(pred.until);
  if (from && to && from > to) {
    // The range wraps over New Year: Dec 20 … Jan 5.
    parts.push(`(${MONTH_DAY} >= ${s.param(from)} OR ${MONTH_DAY} <= ${s.param(to)})`);
  } else {
    if (from) parts.push(`${MONTH_DAY} >= ${s.param(from)}`);
    if (to) parts.push(`${MONTH_DAY} <= ${s.param(to)}`);
  }
  return all(parts);
}

function monthDay(date: string): string {
  return date.slice(5, 10);
}

/**
 * The month-days (`MM-DD`) of today and the following days, `within` long in
 * whole days (hours round up), today being the date at `now` in `timezone`.
 * In a year without Feb 29, those born on Feb 29 celebrate on Feb 28.
 */
export function upcomingBirthdays(now: Date, timezone: string, within: string): string[] {
  const days = Math.min(Math.ceil(durationMs(within) / UNIT_MS.d), 366);
  const [y, m, d] = localDate(now, timezone);
  const out = new Set<string>();
  for (let i = 0; i < days; i++) {
    const day = new Date(Date.UTC(y, m - 1, d + i));
    const md = day.toISOString().slice(5, 10);
    out.add(md);
    if (md === '02-28' && !isLeapYear(day.getUTCFullYear())) out.add('02-29');
  }
  return [...out];
}

function localDate(now: Date, timezone: string): [number, number, number] {
  let parts: Intl.DateTimeFormatPart[];
  try {
    parts = new Intl.DateTimeFormat('en-US', { timeZone: timezone, year: 'numeric', month: 'numeric', day: 'numeric' }).formatToParts(now);
  } catch {
    throw new UserError(`unknown time zone "${timezone}"`, 'use an IANA name such as Europe/Berlin');
  }
  const part = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  return [part('year'), part('month'), part('day')];
}

function isLeapYear(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

// ── orders ─────────────────────────────────────────────────────────────────

/** The customer's orders that count (not cancelled), optionally within a window ending at now. */
function countedOrders(s: Scope, within?: string): string {
  const window = within ? ` AND o.created_at >= ${s.cutoff(within)}` : '';
  return `${s.schema}.orders o WHERE o.customer_id = c.id AND o.status <> ALL(${s.cancelled})${window}`;
}

/** The summary's aggregates; FILTER (WHERE …) narrows one to its window. */
const SUMMARY = {
  order_count: 'count(*)',
  total_spent: 'sum(o.total)',
  avg_order_value: 'avg(o.total)',
  max_order_value: 'max(o.total)',
  last_order: 'max(o.created_at)',
} as const;

/** What a customer without counted orders (in the window) has: count and sum 0, no average or maximum. */
const EMPTY = { order_count: 0, total_spent: 0, avg_order_value: undefined, max_order_value: undefined } as const;

const COMPARISONS = { gte: '>=', gt: '>', lte: '<=', lt: '<', eq: '=' } as const;
type Bound = keyof typeof COMPARISONS;

function holds(value: number, bound: Bound, limit: number): boolean {
  switch (bound) {
    case 'gte': return value >= limit;
    case 'gt': return value > limit;
    case 'lte': return value <= limit;
    case 'lt': return value < limit;
    case 'eq': return value === limit;
  }
}

/** An aggregate over the counted orders (in the window), compared once per bound. */
export function aggregate(kind: keyof typeof EMPTY, pred: AggregatePredicate, s: Scope): string {
  const bounds = (Object.keys(COMPARISONS) as Bound[]).filter((k) => pred[k] !== undefined);
  if (!bounds.length) throw new Error(`${kind}: no comparison`);
  const empty = EMPTY[kind];
  const matchesEmpty = empty !== undefined && bounds.every((k) => holds(empty, k, pred[k]!));
  if (kind === 'order_count') {
    // A count is a whole number: "at least one" and "none" are existence, which needs no aggregate.
    const matchesOne = bounds.every((k) => holds(1, k, pred[k]!));
    const unbounded = !bounds.some((k) => k === 'lt' || k === 'lte' || k === 'eq');
    if (!matchesEmpty && matchesOne && unbounded) return `EXISTS (SELECT 1 FROM ${countedOrders(s, pred.within)})`;
    if (matchesEmpty && !matchesOne) return `NOT EXISTS (SELECT 1 FROM ${countedOrders(s, pred.within)})`;
  }
  const column = s.summary(kind, pred.within);
  const value = matchesEmpty ? `coalesce(${column}, 0)` : column;
  return all(bounds.map((k) => `${value} ${COMPARISONS[k]} ${s.param(pred[k], '::numeric')}`));
}

/**
 * last_order: within = an order since the cutoff; before = has ordered, and
 * the last counted order is older than the cutoff (NULL-strict, from the summary).
 */
export function lastOrder(pred: LastOrderPredicate, s: Scope): string {
  const parts: string[] = [];
  if (pred.exists === false) parts.push(`NOT EXISTS (SELECT 1 FROM ${countedOrders(s)})`);
  if (pred.exists === true) parts.push(`EXISTS (SELECT 1 FROM ${countedOrders(s)})`);
  if (pred.within) parts.push(`EXISTS (SELECT 1 FROM ${countedOrders(s, pred.within)})`);
  if (pred.before) parts.push(`${s.summary('last_order')} < ${s.cutoff(pred.before)}`);
  return all(parts);
}

// ── items: purchased, open orders, carts ───────────────────────────────────

/** An item (alias `i`) named by the filter: its SKU is listed, or its product's category is. */
function itemMatches(f: ItemFilter, s: Scope): string | undefined {
  const parts: string[] = [];
  if (f.skus) parts.push(`i.sku = ANY(${s.param(f.skus, '::text[]')})`);
  if (f.categories) parts.push(`i.sku IN (SELECT p.sku FROM ${s.schema}.products p WHERE p.category = ANY(${s.param(f.categories, '::text[]')}))`);
  return parts.length ? `(${parts.join(' OR ')})` : undefined;
}

/** Orders whose status passes `statusFilter`, containing a matching item (any order when no items are named). */
function ordersWith(f: ItemFilter, statusFilter: string, s: Scope): string {
  const window = f.within ? ` AND o.created_at >= ${s.cutoff(f.within)}` : '';
  const items = itemMatches(f, s);
  const join = items ? ` JOIN ${s.schema}.order_items i ON i.order_id = o.id` : '';
  return `EXISTS (SELECT 1 FROM ${s.schema}.orders o${join} WHERE o.customer_id = c.id AND ${statusFilter}${window}${items ? ` AND ${items}` : ''})`;
}

/** purchased: a counted (not cancelled) order containing one of the items. */
export function purchased(f: ItemFilter, s: Scope): string {
  return ordersWith(f, `o.status <> ALL(${s.cancelled})`, s);
}

/** open_order: an order in one of the open statuses containing one of the items. */
export function openOrder(f: ItemFilter, s: Scope): string {
  return ordersWith(f, `o.status = ANY(${s.open})`, s);
}

/** in_cart: a cart (changed within the window, if given) holding one of the items; an empty cart holds nothing. */
export function inCart(f: ItemFilter, s: Scope): string {
  const window = f.within ? ` AND k.updated_at >= ${s.cutoff(f.within)}` : '';
  const items = itemMatches(f, s);
  return `EXISTS (SELECT 1 FROM ${s.schema}.carts k JOIN ${s.schema}.cart_items i ON i.cart_id = k.id WHERE k.customer_id = c.id${window}${items ? ` AND ${items}` : ''})`;
}

// ── the escape hatch ───────────────────────────────────────────────────────

/**
 * sql: the customers the user's SELECT returned. The SELECT itself is never
 * part of this statement: sql-sandbox.ts evaluates it first, confined, into
 * the session's results table, under the condition's key (hex, so a literal).
 */
export function sql(key: string): string {
  if (!/^[0-9a-f]+$/.test(key)) throw new Error(`not a condition key: ${key}`);
  return `c.id IN (SELECT r.customer_id FROM ${SQL_RESULTS} r WHERE r.condition = '${key}')`;
}

function all(parts: string[]): string {
  if (!parts.length) throw new Error('empty predicate');
  return parts.length === 1 ? parts[0]! : `(${parts.join(' AND ')})`;
}

/** list: members of an imported list who are shop customers (herald.list_members, filled by apply). */
export function listMember(name: string, s: Scope): string {
  return `c.id IN (SELECT m.customer_id FROM herald.list_members m WHERE m.list = ${s.param(name)} AND m.customer_id IS NOT NULL)`;
}

// ── past messages: the ledger ──────────────────────────────────────────────

/** The event kinds each message predicate looks for; a click means the message was opened, even with images off. */
const MESSAGE_EVENTS = { received: undefined, opened: `('open', 'click')`, clicked: `('click')` } as const;

/**
 * received: a message of the source sent to the customer (status 'sent':
 * not one queued, suppressed, failed or bounced), sent in the window.
 * opened, clicked: such a message with a person's open or click (class
 * 'human'), made in the window. `m.status = 'sent'` implies the partial
 * index messages_contacted's predicate, so the planner may probe it per
 * customer or hash the source's rows (messages_customer_key) for many.
 */
export function messages(kind: keyof typeof MESSAGE_EVENTS, f: MessageFilter, s: Scope): string {
  const parts = [`m.customer_id = c.id`, `m.status = 'sent'`];
  if (f.campaign !== undefined) parts.push(`m.source_kind = 'campaign'`, `m.source = ${s.param(f.campaign)}`);
  if (f.trigger !== undefined) parts.push(`m.source_kind = 'trigger'`, `m.source = ${s.param(f.trigger)}`);
  const events = MESSAGE_EVENTS[kind];
  if (!events) {
    if (f.within) parts.push(`m.sent_at >= ${s.cutoff(f.within)}`);
    return `EXISTS (SELECT 1 FROM herald.messages m WHERE ${parts.join(' AND ')})`;
  }
  parts.push(`e.kind IN ${events}`, `e.class = 'human'`);
  if (f.within) parts.push(`e.at >= ${s.cutoff(f.within)}`);
  return `EXISTS (SELECT 1 FROM herald.messages m JOIN herald.message_events e ON e.message_id = m.id WHERE ${parts.join(' AND ')})`;
}
