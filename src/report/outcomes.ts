import type { Queryable } from '../db/db.js';
import { quoteIdent } from '../db/ident.js';
import type { SourceRef } from '../ledger/source.js';
import type { GroupCounts } from './lift.js';

/**
 * The reports' queries on what happened after sending: the events on a
 * source's messages (engagement), and the orders each group placed for
 * lift. Campaigns and triggers alike.
 */

export interface Engagement {
  /** Accepted by the receiving server (the ledger's sent_at), whatever came back later. */
  sent: number;
  /** Sent, and no bounce reported since (a DSN, an ESP's webhook). */
  delivered: number;
  /** Sent, then reported bounced (hard) after the SMTP conversation. */
  bounced_after_send: number;
  /** Messages opened: by a person, and at all (Apple Mail Privacy Protection and scanners fetch the pixel of every message). */
  opened: { human: number; total: number };
  /** Messages with a click: by a person, and at all (security scanners follow every link). */
  clicked: { human: number; total: number };
  unsubscribed: number;
  complained: number;
  /** Orders attributed to these messages (src/events/attribution.ts), and their value by currency (ISO 4217): a campaign over sites in EUR and RUB has two sums, never one. */
  orders: number;
  order_value: Record<string, number>;
}

/**
 * engagement: one pass over the source's events, grouped per message, so
 * every figure counts messages (for a campaign, recipients), never events:
 * five opens by one person are one open.
 */
export async function engagement(db: Queryable, source: SourceRef): Promise<Engagement> {
  const [row] = await db.query<Omit<Engagement, 'opened' | 'clicked'> & { opened_human: number; opened: number; clicked_human: number; clicked: number }>(
    `WITH per_message AS (
       SELECT e.message_id,
              bool_or(e.kind = 'bounce') AS bounced,
              bool_or(e.kind = 'open' AND e.class = 'human') AS opened_human,
              bool_or(e.kind = 'open') AS opened,
              bool_or(e.kind = 'click' AND e.class = 'human') AS clicked_human,
              bool_or(e.kind = 'click') AS clicked,
              bool_or(e.kind = 'unsubscribe') AS unsubscribed,
              bool_or(e.kind = 'complaint') AS complained,
              count(*) FILTER (WHERE e.kind = 'order') AS orders
         FROM herald.message_events e
         JOIN herald.messages m ON m.id = e.message_id
        WHERE m.source_kind = $1 AND m.source = $2
        GROUP BY e.message_id
     )
     SELECT count(*) FILTER (WHERE m.sent_at IS NOT NULL)::int AS sent,
            count(*) FILTER (WHERE m.sent_at IS NOT NULL AND p.bounced IS NOT TRUE)::int AS delivered,
            count(*) FILTER (WHERE m.sent_at IS NOT NULL AND p.bounced)::int AS bounced_after_send,
            count(*) FILTER (WHERE p.opened_human)::int AS opened_human,
            count(*) FILTER (WHERE p.opened)::int AS opened,
            count(*) FILTER (WHERE p.clicked_human)::int AS clicked_human,
            count(*) FILTER (WHERE p.clicked)::int AS clicked,
            count(*) FILTER (WHERE p.unsubscribed)::int AS unsubscribed,
            count(*) FILTER (WHERE p.complained)::int AS complained,
            coalesce(sum(p.orders), 0)::int AS orders
       FROM herald.messages m
       LEFT JOIN per_message p ON p.message_id = m.id
      WHERE m.source_kind = $1 AND m.source = $2`,
    [source.kind, source.name],
  );
  const r = row!;
  const values = await db.query<{ currency: string; value: number }>(ORDER_VALUE, [source.kind, source.name]);
  return {
    sent: r.sent,
    delivered: r.delivered,
    bounced_after_send: r.bounced_after_send,
    opened: { human: r.opened_human, total: r.opened },
    clicked: { human: r.clicked_human, total: r.clicked },
    unsubscribed: r.unsubscribed,
    complained: r.complained,
    orders: r.orders,
    order_value: Object.fromEntries(values.map((v) => [v.currency, v.value])),
  };
}

/** order_value: the attributed orders' value per currency (an event without one, from before currencies were kept, under "?"). */
const ORDER_VALUE = `
  SELECT coalesce(e.detail->>'currency', '?') AS currency, sum(e.value)::float8 AS value
    FROM herald.message_events e
    JOIN herald.messages m ON m.id = e.message_id
   WHERE m.source_kind = $1 AND m.source = $2 AND e.kind = 'order'
   GROUP BY 1 ORDER BY 1`;

export interface LiftInput {
  schema: string;
  cancelled: readonly string[];
  /** The click window per site (seconds), and for a site not listed. */
  windows: { site: string; seconds: number }[];
  defaultSeconds: number;
}

export interface LiftCounts {
  recipients: GroupCounts;
  control: GroupCounts;
  /** When the last member's window closes: before then the figures can still grow. Null without members. */
  windowClosesAt: Date | null;
  /** The currencies of the orders counted: revenue is compared only when there is one. */
  currencies: string[];
}

/**
 * liftCounts: per group, the customers, those with an order within the
 * attribution (click) window, and their revenue, from the shop's orders
 * themselves: the control group gets no message to click, so attributed
 * events cannot measure it. A recipient's window starts when the message was
 * sent; a control member's when it would have been sent: the launch (the
 * row's created_at, when the audience was materialised), or a trigger
 * row's due time. Cancelled orders do not count. Contacts who are not
 * customers have no orders and are left out of both groups.
 */
