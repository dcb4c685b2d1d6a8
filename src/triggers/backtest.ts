import { durationMs } from '../audience/duration.js';
import { evaluateSqlConditions, readOnly, sqlSandbox, withSqlSession } from '../audience/sql-sandbox.js';
import type { Db } from '../db/db.js';
import { UserError } from '../errors.js';
import { contactPolicy, type ContactPolicy } from '../ledger/source.js';
import { requireShop } from '../shop/check.js';
import type { Trigger } from '../workspace/model.js';
import { backtestSql, type ReplayRow } from './backtest-sql.js';
import { audienceSqlConditions, LOOKBACK, type SweepSubject } from './sweep-sql.js';

/**
 * A backtest: what a trigger would have done over a stretch of history,
 * replayed tick by tick, writing nothing.
 *
 * The trigger is taken as enabled at `from`, as if its first sweep ran
 * then: what became due before its back-fill horizon (`from` less its
 * `backfill`) is skipped, the rest is swept at the first tick at or after
 * its due time. Three steps:
 *
 * 1. backtestPlan (pure): the horizon, the window the occurrences are read
 *    from, and the last tick.
 * 2. backtestSql (backtest-sql.ts): one read-only statement. It is the sweep's own (sweepSql,
 *    `count` mode) up to its classified occurrences, so the event, the
 *    per-customer dedupe and who can be written to are the sweep's, and
 *    then, set-based, each occurrence's tick (arithmetic on `every`, no row
 *    per tick), its quiet hours in its site's zone, and for the frequency
 *    cap the messages really sent to the customer in the window before it.
 * 3. replay (pure): walks each customer's occurrences in tick order, since
 *    `once` and the cap depend on what the backtest itself fired before.
 *
 * What cannot be rebuilt from today's data is said in `cannot_rebuild`, and
 * where the replay only approximates the claim in `approximations`.
 */

export interface BacktestInput extends SweepSubject {
  from: Date;
  to: Date;
  /** The tick's interval, in milliseconds. */
  everyMs: number;
}

/** One day (UTC) of a backtest: its ticks' decisions. */
export interface BacktestDay {
  /** YYYY-MM-DD */
  day: string;
  /** Occurrences swept at this day's ticks, whatever became of them. */
  occurrences: number;
  /** Queued, and sent then or later (deferred ones included). */
  fired: number;
  /** Over the frequency cap at their send time, skipped (when_capped: skip). */
  capped: number;
  /** Of those fired, put off by quiet hours or the frequency cap (when_capped: defer). */
  deferred: number;
  /** The customer cannot be written to (no address, no consent, suppressed), as they are now. */
  left_out: number;
  /** Due before the back-fill horizon. */
  skipped_by_horizon: number;
  /** Held back by `once`: the customer had this notification, or has it pending. */
  skipped_by_once: number;
}

export type BacktestTotals = Omit<BacktestDay, 'day'>;

export interface Backtest {
  trigger: string;
  from: string;
  to: string;
  /** The tick's interval, as given (1h). */
  every: string;
  /** The back-fill horizon: `from` less the trigger's backfill. */
  horizon: string;
  days: BacktestDay[];
  totals: BacktestTotals;
  /** The parts of the past the backtest cannot rebuild from today's data, for this trigger. */
  cannot_rebuild: string[];
  /** Where the replay only approximates what the sweep and the claim would have done. */
  approximations: string[];
}

export interface BacktestPlan {
  horizon: Date;
  /** Occurrences due from here are read: the horizon less LOOKBACK, as a first sweep reads. */
  readFrom: Date;
  /** The first tick is `from`; the last the latest `from + k·every` not after `to`. */
  lastTick: Date;
  everyMs: number;
}

/** How long the backtest's statement may run. */
const TIMEOUT = '5min';

/** backtestPlan: the backtest's window, from the trigger's backfill. */
export function backtestPlan(spec: Trigger, from: Date, to: Date, everyMs: number): BacktestPlan {
  const horizon = new Date(from.getTime() - (spec.backfill ? durationMs(spec.backfill) : 0));
  const lastTick = new Date(from.getTime() + Math.floor((to.getTime() - from.getTime()) / everyMs) * everyMs);
  return { horizon, readFrom: new Date(horizon.getTime() - durationMs(LOOKBACK)), lastTick, everyMs };
}

