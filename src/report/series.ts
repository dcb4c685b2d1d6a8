import type { Queryable } from '../db/db.js';
import { quoteIdent } from '../db/ident.js';
import type { SourceRef } from '../ledger/source.js';
import type { ActivityBucket, OrdersSeries } from './charts.js';
import { LIFT_MEMBERS, liftParams, type LiftInput } from './outcomes.js';
import type { Step } from './svg.js';

/**
 * The charts' queries (charts.ts draws them): each series of a source in one
 * set-based pass, bucketed in UTC by the database (date_trunc with the zone
 * named, to_char of the UTC time), so neither the server's nor the session's
 * time zone moves a message into another day. Buckets come back as text,
 * never as timestamps the driver would read in the machine's zone.
 */

/**
 * activity: per bucket, the source's messages sent in it, and those first
 * opened and first clicked by a person in it (messages, not events, as in
 * engagement: the sums are the report's sent, opened and clicked). The
 * bucket is an hour when the first send and the last of these moments are
 * less than three days apart, else a day. None before anything was sent.
 */
export async function activitySeries(db: Queryable, source: SourceRef): Promise<{ step: Step; buckets: ActivityBucket[] }> {
  const rows = await db.query<ActivityBucket & { step: Step }>(ACTIVITY, [source.kind, source.name]);
  return { step: rows[0]?.step ?? 'day', buckets: rows.map(({ step: _, ...b }) => b) };
}

const ACTIVITY = `
  WITH firsts AS (
    SELECT m.sent_at,
           min(e.at) FILTER (WHERE e.kind = 'open') AS opened_at,
           min(e.at) FILTER (WHERE e.kind = 'click') AS clicked_at
      FROM herald.messages m
      LEFT JOIN herald.message_events e ON e.message_id = m.id AND e.kind IN ('open', 'click') AND e.class = 'human'
     WHERE m.source_kind = $1 AND m.source = $2 AND m.sent_at IS NOT NULL
     GROUP BY m.id
  ), unit AS (
    SELECT CASE WHEN max(greatest(sent_at, opened_at, clicked_at)) - min(sent_at) < interval '3 days' THEN 'hour' ELSE 'day' END AS step
      FROM firsts
  ), moments AS (
    SELECT sent_at AS at, 1 AS sent, 0 AS opened, 0 AS clicked FROM firsts
    UNION ALL SELECT opened_at, 0, 1, 0 FROM firsts WHERE opened_at IS NOT NULL
    UNION ALL SELECT clicked_at, 0, 0, 1 FROM firsts WHERE clicked_at IS NOT NULL
  )
  SELECT u.step,
         to_char(date_trunc(u.step, x.at, 'UTC') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24":00:00Z"') AS at,
         sum(x.sent)::int AS sent, sum(x.opened)::int AS opened, sum(x.clicked)::int AS clicked
    FROM moments x CROSS JOIN unit u
   GROUP BY 1, 2 ORDER BY 2`;

/** attributedOrders: the orders attributed to the source's messages (src/events/attribution.ts), per day they were placed. */
export async function attributedOrders(db: Queryable, source: SourceRef): Promise<OrdersSeries> {
  const days = await db.query<{ day: string; orders: number }>(
    `SELECT to_char(date_trunc('day', e.at, 'UTC') AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, count(*)::int AS orders
       FROM herald.message_events e
       JOIN herald.messages m ON m.id = e.message_id
      WHERE m.source_kind = $1 AND m.source = $2 AND e.kind = 'order'
      GROUP BY 1 ORDER BY 1`,
    [source.kind, source.name],
  );
  return { by: 'attributed', days };
}

/**
 * groupOrders: per day, the shop's orders from each group's customers
 * within their members' windows: the orders lift counts (LIFT_MEMBERS),
 * each once per group even when it falls in two members' windows (a trigger
 * may write to a customer twice). `sizes` are the groups' n from liftCounts.
 */
export async function groupOrders(db: Queryable, source: SourceRef, i: LiftInput, sizes: { recipients: number; control: number }): Promise<OrdersSeries> {
  const days = await db.query<{ day: string; recipients: number; control: number }>(
    `WITH ${LIFT_MEMBERS}
     SELECT to_char(date_trunc('day', o.created_at, 'UTC') AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day,
            count(DISTINCT o.id) FILTER (WHERE p.grp = 'recipients')::int AS recipients,
            count(DISTINCT o.id) FILTER (WHERE p.grp = 'control')::int AS control
       FROM members p
       JOIN ${quoteIdent(i.schema)}.orders o ON o.customer_id = p.customer_id AND o.created_at > p.anchor AND o.created_at <= p.anchor + p.reach
                                          AND o.status <> ALL($6::text[])
      GROUP BY 1 ORDER BY 1`,
    liftParams(source, i),
  );
  return { by: 'group', ...sizes, days };
}