export async function liftCounts(db: Queryable, source: SourceRef, i: LiftInput): Promise<LiftCounts> {
  const orders = `${quoteIdent(i.schema)}.orders`;
  const rows = await db.query<{ grp: 'recipients' | 'control'; n: number; converted: number; sum: number; sq: number; closes: Date | null; currencies: string[] | null }>(
    `WITH ${LIFT_MEMBERS}, per_member AS (
       SELECT p.grp, p.id, max(p.anchor + p.reach) AS closes,
              coalesce(sum(o.total), 0) AS revenue, count(o.id) > 0 AS converted, array_agg(DISTINCT o.currency) FILTER (WHERE o.id IS NOT NULL) AS currencies
         FROM members p
         LEFT JOIN ${orders} o ON o.customer_id = p.customer_id AND o.created_at > p.anchor AND o.created_at <= p.anchor + p.reach
                               AND o.status <> ALL($6::text[])
        GROUP BY p.grp, p.id
     )
     SELECT grp, count(*)::int AS n, count(*) FILTER (WHERE converted)::int AS converted,
            sum(revenue)::float8 AS sum, sum(revenue * revenue)::float8 AS sq, max(closes) AS closes,
            (SELECT array_agg(DISTINCT c) FROM per_member q, unnest(q.currencies) c WHERE q.grp = per_member.grp) AS currencies
       FROM per_member GROUP BY grp`,
    liftParams(source, i),
  );
  const of = (g: 'recipients' | 'control'): GroupCounts => {
    const r = rows.find((x) => x.grp === g);
    return { n: r?.n ?? 0, converted: r?.converted ?? 0, revenue: { sum: r?.sum ?? 0, sumSquares: r?.sq ?? 0 } };
  };
  const closes = rows.map((r) => r.closes).filter((c): c is Date => c !== null).map((c) => new Date(c).getTime());
  const currencies = [...new Set(rows.flatMap((r) => r.currencies ?? []))].sort();
  return { recipients: of('recipients'), control: of('control'), windowClosesAt: closes.length ? new Date(Math.max(...closes)) : null, currencies };
}

/**
 * lift_members: the two groups lift compares, as CTEs `w` and `members`
 * (liftParams gives $1 to $6): each member's customer, group, the moment
 * its window opens (anchor: sent, or for the control group when it would
 * have been sent) and how long the window is (reach). Shared by liftCounts
 * and the orders chart (series.ts), so both count the same orders.
 */
export const LIFT_MEMBERS = `w AS (
       SELECT * FROM unnest($3::text[], $4::float8[]) AS w(site, s)
     ), members AS (
       SELECT m.id, m.customer_id,
              CASE WHEN m.status = 'control' THEN 'control' ELSE 'recipients' END AS grp,
              CASE WHEN m.status = 'control' THEN coalesce(m.due_at, m.created_at) ELSE m.sent_at END AS anchor,
              coalesce(w.s, $5) * interval '1 second' AS reach
         FROM herald.messages m
         LEFT JOIN w ON w.site = m.site
        WHERE m.source_kind = $1 AND m.source = $2 AND m.customer_id IS NOT NULL
          AND (m.status = 'control' OR m.sent_at IS NOT NULL)
     )`;

/** The parameters of LIFT_MEMBERS, and $6 the order statuses that do not count (cancelled). */
export function liftParams(source: SourceRef, i: LiftInput): unknown[] {
  return [source.kind, source.name, i.windows.map((w) => w.site), i.windows.map((w) => w.seconds), i.defaultSeconds, i.cancelled];
}

/** What one channel of a source did. */
export interface ChannelFigures {
  channel: string;
  recipients: number;
  sent: number;
  /** Sent and not bounced since. */
  delivered: number;
  failed: number;
  bounced: number;
  opened: number;
  clicked: number;
  orders: number;
}

/**
 * channelFigures: a source's messages per channel, for a campaign or
 * trigger that sends on several (or on one other than email): recipients
 * (the control group and those left out aside), sent, delivered, failed,
 * bounced, and the people who opened, clicked (a push's tap is both) and the
 * orders attributed, each message counted once. One statement, grouped by
 * channel.
 */
export async function channelFigures(db: Queryable, source: SourceRef): Promise<ChannelFigures[]> {
  return db.query<ChannelFigures>(
    `WITH per_message AS (
       SELECT e.message_id,
              bool_or(e.kind = 'bounce') AS bounced,
              bool_or(e.kind = 'open' AND e.class = 'human') AS opened,
              bool_or(e.kind = 'click' AND e.class = 'human') AS clicked,
              count(*) FILTER (WHERE e.kind = 'order') AS orders
         FROM herald.message_events e
         JOIN herald.messages m ON m.id = e.message_id
        WHERE m.source_kind = $1 AND m.source = $2
        GROUP BY e.message_id)
     SELECT m.channel,
            count(*) FILTER (WHERE m.status <> 'control' AND NOT (m.status = 'suppressed' AND m.worker IS NULL))::int AS recipients,
            count(*) FILTER (WHERE m.sent_at IS NOT NULL)::int AS sent,
            count(*) FILTER (WHERE m.sent_at IS NOT NULL AND p.bounced IS NOT TRUE)::int AS delivered,
            count(*) FILTER (WHERE m.status = 'failed')::int AS failed,
            count(*) FILTER (WHERE m.status = 'bounced' OR p.bounced)::int AS bounced,
            count(*) FILTER (WHERE p.opened)::int AS opened,
            count(*) FILTER (WHERE p.clicked)::int AS clicked,
            coalesce(sum(p.orders), 0)::int AS orders
       FROM herald.messages m
       LEFT JOIN per_message p ON p.message_id = m.id
      WHERE m.source_kind = $1 AND m.source = $2
      GROUP BY m.channel
      ORDER BY m.channel`,
    [source.kind, source.name],
  );
}