/**
 * replay: the backtest's decisions, one customer at a time in tick order,
 * as the sweep and the claim would take them:
 *
 * - due before the horizon: skipped (the sweep counts it, inserts nothing);
 * - a customer who cannot be written to: left out (the sweep records it
 *   suppressed);
 * - `once` (other than per_event): held back while the customer has had
 *   this notification within its period (per_customer: ever), or has one
 *   pending (fired, not yet sent): the backtest's own, and this trigger's
 *   real sends before `from`;
 * - quiet hours: put off to their end;
 * - the frequency cap at the send time, over the messages really sent plus
 *   the backtest's own: skipped (capped), or put off until the oldest in
 *   the window leaves it.
 *
 * Each decision counts on the day (UTC) of its tick, over every day from
 * `from` to `to`.
 */
export function replay(rows: Iterable<ReplayRow>, spec: Trigger, policy: ContactPolicy, from: Date, to: Date): { days: BacktestDay[]; totals: BacktestTotals } {
  const days = new Map(utcDays(from, to).map((day) => [day, { day, ...zero() }]));
  const once = spec.once ?? 'per_event';
  const onceMs = once === 'per_event' ? 0 : once === 'per_customer' ? Infinity : once === 'per_year' ? 365 * 86_400_000 : durationMs(once);
  const cap = policy.cap;
  const capMs = cap ? cap.perSeconds * 1000 : 0;
  let customer: string | undefined;
  /** The send times of what the backtest fired for the current customer. */
  let sent: number[] = [];
  for (const r of rows) {
    if (r.customer !== customer) [customer, sent] = [r.customer, []];
    const tick = r.tick.getTime();
    const d = days.get(utcDay(r.tick));
    if (!d) throw new Error(`backtest: a tick (${r.tick.toISOString()}) outside the backtest's days`);
    d.occurrences++;
    if (r.before_horizon) {
      d.skipped_by_horizon++;
      continue;
    }
    if (!r.recipient) {
      d.left_out++;
      continue;
    }
    if (onceMs > 0 && (r.sent_before || sent.some((s) => s > tick - onceMs))) {
      d.skipped_by_once++;
      continue;
    }
    let at = r.quiet_until ? r.quiet_until.getTime() : tick;
    let deferred = r.quiet_until !== null;
    if (cap) {
      const own = sent.filter((s) => s > at - capMs && s <= at);
      if ((r.sent_in_window ?? 0) + own.length >= cap.max) {
        if (cap.whenCapped === 'skip') {
          d.capped++;
          continue;
        }
        const oldest = Math.min(...own, r.oldest_in_window?.getTime() ?? Infinity);
        at = Math.max(oldest + capMs, at + 60_000);
        deferred = true;
      }
    }
    d.fired++;
    if (deferred) d.deferred++;
    sent.push(at);
  }
  const list = [...days.values()];
  const totals = zero();
  for (const d of list) for (const k of Object.keys(totals) as (keyof BacktestTotals)[]) totals[k] += d[k];
  return { days: list, totals };
}

/** 604800 → 7d, 7200 → 2h, 90 → 90s. */
function spanText(seconds: number): string {
  for (const [unit, n] of [['d', 86_400], ['h', 3_600], ['m', 60]] as const) if (seconds % n === 0) return `${seconds / n}${unit}`;
  return `${seconds}s`;
}

function zero(): BacktestTotals {
  return { occurrences: 0, fired: 0, capped: 0, deferred: 0, left_out: 0, skipped_by_horizon: 0, skipped_by_once: 0 };
}

const utcDay = (d: Date) => d.toISOString().slice(0, 10);

/** Every UTC day from `from`'s to `to`'s, both included. */
function utcDays(from: Date, to: Date): string[] {
  const out: string[] = [];
  for (let t = Date.parse(`${utcDay(from)}T00:00:00Z`); t <= to.getTime(); t += 86_400_000) out.push(utcDay(new Date(t)));
  return out;
}

/**
 * cannotRebuild: what of the past today's data does not hold, for this
 * trigger: said with every backtest, so its figures are read for what they are.
 */
