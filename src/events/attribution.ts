import type { Db, Queryable } from '../db/db.js';
import { quoteIdent } from '../db/ident.js';
import { durationMs } from '../audience/duration.js';
import { loadDeployed } from '../state/queries.js';
import { cancelledStatuses, sourceSchema, type Campaign, type Project, type Trigger } from '../workspace/model.js';
import { windowTable, type WindowTable } from './windows.js';

/**
 * Attribution: the shop's orders, each given to the message that brought
 * it, as an `order` event on that message (origin 'attribution', the
 * order's id, its total in the site's currency, at the order's time).
 *
 * The rule: an order belongs to the message whose last human touch before
 * it is still within its window: a click by a person (class 'human'), or an
 * open by a person where the window's `opens` is on (src/events/windows.ts).
 * Machine opens and clicks (Apple Mail Privacy Protection, scanners) never
 * count. The last touch is across every campaign and trigger, so a later
 * click on another message takes the order. Cancelled orders
 * (source.cancelled_statuses) never count. An order is attributed once and
 * the first attribution stands (the unique index message_events_order).
 *
 * A pass is one INSERT … SELECT, driven from the touches (a few per cent of
 * messages) to the customer's orders through the contract's index
 * orders (customer_id, created_at), never from every order. It reads the
 * orders placed since the watermark less LOOKBACK, up to its own time.
 */

/** Orders can reach the shop's tables late (a replica, an import): each pass looks this far behind the last one, as trigger sweeps do. */
export const LOOKBACK = '2d';

export interface AttributionPass {
  /** Orders attributed by this pass. */
  attributed: number;
  /** The orders read were placed from here (null: since the beginning, the first pass) up to `to`. */
  from: Date | null;
  to: Date;
}

/**
 * attributeOrders: one pass at `now`, under the watermark row's lock so two
 * ticks never pass at once. Nothing to do without a deployed project (no shop
 * schema to read).
 */
export async function attributeOrders(db: Db, now: Date): Promise<AttributionPass | undefined> {
  const deployed = await loadDeployed(db);
  const project = deployed.find((d) => d.kind === 'project' && !d.archivedAt)?.spec as unknown as Project | undefined;
  if (!project) return undefined;
  const sources = deployed
    .filter((d) => d.kind === 'campaign' || d.kind === 'trigger')
    .map((d) => ({ kind: d.kind as 'campaign' | 'trigger', name: d.name, spec: d.spec as unknown as Campaign | Trigger }));
  const windows = windowTable(project, sources);
  return db.transaction(async (tx) => {
    const watermark = await lockWatermark(tx);
    const from = watermark ? new Date(watermark.getTime() - durationMs(LOOKBACK)) : null;
    // As sweeps do: JIT compiling this statement costs more than it saves.
    await tx.query("SELECT set_config('jit', 'off', true)");
    const attributed = await attributeSql(tx, { schema: sourceSchema(project), cancelled: cancelledStatuses(project), windows, from, to: now });
    await tx.query('UPDATE herald.attribution_passes SET watermark = $1, passed_at = $1, attributed = $2', [now, attributed]);
    return { attributed, from, to: now };
  });
}

/**
 * lockWatermark: the watermark row, created on the first pass and locked
 * for the transaction. Null before the first pass.
 */
async function lockWatermark(tx: Queryable): Promise<Date | null> {
  await tx.query('INSERT INTO herald.attribution_passes DEFAULT VALUES ON CONFLICT (id) DO NOTHING');
  const [row] = await tx.query<{ watermark: Date | null }>('SELECT watermark FROM herald.attribution_passes FOR UPDATE');
  return row!.watermark ? new Date(row!.watermark) : null;
}

export interface AttributeInput {
  schema: string;
  cancelled: readonly string[];
  windows: WindowTable;
  /** Orders placed from here (null: any time) … */
  from: Date | null;
  /** … up to here (exclusive). */
  to: Date;
}

