import { durationMs } from '../audience/duration.js';
import type { CompiledSql } from '../audience/compile.js';
import type { ContactPolicy } from '../ledger/source.js';
import type { BacktestPlan } from './backtest.js';
import { sweepSql, type SweepSubject } from './sweep-sql.js';

/**
 * The backtest's one statement (backtest.ts says what a backtest is): the
 * sweep's own statement up to its classified occurrences, then, set-based,
 * each occurrence's tick, quiet hours and frequency-cap figures.
 */

/** One occurrence as backtestSql returns it, in customer and tick order. */
export interface ReplayRow {
  customer: string;
  occurrence: string;
  due_at: Date;
  /** The first tick at or after due_at (`from` for what was due before). */
  tick: Date;
  recipient: boolean;
  before_horizon: boolean;
  /** The end of the quiet hours the tick falls in, in the customer's site's zone; null outside them. */
  quiet_until: Date | null;
  /** Messages really sent to the customer in the cap's window before the send time (null without a cap). */
  sent_in_window: number | null;
  oldest_in_window: Date | null;
  /** This trigger really sent the customer a message before `from` that `once` counts at this tick. */
  sent_before: boolean;
}

/**
 * backtestSql: the sweep's statement (count mode) up to its `due` CTE (the
 * trigger's occurrences in the window, classified), then each occurrence's
 * tick, quiet hours and cap figures. The sweep's later CTEs (fresh, picked:
 * the ledger's rows of this trigger) are left unread, and PostgreSQL does
 * not run a CTE nothing reads: the backtest replays `once` itself.
 */
export function backtestSql(t: SweepSubject, plan: BacktestPlan, from: Date, policy: ContactPolicy): CompiledSql {
  const sweep = sweepSql(t, { from: plan.readFrom, horizon: plan.horizon, now: plan.lastTick }, 'count');
  const cut = sweep.text.lastIndexOf(SWEEP_COUNTS);
  if (cut < 0) throw new Error("backtest: the sweep's count statement no longer ends as backtest.ts expects");
  const values = [...sweep.values];
  const param = (v: unknown, cast: string) => {
    values.push(v);
    return `$${values.length}${cast}`;
  };
  const start = param(from, '::timestamptz');
  const every = param(plan.everyMs / 1000, '::numeric');
  const horizon = param(plan.horizon, '::timestamptz');
  // Added when used: PostgreSQL cannot type a parameter the statement never mentions.
  let nameRef: string | undefined;
  const name = () => (nameRef ??= param(t.name, '::text'));
  // Only the latest episode herald saw of each product is known; stockNowSql
  // would also make one up for a product back in stock since the last sweep.
  const seenEpisode =
    t.spec.event === 'back_in_stock'
      ? `WHERE EXISTS (SELECT 1 FROM herald.stock_seen ss
                        WHERE ss.sku = d.payload->>'sku' AND date_trunc('milliseconds', ss.back_at) = (d.payload->>'back_at')::timestamptz)`
      : '';
  const quiet = policy.quiet ? quietUntilSql(param(policy.quiet.start, '::time'), param(policy.quiet.end, '::time')) : 'NULL::timestamptz';
  const cap = policy.cap
    ? `LEFT JOIN LATERAL (
         SELECT count(*)::int AS n, min(s.sent_at) AS oldest FROM herald.messages s
          WHERE s.customer_id = x.customer_id AND s.status = 'sent'
            AND s.sent_at > coalesce(x.quiet_until, x.tick) - ${param(`${policy.cap.perSeconds} seconds`, '::interval')}
            AND s.sent_at <= coalesce(x.quiet_until, x.tick)
            AND NOT (s.source_kind = 'trigger' AND s.source = ${name()} AND s.sent_at >= ${start})
            AND x.recipient AND NOT x.before_horizon) AS cap ON true`
    : '';
  const once = t.spec.once ?? 'per_event';
  const period = once === 'per_year' ? '365 days' : once === 'per_customer' || once === 'per_event' ? undefined : `${durationMs(once) / 1000} seconds`;
  const sentBefore =
    once === 'per_event'
      ? 'false'
      : `EXISTS (SELECT 1 FROM herald.messages m
                  WHERE m.source_kind = 'trigger' AND m.source = ${name()} AND m.channel = 'email' AND m.customer_id = x.customer_id
                    AND m.status = 'sent' AND m.sent_at < ${start} ${period ? `AND m.sent_at > x.tick - ${param(period, '::interval')}` : ''})`;
  return {
    text: `${sweep.text.slice(0, cut)},
     ticked AS (
       SELECT d.customer_id, d.occurrence, d.due_at, d.site, d.bucket = 'recipients' AS recipient, d.due_at < ${horizon} AS before_horizon,
              ${start} + make_interval(secs => (${every} * ceil(greatest(extract(epoch FROM d.due_at - ${start}), 0) / ${every}))::float8) AS tick
         FROM due d
        ${seenEpisode}),
     timed AS (
       SELECT k.*, ${quiet} AS quiet_until
         FROM ticked k
         CROSS JOIN LATERAL (SELECT k.tick AT TIME ZONE z.tz AS t, z.tz FROM (SELECT coalesce(${param(policy.timezones, '::jsonb')} ->> k.site, 'UTC') AS tz) z) l)
SELECT x.customer_id::text AS customer, x.occurrence, x.due_at, x.tick, x.recipient, x.before_horizon, x.quiet_until,
       ${policy.cap ? 'cap.n' : 'NULL::int'} AS sent_in_window, ${policy.cap ? 'cap.oldest' : 'NULL::timestamptz'} AS oldest_in_window,
       ${sentBefore} AS sent_before
  FROM timed x
  ${cap}
 ORDER BY x.customer_id, x.tick, x.due_at, x.occurrence`,
    values,
  };
}

/** Where sweepSql's count mode leaves its CTEs for its final SELECT. */
const SWEEP_COUNTS = '\nSELECT (SELECT count(*) FROM picked';

/**
 * The end of the quiet hours `l.t` (the tick's local time in zone `l.tz`)
 * falls in, as the claim computes it (claim.ts settleSql): the window
 * [start, end) may span midnight.
 */
function quietUntilSql(start: string, end: string): string {
  return `CASE WHEN ${start} < ${end} THEN
                 CASE WHEN l.t::time >= ${start} AND l.t::time < ${end} THEN (l.t::date + ${end}) AT TIME ZONE l.tz END
               WHEN l.t::time >= ${start} THEN (l.t::date + 1 + ${end}) AT TIME ZONE l.tz
               WHEN l.t::time < ${end} THEN (l.t::date + ${end}) AT TIME ZONE l.tz END`;
}