export function cannotRebuild(spec: Trigger): string[] {
  const out = [
    "the shop's data as it was: occurrences are read from the shop as it is now, so rows deleted since are missing and rows changed since count with their latest values",
    "customers' past addresses, consent and suppressions: who can be written to is decided by today's customers and suppression list",
    "exits: whether an occurrence's event went away before its message went out (the cart ordered, the product sold out again) is only known from the shop as it is now, whose own tests already leave out what went away, so no exits are counted",
  ];
  if (spec.audience) out.push("the trigger's audience: evaluated once, at --to, on today's data, not as it was at each tick");
  switch (spec.event) {
    case 'cart_abandoned':
      out.push(
        'past cart contents and which carts existed then: a cart keeps only its latest updated_at, so each cart counts once, at its latest change, and only if it still has lines; carts deleted since are missing',
        "orders placed after a cart's last change hide that cart, even where the reminder would have gone out before the order (the event's test reads today's orders)",
      );
      break;
    case 'no_order_after_signup':
      out.push("customers who ordered after signing up are left out, even where the welcome would have gone out before their first order (the event's test reads today's orders)");
      break;
    case 'back_in_stock':
      out.push(
        "past stock: products.in_stock is only the present, so only herald.stock_seen's episodes are replayed: the latest one of each product as the sweeps saw it, and only for products in stock now; earlier episodes, and stock changes no sweep saw, are not known",
        'preorders withdrawn since are missing',
      );
      break;
    case 'order_total_over':
    case 'cross_sell_after_purchase':
      out.push('orders cancelled since count as never placed');
      if (spec.event === 'cross_sell_after_purchase' && spec.recommend) {
        out.push("the recommended products' stock and the customer's purchases: today's (a product in stock now, or bought since, decides whether there was something to recommend)");
      }
      break;
    case 'birthday':
    case 'sql':
      break;
  }
  return out;
}

/** approximations: where the replay is not the claim itself, under this trigger's contact policy. */
export function approximations(spec: Trigger, policy: ContactPolicy): string[] {
  const out = ['every tick sees the shop whole: events that reached the shop late (an import, a lagging view) count as on time'];
  if (spec.once && spec.once !== 'per_event') {
    out.push(`an occurrence \`once\` holds back at its tick counts as skipped; the sweep looks at it again for ${LOOKBACK}, which matters only for a \`once\` shorter than that`);
  }
  if (policy.quiet) out.push(`quiet hours (${policy.quiet.start}–${policy.quiet.end}, the site's time zone) put a message off to their end; it counts as fired on the day of its tick`);
  if (policy.cap) {
    out.push(
      `the frequency cap (${policy.cap.max} per ${spanText(policy.cap.perSeconds)}) counts the messages actually sent (herald.messages) plus the backtest's own; other triggers' and campaigns' would-be sends are not simulated, and this trigger's real sends from --from on are left out (the backtest stands in for them)`,
    );
    if (policy.cap.whenCapped === 'defer') out.push('a message the cap puts off counts as sent once the oldest message leaves the window, without the cap or quiet hours checked again');
  }
  return out;
}

/**
 * backtestTrigger: the backtest of one trigger, read-only: the shop checked
 * first, then the trigger's `sql:` audience conditions evaluated and the
 * statement run in one READ ONLY transaction, rolled back (as the sweep's
 * preview does), then the replay. Nothing is written: not the ledger, not
 * the run, not the stock seen.
 */
export async function backtestTrigger(db: Db, i: BacktestInput, every: string): Promise<Backtest> {
  if (i.spec.event === 'sql') {
    throw new UserError(
      `trigger "${i.name}" has event: sql, whose query reads the shop as it is now, so herald cannot replay it over history`,
      "run its query by hand with a past date in place of now(); the other events' triggers can be backtested",
    );
  }
  const plan = backtestPlan(i.spec, i.from, i.to, i.everyMs);
  const policy = contactPolicy('trigger', i.spec, i.project);
  const sandbox = sqlSandbox(i.project);
  const conditions = audienceSqlConditions(i, plan.lastTick);
  await requireShop(db, sandbox);
  const sql = backtestSql(i, plan, i.from, policy);
  const rows = await withSqlSession(db, sandbox, conditions.length > 0, (s) =>
    readOnly(s, TIMEOUT, async (tx) => {
      await evaluateSqlConditions(tx, conditions, sandbox);
      return tx.query<ReplayRow>(sql.text, sql.values);
    }),
  );
  return {
    trigger: i.name,
    from: i.from.toISOString(),
    to: i.to.toISOString(),
    every,
    horizon: plan.horizon.toISOString(),
    ...replay(rows, i.spec, policy, i.from, i.to),
    cannot_rebuild: cannotRebuild(i.spec),
    approximations: approximations(i.spec, policy),
  };
}
