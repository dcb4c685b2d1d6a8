import { compileSegment, type CompiledSql } from '../audience/compile.js';
import { durationMs } from '../audience/duration.js';
import { classifiedSql, unlessErased, type SiteLocales } from '../audience/recipients.js';
import { channelChoice } from '../audience/channels.js';
import type { SqlCondition } from '../audience/sql-sandbox.js';
import { campaignSites, cancelledStatuses, openStatuses, sourceSchema, type Project, type Segment, type Site, type Trigger } from '../workspace/model.js';
import { occurrencesSql, type EventSite } from './events.js';

/**
 * The sweep's statement: a trigger's new occurrences, classified like a
 * campaign's audience and filtered by `once`, either inserted into the
 * ledger (the sweep) or counted (the preview), so `herald plan` shows what
 * the sweep would do from the very same SQL.
 */

/** What a sweep statement is built from. */
export interface SweepSubject {
  name: string;
  spec: Trigger;
  project: Project;
  segments: ReadonlyMap<string, Segment>;
}

/**
 * How far before the last sweep a sweep looks again. Events can become
 * visible late: a shop's view or import lags, a cart's updated_at is
 * stamped by the shop's clock, a transaction commits after a sweep has
 * passed its time. Looking back a fixed two days from the last sweep, rather
 * than from the beginning, keeps a sweep's cost proportional to the events
 * of those two days plus the time since the last sweep, not to the shop's
 * history; the ledger's unique key makes the overlap free of duplicates.
 */
export const LOOKBACK = '2d';

/**
 * The window of one sweep: occurrences due in [from, now] are read; those
 * due before `horizon` (the back-fill horizon, the trigger's enabling minus
 * its `backfill`) are counted as skipped, never inserted. `from` is the last
 * sweep minus LOOKBACK, or, for the first sweep, the horizon minus LOOKBACK,
 * so that what enabling leaves behind is counted too; occurrences are
 * inserted from max(horizon, from).
 */
export interface SweepWindow {
  from: Date;
  horizon: Date;
  now: Date;
}

export function sweepWindow(run: { enabledAt: Date; sweptAt: Date | null }, spec: Trigger, now: Date): SweepWindow {
  const horizon = new Date(run.enabledAt.getTime() - (spec.backfill ? durationMs(spec.backfill) : 0));
  const from = new Date((run.sweptAt ?? horizon).getTime() - durationMs(LOOKBACK));
  return { from, horizon, now };
}

/** The ledger statuses that make a customer "already has this notification" for `once`: sent, or about to be. */
const PENDING = `('queued', 'claimed')`;

/** The sites a trigger sends for: its `site`/`sites`, else every site of the project. */
function triggerSites(p: Project, t: Trigger): Site[] {
  const ids = campaignSites(t);
  return ids.length ? p.sites.filter((s) => ids.includes(s.id)) : p.sites;
}

function compileContext(p: Project, segments: ReadonlyMap<string, Segment>) {
  return { schema: sourceSchema(p), segments, cancelled: cancelledStatuses(p), open: openStatuses(p), timezone: p.defaults?.timezone };
}

/** The `sql:` conditions of the trigger's audience, to evaluate before its sweep (the statement reads their results). */
export function audienceSqlConditions(t: SweepSubject, now: Date): SqlCondition[] {
  return t.spec.audience ? (compileSegment(t.spec.audience, compileContext(t.project, t.segments), now).sqlConditions ?? []) : [];
}

export type SweepMode = { insert: { source: number | null; template: number | null } } | 'count';

/**
 * sweepOccurrences: one statement, in CTEs.
 *
 * - occ: the event's occurrences in the window (events.ts), one row per
 *   customer and occurrence, MATERIALIZED so the classification below reads
 *   them as a set (a semi-join: only customers with an occurrence are
 *   classified, never the whole customers table).
 * - classified: classifiedSql, the one definition of who can be written to
 *   (shared with campaigns and the volume breakdown), over the trigger's
 *   sites, with the trigger's `audience:` condition; every customer in its
 *   bucket.
 * - due: both together; what is due before the horizon is counted (skipped,
 *   whatever the customer's bucket) and goes no further.
 * - fresh: not in the ledger already (the unique key would drop it anyway,
 *   but `once` must choose among occurrences that are really new), and
 *   allowed by `once`: per_customer, nothing this trigger sent the customer
 *   or has pending; per_year or a duration, nothing sent within it, nor
 *   pending. Both read messages_customer_key's prefix.
 * - picked: with `once` other than per_event, a customer's earliest new
 *   occurrence only.
 *
 * An occurrence `once` holds back is not recorded: it stays a candidate
 * while the window holds it (LOOKBACK after the sweep that last saw it),
 * so if `once` allows it by then (the message that blocked it was never
 * sent, or a short duration ran out) it goes out late, by up to LOOKBACK.
 *
 * Then either the INSERT (recipients `queued`, due now; the others
 * `suppressed` with their reason, so reports count them, as a launch does),
 * with ON CONFLICT on the ledger's key so concurrent or repeated sweeps
 * insert an occurrence once; or the counts alone. Returns one row:
 * `inserted` (or `would_send`, recipients only) and `skipped`.
 */