/**
 * attribute: the pass's statement. Returns how many orders it attributed.
 *
 * touches: human clicks, and human opens where their window counts opens,
 * recent enough to reach an order of the pass (the longest window before
 * `from`), each with its own window: the message's source's setting, else
 * its site's, else herald.yaml's (the same resolution as windowFor).
 * chosen: per order in [from, to), not cancelled, placed after a touch of its
 * customer and within that touch's window, the latest such touch (ties by
 * event id, so two passes choose alike). The insert skips an order already
 * attributed (message_events_order), whichever message has it.
 * touches is MATERIALIZED so each touch is one row to the planner: the
 * orders index is then searched with the touch's own window (customer,
 * after the touch, before its end), not all of the customer's orders with
 * the window checked afterwards (a third as many index pages on the bench).
 */
export async function attributeSql(db: Queryable, i: AttributeInput): Promise<number> {
  const w = i.windows;
  const orders = `${quoteIdent(i.schema)}.orders`;
  const [row] = await db.query<{ attributed: number }>(
    `WITH source_windows AS (
       SELECT * FROM unnest($1::text[], $2::text[], $3::float8[], $4::float8[], $5::boolean[]) AS s(kind, name, click_s, open_s, opens)
     ), site_windows AS (
       SELECT * FROM unnest($6::text[], $7::float8[], $8::float8[], $9::boolean[]) AS s(site, click_s, open_s, opens)
     ), touches AS MATERIALIZED (
       SELECT e.id, e.message_id, e.at, m.customer_id,
              CASE WHEN e.kind = 'click' THEN coalesce(sw.click_s, tw.click_s, $10) ELSE coalesce(sw.open_s, tw.open_s, $11) END
                * interval '1 second' AS reach
         FROM herald.message_events e
         JOIN herald.messages m ON m.id = e.message_id
         LEFT JOIN source_windows sw ON sw.kind = m.source_kind AND sw.name = m.source
         LEFT JOIN site_windows tw ON tw.site = m.site
        WHERE e.kind = ANY($17::text[]) AND e.class = 'human'
          AND e.at >= coalesce($13::timestamptz, '-infinity') - $15 * interval '1 second' AND e.at < $14::timestamptz
          AND m.customer_id IS NOT NULL
          AND (e.kind = 'click' OR coalesce(sw.opens, tw.opens, $12))
     ), chosen AS (
       SELECT DISTINCT ON (o.id) o.id, o.total, o.currency, o.created_at, t.message_id
         FROM touches t
         JOIN ${orders} o ON o.customer_id = t.customer_id AND o.created_at > t.at AND o.created_at <= t.at + t.reach
        WHERE o.created_at >= coalesce($13::timestamptz, '-infinity') AND o.created_at < $14::timestamptz AND o.status <> ALL($16::text[])
        ORDER BY o.id, t.at DESC, t.id DESC
     ), inserted AS (
       INSERT INTO herald.message_events (message_id, kind, order_id, value, origin, detail, at)
       SELECT message_id, 'order', id::text, total, 'attribution', jsonb_build_object('currency', currency), created_at FROM chosen
       ON CONFLICT DO NOTHING
       RETURNING 1
     )
     SELECT count(*)::int AS attributed FROM inserted`,
    [
      w.sources.map((s) => s.kind),
      w.sources.map((s) => s.name),
      w.sources.map((s) => s.clickSeconds),
      w.sources.map((s) => s.openSeconds),
      w.sources.map((s) => s.opens),
      w.sites.map((s) => s.site),
      w.sites.map((s) => s.clickSeconds),
      w.sites.map((s) => s.openSeconds),
      w.sites.map((s) => s.opens),
      w.project.clickSeconds,
      w.project.openSeconds,
      w.project.opens,
      i.from,
      i.to,
      w.longestSeconds,
      i.cancelled,
      w.anyOpens ? ['click', 'open'] : ['click'],
    ],
  );
  return row!.attributed;
}
