import { audienceCondition } from '../audience/audience.js';
import { campaignQuery } from '../audience/breakdown.js';
import { compileSegment, type CompiledSql } from '../audience/compile.js';
import { classifiedContactsSql, classifiedSql } from '../audience/recipients.js';
import type { SqlCondition } from '../audience/sql-sandbox.js';
import type { Queryable } from '../db/db.js';
import type { SourceKind } from '../ledger/source.js';
import { cancelledStatuses, openStatuses, sourceSchema, type Campaign, type Project, type Segment } from '../workspace/model.js';
import type { Cap } from './view.js';

/**
 * The calendar's queries: what the ledger sent per day, the campaigns'
 * runs, and the frequency-cap overlap of the scheduled campaigns. Every
 * day is a UTC day and every bound a parameter: nothing reads the
 * database's clock or time zone.
 */

/** Messages one source sent on one UTC day. */
export interface SentDay {
  kind: SourceKind;
  name: string;
  /** YYYY-MM-DD */
  day: string;
  messages: number;
  first_at: Date;
  last_at: Date;
}

/**
 * sent_by_day: messages sent per source and UTC day in [from, to), with the
 * first and last send time. No index leads with sent_at (messages_contacted
 * leads with the customer, for the claim), so this reads the ledger once; a
 * calendar is written once per tick, not per message.
 */
export async function sentByDay(db: Queryable, from: Date, to: Date): Promise<SentDay[]> {
  const rows = await db.query<SentDay>(
    `SELECT source_kind AS kind, source AS name, to_char(sent_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day,
            count(*)::int AS messages, min(sent_at) AS first_at, max(sent_at) AS last_at
       FROM herald.messages
      WHERE sent_at >= $1 AND sent_at < $2
      GROUP BY 1, 2, 3
      ORDER BY 3, 1, 2`,
    [from, to],
  );
  return rows.map((r) => ({ ...r, first_at: new Date(r.first_at), last_at: new Date(r.last_at) }));
}

/** A campaign's run: its launch and A/B decision, and its ledger when the calendar shows the run. */
export interface CampaignRun {
  name: string;
  phase: 'sending' | 'completed';
  launched_at: Date;
  winner: string | null;
  decided_at: Date | null;
  /** The messages it sends (the control group and those left out at launch not counted); null when not counted. */
  recipients: number | null;
  /** Waiting for the A/B winner. */
  waiting: number | null;
}

/**
 * campaign_runs: every campaign's run (a campaign with one never launches
 * again), with its A/B decision. The ledger is counted only for runs
 * launched in [from, to) or still sending: the gate refers to the run alone,
 * so PostgreSQL evaluates it once per run and skips the others' index scans
 * (messages_customer_key leads with source_kind and source). Recipients
 * count as in ledgerCounts (src/ledger/ledger.ts).
 */
export async function campaignRuns(db: Queryable, from: Date, to: Date): Promise<CampaignRun[]> {
  const rows = await db.query<CampaignRun>(
    `SELECT r.source AS name, r.phase, r.launched_at, d.winner, d.decided_at,
            CASE WHEN g.counted THEN c.recipients END AS recipients,
            CASE WHEN g.counted THEN c.waiting END AS waiting
       FROM herald.runs r
       CROSS JOIN LATERAL (SELECT (r.launched_at >= $1 AND r.launched_at < $2 OR r.phase = 'sending') AS counted) AS g
       LEFT JOIN herald.ab_decisions d ON d.campaign = r.source
       LEFT JOIN LATERAL (
         SELECT count(*) FILTER (WHERE m.status <> 'control' AND NOT (m.status = 'suppressed' AND m.worker IS NULL))::int AS recipients,
                count(*) FILTER (WHERE m.status = 'waiting')::int AS waiting
           FROM herald.messages m
          WHERE g.counted AND m.source_kind = 'campaign' AND m.source = r.source) AS c ON true
      WHERE r.source_kind = 'campaign'
      ORDER BY r.source`,
    [from, to],
  );
  return rows.map((r) => ({ ...r, launched_at: new Date(r.launched_at), decided_at: r.decided_at ? new Date(r.decided_at) : null }));
}

/** A scheduled campaign in the overlap statement. */
export interface OverlapCampaign {
  name: string;
  spec: Campaign;
  /** When it launches; relative audience conditions resolve against it, as the launch will. */
  at: Date;
  cap: Cap | null;
  /** A window ends at it: it is in the calendar's range and under a cap. */
  anchor: boolean;
}

/** One row of the overlap statement: a window's customers over the cap, or a campaign's audience. */
export interface OverlapRow {
  row: 'window' | 'audience';
  /** The campaign's index in the input. */
  k: number;
  customers: number;
  fewest: number | null;
  most: number | null;
  sent_before: number | null;
}