export function sweepSql(t: SweepSubject, w: SweepWindow, mode: SweepMode): CompiledSql {
  const p = t.project;
  const values: unknown[] = [];
  const param = (v: unknown, cast = '') => {
    values.push(v);
    return `$${values.length}${cast}`;
  };
  const name = param(t.name, '::text');
  const sites = triggerSites(p, t.spec);
  const eventSites: Record<string, EventSite> = Object.fromEntries(
    sites.map((s) => [s.id, { timezone: s.timezone ?? p.defaults?.timezone ?? 'UTC', currency: s.currency }]),
  );
  const events = occurrencesSql(t.spec, { schema: sourceSchema(p), cancelled: cancelledStatuses(p), sites: eventSites, from: w.from, now: w.now, param });

  const withOccurrence = 'c.id IN (SELECT o.customer_id FROM occ o)';
  const audience: CompiledSql = { text: '', values, parts: { joins: '', where: withOccurrence } };
  if (t.spec.audience) {
    // The audience is asked of the occurrences' customers only.
    const compiled = compileSegment(t.spec.audience, { ...compileContext(p, t.segments), candidates: 'SELECT x.customer_id FROM occ x' }, w.now, values);
    audience.parts = { joins: compiled.parts!.joins, where: `${withOccurrence} AND (${compiled.parts!.where})` };
  }
  const locales: SiteLocales = Object.fromEntries(sites.map((s) => [s.id, { locales: s.locales, default: s.default_locale }]));
  const choice = channelChoice(t.spec);
  const classified = classifiedSql(sourceSchema(p), audience, locales, undefined, choice);
  // classifiedSql numbers its parameters after ours, in a copy: take them over.
  values.push(...classified.values.slice(values.length));

  const horizon = param(w.horizon, '::timestamptz');
  const once = t.spec.once ?? 'per_event';
  // per_year and a duration: since when a message sent counts.
  const span = once === 'per_year' ? 365 * 86_400_000 : once.startsWith('per_') ? undefined : durationMs(once);
  const since = span === undefined ? undefined : param(new Date(w.now.getTime() - span), '::timestamptz');
  // Whether the trigger's ledger has no row of the customer of due row `d`
  // matching `test`. A scalar subquery, not NOT EXISTS: PostgreSQL turns
  // NOT EXISTS into an anti-join, and with the CTEs' rough estimates it
  // hashed every row the trigger had ever written (0.7 s at 2M rows, and
  // growing with history); this stays one probe of messages_customer_key
  // per new occurrence.
  //
  // An occurrence is sent once per channel with `all`; with first_reachable
  // once on any of the trigger's channels, so a customer who adds a device
  // between two sweeps does not get it again there.
  //
  // Each probe names its channel with `=`, one probe per channel: with
  // `m.channel = ANY(…)` PostgreSQL kept the channel (the key's third
  // column) as a filter and walked every entry of the trigger's for each
  // occurrence: 3.8 ms a probe at 120,000 rows, five minutes for one sweep.
  const channels = choice.mode === 'all' ? ['d.channel'] : choice.channels.map((c) => param(c, '::text'));
  const noLedgerRow = (test: string) =>
    channels
      .map(
        (channel) => `(SELECT true FROM herald.messages m
                           WHERE m.source_kind = 'trigger' AND m.source = ${name} AND m.channel = ${channel}
                             AND m.customer_id = d.customer_id AND ${test} LIMIT 1) IS NULL`,
      )
      .join(' AND ');
  const onceTest = once === 'per_event' ? '' : `AND ${noLedgerRow(`(m.status IN ${PENDING} OR (m.status = 'sent'${since ? ` AND m.sent_at > ${since}` : ''}))`)}`;
  const picked = once === 'per_event' ? 'SELECT * FROM fresh' : 'SELECT DISTINCT ON (f.customer_id, f.channel) f.* FROM fresh f ORDER BY f.customer_id, f.channel, f.due_at, f.occurrence';

  const ctes = `WITH occ AS MATERIALIZED (
       SELECT DISTINCT ON (e.customer_id, e.occurrence)
              e.customer_id::bigint AS customer_id, e.occurrence::text AS occurrence, e.due_at::timestamptz AS due_at, e.payload::jsonb AS payload
         FROM (${events}) AS e
        ORDER BY e.customer_id, e.occurrence, e.due_at),
     classified AS MATERIALIZED (${classified.text}),
     due AS (
       SELECT o.customer_id, o.occurrence, o.due_at, o.payload, r.email, r.channel, r.site, r.locale, r.bucket, r.reason
         FROM occ o JOIN classified r ON r.customer_id = o.customer_id),
     fresh AS (
       SELECT d.* FROM due d
        WHERE d.due_at >= ${horizon}
          AND ${noLedgerRow('m.occurrence = d.occurrence')}
          ${onceTest}),
     picked AS (${picked})`;
  const skipped = `(SELECT count(*) FROM due WHERE due_at < ${horizon})::int AS skipped`;

  if (mode === 'count') {
    return { text: `${ctes}\nSELECT (SELECT count(*) FROM picked WHERE bucket = 'recipients')::int AS would_send, ${skipped}`, values };
  }
  return {
    text: `${ctes},
     inserted AS (
       INSERT INTO herald.messages (source_kind, source, channel, customer_id, address, site, locale, occurrence, payload, due_at,
                                    status, reason, next_attempt_at, source_version, template_version)
       -- An erased person's row is recorded without their address or event data (src/privacy/).
       SELECT 'trigger', ${name}, k.channel, k.customer_id, ${unlessErased('k.reason', 'k.email')}, k.site, k.locale, k.occurrence,
              ${unlessErased('k.reason', 'k.payload')}, k.due_at,
              CASE WHEN k.bucket = 'recipients' THEN 'queued' ELSE 'suppressed' END,
              CASE WHEN k.bucket <> 'recipients' THEN k.reason END,
              ${param(w.now, '::timestamptz')}, ${param(mode.insert.source, '::int')}, ${param(mode.insert.template, '::int')}
         FROM picked k
       ON CONFLICT (source_kind, source, channel, customer_id, occurrence) WHERE customer_id IS NOT NULL DO NOTHING
       RETURNING 1)
SELECT (SELECT count(*) FROM inserted)::int AS inserted, ${skipped}`,
    values,
  };
}
