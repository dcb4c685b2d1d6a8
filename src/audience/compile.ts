import { UserError } from '../errors.js';
import type { Condition, Segment } from '../workspace/model.js';
import { quoteIdent } from '../db/ident.js';
import * as predicate from './predicates.js';
import { sqlConditionKey, type SqlCondition } from './sql-sandbox.js';

/**
 * Compiles a segment condition into one parameterised SQL statement that
 * returns `customer_id`. Composition (all/any/not, segment:) compiles into the
 * same statement; nothing is evaluated separately and joined in Node. Values
 * always travel as `$n` parameters; only the validated schema name is spliced.
 *
 * What each condition means
 * -------------------------
 * Orders "count" unless their status is one of the cancelled statuses
 * (`source.cancelled_statuses`). Relative durations (`90d`, `2w`, `4h`) end at
 * `now`, the caller's parameter, never the database clock; a day is 24 hours.
 * Window bounds are inclusive at the far end: `within: 90d` includes something
 * exactly 90 days old, `before: 90d` does not.
 *
 * - site, locale: equal to the value, `in` the list or `not_in` it; exact.
 * - country, city: the same, ignoring case (`berlin` matches `Berlin`). An
 *   unknown (NULL) value equals nothing and is in no list, so it matches only
 *   `not_in` (and `not`).
 * - registered: `within`/`before` relative to now; `since`/`until` take a date
 *   (read in the workspace's timezone, `until` including that whole day) or
 *   a time with an offset.
 * - birthday (month and day; the year is ignored; no birthday matches nothing):
 *   `within: 7d` is today and the 6 days after it, today being the date at
 *   `now` in the workspace's timezone (hours round up to whole days, so a
 *   daily campaign with `within: 1d` reaches each birthday once). `since`/
 *   `until` are a range of days in the year, wrapping over New Year when
 *   `since` is later (`since: 2026-12-20, until: 2027-01-05`). Feb 29
 *   birthdays fall on Feb 28 in other years for `within`. `before` has no
 *   meaning for a birthday and is refused.
 * - order_count, total_spent, avg_order_value, max_order_value: compare an
 *   aggregate over the counted orders (in the `within` window, if given).
 * - last_order: `within: d` means an order in the last d; `before: d` means
 *   the customer has ordered, but not in the last d; `exists: true|false`.
 * - purchased: a counted order (in the window) with an item whose SKU is in
 *   `skus` or whose product's category is in `categories`; without either
 *   list, any counted order in the window.
 * - open_order: the same over orders whose status is an open status
 *   (`source.open_statuses`), whether or not it is also counted.
 * - in_cart: a cart (updated in the window) holding such an item; an empty
 *   cart holds nothing.
 * - received: herald sent the customer a message of the campaign or trigger
 *   (of any, naming neither); `within` bounds when it was sent. Only sent
 *   messages count: not those queued, suppressed, failed or bounced.
 * - opened: such a message that the customer opened or clicked in (a click
 *   is an open whose images were off); clicked: one they clicked a link in.
 *   Only a person's opens and clicks count (message_events.class 'human'),
 *   never those of Apple Mail Privacy Protection or a link scanner; `within`
 *   bounds when they opened or clicked, not when it was sent.
 * - segment: the referenced segment's condition, inlined.
 * - sql: `c.id IN` the customers the user's SELECT returns (`customer_id`),
 *   evaluated beforehand in confinement (sql-sandbox.ts); the statement
 *   lists such conditions in `sqlConditions`, and whoever runs it evaluates
 *   them first.
 * - list: the list's members who are shop customers (matched by email at
 *   import); members who are only contacts are not customers and never match.
 *
 * Customers who never ordered (or whose every order was cancelled) have
 * `order_count` 0 and `total_spent` 0, so `order_count: {eq: 0}` and
 * `total_spent: {lt: 100}` match them. They have no `avg_order_value`, no
 * `max_order_value` and no `last_order`, so no comparison on those matches
 * them: `avg_order_value: {lt: 1000}` and `last_order: {before: 90d}` leave
 * them out; `last_order: {exists: false}` and `not: {avg_order_value: …}`
 * take them in. The same holds inside a `within` window: no orders in it
 * means count 0, sum 0, no average, no maximum.
 *
 * `not` is "everyone the condition does not match": a condition that is
 * unknown for a customer (NULL city) counts as not matching, so
 * `any: [X, {not: X}]` is everyone and `all: [X, {not: X}]` is no one.
 */
export interface CompileContext {
  /** The shop data contract's schema. */
  schema: string;
  /** Every segment, for `segment:` references. */
  segments: ReadonlyMap<string, Segment>;
  /** Order statuses that do not count as orders (`source.cancelled_statuses`). */
  cancelled: readonly string[];
  /** Order statuses of orders still in progress, for `open_order` (`source.open_statuses`). */
  open: readonly string[];
  /** IANA time zone of dates and of "today" for birthdays (`defaults.timezone`); UTC when absent. */
  timezone?: string;
  /**
   * A SELECT of the only customer ids the caller will keep (a trigger sweep's
   * customers with an occurrence): the order summary reads their orders
   * alone instead of grouping every order of the shop (predicates.ts
   * Scope.summaryJoin).
   */
  candidates?: string;
}