/**
 * capOverlapSql: the frequency cap across the scheduled campaigns, in one
 * statement. The claim caps a message when the recipient was already sent
 * `max` messages, from any source, in the `per` before it
 * (src/ledger/claim.ts); so for each campaign under a cap (an anchor), its
 * window is (at − per, at], and a customer is over when the campaigns of
 * that window that reach them, plus what the ledger already sent them in
 * it, are more than `max`. Only the anchor's own recipients count: it is
 * the message the cap would skip. Each campaign's recipients are its
 * audience as the launch draws it (classifiedSql's `recipients`: consent,
 * suppressions and control group applied, its lists' contacts included),
 * compiled at its launch time with parameters numbered on from the one
 * before. Also returns each campaign's recipient count.
 *
 * `sqlConditions` must be evaluated first (sql-sandbox.ts).
 */
export function capOverlapSql(campaigns: readonly OverlapCampaign[], project: Project, segments: ReadonlyMap<string, Segment>): CompiledSql & { sqlConditions: SqlCondition[] } {
  let values: unknown[] = [];
  const parts: string[] = [];
  const sqlConditions: SqlCondition[] = [];
  // As src/audience/breakdown.ts compiles a campaign's audience, but numbering on from `values`.
  const compileCtx = { schema: sourceSchema(project), segments, cancelled: cancelledStatuses(project), open: openStatuses(project), timezone: project.defaults?.timezone };
  campaigns.forEach((c, k) => {
    const q = campaignQuery(c.name, c.spec, { project, segments, now: c.at });
    const audience = compileSegment(audienceCondition(c.spec.audience), compileCtx, c.at, values);
    sqlConditions.push(...(audience.sqlConditions ?? []));
    const customers = classifiedSql(q.schema, audience, q.sites, q.control);
    values = customers.values;
    parts.push(`SELECT ${k} AS k, 'customer' AS who, r.customer_id AS id FROM (${customers.text}) AS r WHERE r.bucket = 'recipients'`);
    if (q.lists?.length) {
      const contacts = classifiedContactsSql(q.lists, q.sites, values, q.control);
      parts.push(`SELECT ${k}, 'contact', r.customer_id FROM (${contacts}) AS r WHERE r.bucket = 'recipients'`);
    }
  });
  values.push(
    JSON.stringify(campaigns.map((c, k) => ({ k, at: c.at.toISOString(), cap_max: c.cap?.max ?? null, per_seconds: c.cap?.perSeconds ?? null, anchor: c.anchor }))),
  );
  const plan = `$${values.length}`;
  return {
    text: `WITH plan AS (
         SELECT * FROM jsonb_to_recordset(${plan}::jsonb) AS p(k int, at timestamptz, cap_max int, per_seconds int, anchor boolean)),
       -- Each campaign's recipients; a list contact who is not a customer is a recipient of its own.
       audience AS (
         ${parts.join('\n         UNION ALL\n         ')}),
       -- Each anchor's window: the campaigns launched in (at - per, at], itself included.
       windows AS (
         SELECT w.k, j.k AS j
           FROM plan w JOIN plan j ON j.at > w.at - make_interval(secs => w.per_seconds) AND j.at <= w.at
          WHERE w.anchor AND w.cap_max IS NOT NULL),
       -- Per window and recipient of its anchor: how many of the window's campaigns reach them.
       shared AS (
         SELECT w.k, a.who, a.id, count(*) AS n
           FROM windows w JOIN audience a ON a.k = w.j
          GROUP BY w.k, a.who, a.id
         HAVING bool_or(a.k = w.k)),
       -- What they were already sent in the window, from any source, as the claim counts it.
       before AS (
         SELECT w.k, CASE WHEN m.customer_id IS NULL THEN 'contact' ELSE 'customer' END AS who,
                coalesce(m.customer_id, m.contact_id) AS id, count(*) AS n
           FROM plan w
           JOIN herald.messages m ON m.status = 'sent' AND m.sent_at > w.at - make_interval(secs => w.per_seconds) AND m.sent_at <= w.at
          WHERE w.anchor AND w.cap_max IS NOT NULL
          GROUP BY 1, 2, 3),
       over AS (
         SELECT s.k, s.n + coalesce(b.n, 0) AS total, b.n IS NOT NULL AS sent_before
           FROM shared s
           JOIN plan p ON p.k = s.k
           LEFT JOIN before b ON b.k = s.k AND b.who = s.who AND b.id = s.id
          WHERE s.n + coalesce(b.n, 0) > p.cap_max)
  SELECT 'window' AS row, k, count(*)::int AS customers, min(total)::int AS fewest, max(total)::int AS most,
         count(*) FILTER (WHERE sent_before)::int AS sent_before
    FROM over GROUP BY k
  UNION ALL
  SELECT 'audience', k, count(*)::int, NULL, NULL, NULL FROM audience GROUP BY k
  ORDER BY 1 DESC, 2`,
    values,
    sqlConditions,
  };
}