export interface CompiledSql {
  text: string;
  values: unknown[];
  /**
   * The statement's parts over `customers c`, for a caller that selects from
   * customers itself: putting them on its own `c` saves PostgreSQL a second
   * pass over customers and a self-join that `c.id IN (text)` would cost.
   */
  parts?: { joins: string; where: string };
  /** The `sql:` conditions the statement reads the results of: evaluateSqlConditions before running it. */
  sqlConditions?: SqlCondition[];
}

/**
 * `SELECT c.id AS customer_id FROM <schema>.customers c [LEFT JOIN <order
 * summary> oa …] WHERE …`, one row per customer. Relative
 * durations resolve against `now`, a parameter the caller chooses. Pass
 * `values` to continue numbering after parameters of an enclosing query.
 */
export function compileSegment(where: Condition, ctx: CompileContext, now: Date, values: unknown[] = []): CompiledSql {
  const q = quoteIdent(ctx.schema);
  const scope = new predicate.Scope(values, q, now, ctx.cancelled, ctx.open, ctx.timezone ?? 'UTC', ctx.candidates);
  const compiler = new Compiler(ctx.segments, scope);
  const cond = compiler.condition(where, []);
  // Aggregate predicates read the per-customer order summary, joined once (predicates.ts says why).
  const summary = scope.summaryJoin();
  const joins = summary ? `\n${summary}` : '';
  return {
    text: `SELECT c.id AS customer_id FROM ${q}.customers c${joins}\nWHERE ${cond}`,
    values,
    parts: { joins, where: cond },
    ...(compiler.sqlConditions.length ? { sqlConditions: compiler.sqlConditions } : {}),
  };
}

class Compiler {
  readonly sqlConditions: SqlCondition[] = [];

  constructor(
    private segments: ReadonlyMap<string, Segment>,
    private s: predicate.Scope,
  ) {}

  /** `path` is the chain of segments being inlined, to report a cycle instead of recursing forever. */
  condition(c: Condition, path: readonly string[]): string {
    const key = Object.keys(c)[0] as keyof Condition | undefined;
    const s = this.s;
    switch (key) {
      case 'all':
        return `(${c.all!.map((x) => this.condition(x, path)).join(' AND ')})`;
      case 'any':
        return `(${c.any!.map((x) => this.condition(x, path)).join(' OR ')})`;
      case 'not': {
        // An existence test over the ledger is never NULL: a plain NOT EXISTS
        // lets PostgreSQL plan an anti-join, where NOT coalesce(EXISTS …) ran
        // a subplan per customer (2.5× slower for "received and not opened").
        const inner = Object.keys(c.not!)[0];
        if (inner === 'received' || inner === 'opened' || inner === 'clicked') return `NOT ${this.condition(c.not!, path)}`;
        // A condition on a NULL attribute is unknown, and NOT unknown is unknown too;
        // "not X" must mean "everyone X does not match", so NULL counts as false.
        return `NOT coalesce(${this.condition(c.not!, path)}, false)`;
      }
      case 'site':
      case 'locale':
        return predicate.text(`c.${key}`, c[key]!, s, false);
      case 'country':
      case 'city':
        return predicate.text(`c.${key}`, c[key]!, s, true);
      case 'registered':
        return predicate.registered(c.registered!, s);
      case 'birthday':
        return predicate.birthday(c.birthday!, s);
      case 'order_count':
      case 'total_spent':
      case 'avg_order_value':
      case 'max_order_value':
        return predicate.aggregate(key, c[key]!, s);
      case 'last_order':
        return predicate.lastOrder(c.last_order!, s);
      case 'purchased':
        return predicate.purchased(c.purchased!, s);
      case 'open_order':
        return predicate.openOrder(c.open_order!, s);
      case 'in_cart':
        return predicate.inCart(c.in_cart!, s);
      case 'received':
      case 'opened':
      case 'clicked':
        return predicate.messages(key, c[key]!, s);
      case 'segment':
        return this.segment(c.segment!, path);
      case 'sql': {
        const key = sqlConditionKey(c.sql!);
        const origin = path.at(-1);
        if (!this.sqlConditions.some((x) => x.key === key)) this.sqlConditions.push({ key, text: c.sql!, ...(origin ? { origin: `segment/${origin}` } : {}) });
        return predicate.sql(key);
      }
      case 'list':
        return predicate.listMember(c.list!, s);
      default:
        throw new Error(`unsupported condition ${String(key)}`);
    }
  }

  private segment(name: string, path: readonly string[]): string {
    if (path.includes(name)) throw new UserError(`segment ${[...path, name].join(' → ')} refers to itself`);
    const seg = this.segments.get(name);
    if (!seg) throw new UserError(`unknown segment "${name}"`);
    return this.condition(seg.where, [...path, name]);
  }
}
