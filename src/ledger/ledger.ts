import type { Queryable } from '../db/db.js';
import type { CompiledSql } from '../audience/compile.js';
import { classifiedContactsSql, classifiedSql, controlGroupThreshold, type ControlGroup, type SiteLocales } from '../audience/recipients.js';
import { quoteIdent } from '../db/ident.js';
import { SESSION_NAMESPACE } from './session.js';

/**
 * The message ledger: named queries over herald.messages and
 * herald.campaign_runs. Every state change of a message is one of these
 * statements; workers coordinate through them alone (row locks with SKIP
 * LOCKED, leases), never through each other.
 *
 * Row states: queued → claimed (leased to a worker) → sent | failed | bounced
 * | expired | unknown, or back to queued for a retry; `suppressed` (left out
 * at materialisation with its reason, or found suppressed at claim time),
 * `control` (held out, never sent) and `waiting` (the rest of an A/B test's
 * audience, until the winner is decided).
 */

/** How a launch splits the audience: control group and A/B test. */
export interface Split {
  control?: ControlGroup;
  ab?: { testPercent: number; variants: string[] };
}

/**
 * The A/B hashes, like the control group's (recipients.ts): the first 32 bits
 * of md5('<campaign>:ab:<id>') decide the test group, those of
 * md5('<campaign>:variant:<id>') the variant, so assignment depends on
 * nothing but the campaign and the customer and is the same on every run.
 * `id` is the customer id, or `k<contact id>` for a list's contact.
 */
function abColumns(split: Split, campaign: string, idSql: string, param: (v: unknown) => string): { status: string; variant: string } {
  if (!split.ab) return { status: `'queued'`, variant: 'NULL' };
  const test = `('x' || substr(md5(${param(campaign)} || ':ab:' || ${idSql}), 1, 8))::bit(32)::bigint < ${param(controlGroupThreshold(split.ab.testPercent))}::bigint`;
  const pick = `(${param(split.ab.variants)}::text[])[1 + (('x' || substr(md5(${param(campaign)} || ':variant:' || ${idSql}), 1, 8))::bit(32)::bigint % ${split.ab.variants.length})::int]`;
  return { status: `CASE WHEN ${test} THEN 'queued' ELSE 'waiting' END`, variant: `CASE WHEN ${test} THEN ${pick} END` };
}

export interface LaunchInput {
  campaign: string;
  schema: string;
  audience: CompiledSql;
  sites: SiteLocales;
  lists: readonly string[];
  split: Split;
  versions: { campaign: number | null; template: number | null };
  now: Date;
}

/**
 * launch: starts the campaign's run and materialises its whole audience, in
 * the caller's transaction. Returns the number of rows added, or undefined
 * when the run had already started (so a second launch adds nobody who
 * joined the segment since).
 *
 * One INSERT … SELECT over classifiedSql (the single definition of who
 * receives a campaign): recipients become queued (or, in an A/B test, queued
 * with their variant when in the test group, else waiting), the control
 * group `control`, and customers who cannot be written to `suppressed` with
 * the reason. A second statement does the same for the lists' contacts who
 * are not customers. The run row inserted first makes launching once per
 * campaign: a second launch, even a concurrent one, stops there. The
 * customers' INSERT has no ON CONFLICT: classifiedSql yields each customer
 * once, and speculative insertion cost ~25% of a million-row launch; a
 * duplicate would fail the launch loudly rather than be dropped. Contacts
 * may sit in several lists, so theirs keeps it.
 */
export async function launch(db: Queryable, i: LaunchInput): Promise<number | undefined> {
  const started = await db.query(
    "INSERT INTO herald.campaign_runs (campaign, phase, launched_at) VALUES ($1, 'sending', $2) ON CONFLICT (campaign) DO NOTHING RETURNING campaign",
    [i.campaign, i.now],
  );
  if (started.length === 0) return undefined;

  const c = classifiedSql(i.schema, i.audience, i.sites, i.split.control);
  const values = [...c.values];
  const param = (v: unknown) => {
    values.push(v);
    return `$${values.length}`;
  };
  const ab = abColumns(i.split, i.campaign, 'r.customer_id::text', param);
  const [customers] = await db.query<{ n: number }>(
    `WITH inserted AS (
       INSERT INTO herald.messages (campaign, customer_id, email, site, locale, status, variant, reason, next_attempt_at, campaign_version, template_version)
       SELECT ${param(i.campaign)}, r.customer_id, r.email, r.site, r.locale,
              CASE r.bucket WHEN 'recipients' THEN ${ab.status} WHEN 'control_group' THEN 'control' ELSE 'suppressed' END,
              CASE r.bucket WHEN 'recipients' THEN ${ab.variant} END,
              CASE WHEN r.bucket <> 'recipients' THEN r.reason END,
              ${param(i.now)}::timestamptz, ${param(i.versions.campaign)}::int, ${param(i.versions.template)}::int
         -- OFFSET 0 keeps the classification a subquery of its own: flattened,
         -- its bucket (an address regex, suppression lookups, an md5) would
         -- be computed again for the status, the variant and the reason.
         FROM (${c.text} OFFSET 0) AS r
       RETURNING 1)
     SELECT count(*)::int AS n FROM inserted`,
    values,
  );
  let added = customers!.n;
  if (i.lists.length > 0) {
    const kValues: unknown[] = [];
    const kParam = (v: unknown) => {
      kValues.push(v);
      return `$${kValues.length}`;
    };
    const inner = classifiedContactsSql(i.lists, i.sites, kValues, i.split.control);
    const kab = abColumns(i.split, i.campaign, "'k' || r.customer_id::text", kParam);
    const [contacts] = await db.query<{ n: number }>(
      `WITH inserted AS (
         INSERT INTO herald.messages (campaign, contact_id, email, site, locale, status, variant, reason, next_attempt_at, campaign_version, template_version)
         SELECT ${kParam(i.campaign)}, r.customer_id, r.email, r.site, r.locale,
                CASE r.bucket WHEN 'recipients' THEN ${kab.status} WHEN 'control_group' THEN 'control' ELSE 'suppressed' END,
                CASE r.bucket WHEN 'recipients' THEN ${kab.variant} END,
                CASE WHEN r.bucket <> 'recipients' THEN r.reason END,
                ${kParam(i.now)}::timestamptz, ${kParam(i.versions.campaign)}::int, ${kParam(i.versions.template)}::int
           FROM (${inner} OFFSET 0) AS r
         ON CONFLICT (campaign, contact_id) WHERE contact_id IS NOT NULL DO NOTHING
         RETURNING 1)
       SELECT count(*)::int AS n FROM inserted`,
      kValues,
    );
    added += contacts!.n;
  }
  return added;
}

export interface ClaimedMessage {
  id: number;
  campaign: string;
  /** A shop customer, or (for a list's contact who is not one) null with contact_id set. */
  customer_id: number | null;
  contact_id: number | null;
  email: string;
  site: string;
  locale: string;
  variant: string | null;
  attempts: number;
  first_attempt_at: Date;
  first_name: string | null;
  last_name: string | null;
  city: string | null;
  country: string | null;
  /** YYYY-MM-DD */
  birthday: string | null;
  /** The extra CSV columns of the campaign's list this recipient came from. */
  tokens: Record<string, string> | null;
}

/** A claimed batch: the messages to send, and how many rows were settled as suppressed instead. */
export interface ClaimedBatch {
  messages: ClaimedMessage[];
  suppressed: number;
}

export interface ClaimInput {
  campaign: string;
  schema: string;
  worker: string;
  limit: number;
  leaseSeconds: number;
  now: Date;
  lists?: readonly string[];
  /** The claiming process's session (session.ts): its lock key, recorded with the claim. */
  session: { key: number; outlivesServer: boolean };
}

/**
 * claimBatch: takes up to `limit` due rows of a campaign for this worker: queued
 * rows whose next attempt is due; claimed rows whose holder is gone: its lease
 * ran out, or the session lock its process held (session.ts) is no longer
 * held, so the process died; and rows already claimed under this worker's
 * own name. A worker claims only when its previous batch is recorded, so those
 * are claims it never saw: the connection broke after the server committed
 * the claim but before the rows reached the worker (a network cut, a proxy
 * restart). Taking them back at once keeps them from waiting out the lease.
 * SKIP LOCKED lets any number of workers claim side by side without waiting
 * on each other or taking the same row. The claim commits before any SMTP
 * conversation starts.
 *
 * A holder's lock says it lives only for claims made since the server last
 * started: a restart ends every session, those of live holders too, so an
 * older claim is taken back only when its lease runs out. On embedded PGlite
 * (one process) a claim from an earlier start is always a dead process's.
 *
 * The same statement checks:
 * - the campaign's status in force (its deployed spec, or a pause, resume or
 *   cancel override): a paused or cancelled campaign yields nothing, so a
 *   pause takes effect within one batch;
 * - each row's address against herald.suppressions (its site's and all
 *   sites'): an address suppressed since the audience was materialised (an
 *   unsubscribe, a bounce from another campaign) settles as `suppressed`.
 */
export async function claimBatch(db: Queryable, c: ClaimInput): Promise<ClaimedBatch> {
  const rows = await db.query<ClaimedMessage & { status: 'claimed' | 'suppressed' }>(claimSql(c.schema), claimValues(c));
  const messages: ClaimedMessage[] = [];
  let suppressed = 0;
  for (const { status, ...m } of rows) {
    if (status === 'suppressed') suppressed++;
    else messages.push(m);
  }
  return { messages, suppressed };
}

/** The claim statement of claimBatch, its values in the order of claimValues (exported for its plan test). */
export function claimSql(schema: string): string {
  return `WITH sendable AS (
       SELECT 1 FROM herald.objects o
         LEFT JOIN herald.campaign_overrides v ON v.campaign = o.name
        WHERE o.kind = 'campaign' AND o.name = $1 AND o.archived_at IS NULL
          AND coalesce(v.status, o.spec->>'status', 'draft') = 'ready'),
     -- The advisory locks of live herald sessions (session.ts), read once.
     live AS MATERIALIZED (
       SELECT l.objid FROM pg_locks l
        WHERE l.locktype = 'advisory' AND l.granted AND l.classid = ${SESSION_NAMESPACE}::oid AND l.objsubid = 2
          AND l.database = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())),
     -- Sessions holding claims of this campaign under a running lease whose
     -- lock nobody holds: their process is gone. Claims made before the
     -- server's last start are left to their lease ($8: PGlite has no such
     -- thing as a holder outliving the server).
     gone AS (
       SELECT DISTINCT q.session_key FROM herald.messages q
        WHERE q.campaign = $1 AND q.status = 'claimed' AND q.lease_until >= $3 AND q.session_key <> $7
          AND (q.session_epoch = pg_postmaster_start_time() OR NOT $8)
          AND q.session_key::oid NOT IN (SELECT objid FROM live)),
     -- Two scans, each on its partial index, so a claim late in a big
     -- campaign does not walk past the rows already sent: first claims whose
     -- holder is gone or that are this worker's own (messages_leased), then
     -- due queued rows in the order they fell due (messages_due). Both LIMITs
     -- are the batch size: the planner must see a small constant (a LIMIT
     -- computed from taken_back is planned as 10% of the table, which on a
     -- million rows picked merge joins and a second of JIT per claim). Rows
     -- of due beyond the batch are locked only until this statement commits.
     taken_back AS (
       SELECT q.id FROM herald.messages q
        WHERE q.campaign = $1 AND q.status = 'claimed' AND EXISTS (SELECT 1 FROM sendable)
          AND (q.lease_until < $3 OR q.worker = $4 OR q.session_key IN (SELECT session_key FROM gone))
        ORDER BY q.lease_until LIMIT $2
        FOR UPDATE SKIP LOCKED),
     due AS (
       SELECT q.id FROM herald.messages q
        WHERE q.campaign = $1 AND q.status = 'queued' AND q.next_attempt_at <= $3 AND EXISTS (SELECT 1 FROM sendable)
        ORDER BY q.next_attempt_at, q.id LIMIT $2
        FOR UPDATE SKIP LOCKED),
     picked AS (
       SELECT m.id,
              EXISTS (SELECT 1 FROM herald.suppressions s
                       WHERE s.email = lower(m.email) AND (s.site IS NULL OR s.site = m.site)) AS suppressed
         FROM herald.messages m
        WHERE m.id IN (SELECT id FROM (SELECT id FROM taken_back UNION ALL SELECT id FROM due) AS u LIMIT $2)),
     claimed AS (
       UPDATE herald.messages m
          SET status = CASE WHEN p.suppressed THEN 'suppressed' ELSE 'claimed' END,
              reason = CASE WHEN p.suppressed THEN 'suppressed after the audience was drawn' ELSE m.reason END,
              worker = $4,
              session_key = $7,
              session_epoch = pg_postmaster_start_time(),
              claimed_at = $3,
              lease_until = $3::timestamptz + make_interval(secs => $5),
              first_attempt_at = coalesce(m.first_attempt_at, $3),
              attempts = m.attempts + CASE WHEN p.suppressed THEN 0 ELSE 1 END
         FROM picked p
        WHERE m.id = p.id
        RETURNING m.id, m.campaign, m.customer_id, m.contact_id, m.email, m.site, m.locale, m.variant, m.attempts, m.first_attempt_at, m.status)
     SELECT k.*, coalesce(c.first_name, ct.first_name) AS first_name, coalesce(c.last_name, ct.last_name) AS last_name,
            c.city, c.country, to_char(c.birthday, 'YYYY-MM-DD') AS birthday,
            -- The extra CSV columns of the campaign's lists become customer.* tokens.
            (SELECT lm.tokens FROM herald.list_members lm
              WHERE lm.list = ANY($6::text[]) AND (lm.customer_id = k.customer_id OR lm.contact_id = k.contact_id)
              ORDER BY lm.list LIMIT 1) AS tokens
       FROM claimed k
       LEFT JOIN ${quoteIdent(schema)}.customers c ON c.id = k.customer_id
       LEFT JOIN herald.contacts ct ON ct.id = k.contact_id
      ORDER BY k.id`;
}

export function claimValues(c: ClaimInput): unknown[] {
  return [c.campaign, c.limit, c.now, c.worker, c.leaseSeconds, c.lists ?? [], c.session.key, c.session.outlivesServer];
}

/** renewLeases: a worker still busy with its rows extends their leases, so nobody takes them over. */
export async function renewLeases(db: Queryable, worker: string, ids: readonly number[], until: Date): Promise<void> {
  if (ids.length === 0) return;
  await db.query(
    "UPDATE herald.messages SET lease_until = $3 WHERE id = ANY($2::bigint[]) AND worker = $1 AND status = 'claimed'",
    [worker, ids, until],
  );
}

/**
 * reclaim: after its session's lock was lost and taken again, a worker
 * renews its claims under the session it holds now, and learns which are
 * still its own: another worker may have found the lock gone and taken some.
 * Those it must not send.
 */
export async function reclaim(db: Queryable, worker: string, ids: readonly number[], until: Date, sessionKey: number): Promise<number[]> {
  if (ids.length === 0) return [];
  const rows = await db.query<{ id: number }>(
    `UPDATE herald.messages SET lease_until = $3, session_key = $4, session_epoch = pg_postmaster_start_time()
      WHERE id = ANY($2::bigint[]) AND worker = $1 AND status = 'claimed'
      RETURNING id`,
    [worker, ids, until, sessionKey],
  );
  return rows.map((r) => r.id);
}

export interface Outcome {
  id: number;
  status: 'sent' | 'failed' | 'bounced' | 'expired' | 'unknown' | 'queued';
  response: string;
  messageId: string;
  /** For a retry (status queued): when it is due. */
  nextAttemptAt?: Date;
}

/**
 * recordOutcomes: results in one statement, as they come in (recorder.ts
 * groups the replies of ~100 ms).
 * A row is only settled while still claimed by this worker, so a worker whose
 * lease was taken over never overwrites the new holder's result, with one
 * exception: `sent` is always recorded, because the message did go out.
 */
export async function recordOutcomes(db: Queryable, worker: string, outcomes: readonly Outcome[], now: Date): Promise<void> {
  if (outcomes.length === 0) return;
  await db.query(
    `UPDATE herald.messages m
        SET status = o.status, smtp_response = o.response, message_id = o.message_id,
            sent_at = CASE WHEN o.status = 'sent' THEN $6::timestamptz END,
            next_attempt_at = CASE WHEN o.status = 'queued' THEN o.next_attempt_at ELSE m.next_attempt_at END,
            reason = CASE WHEN o.status IN ('sent', 'queued') THEN NULL ELSE o.response END,
            lease_until = NULL
       FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::timestamptz[]) AS o(id, status, response, message_id, next_attempt_at)
      WHERE m.id = o.id AND m.status = 'claimed' AND (m.worker = $7 OR o.status = 'sent')`,
    [
      outcomes.map((o) => o.id),
      outcomes.map((o) => o.status),
      outcomes.map((o) => o.response),
      outcomes.map((o) => o.messageId),
      outcomes.map((o) => o.nextAttemptAt ?? null),
      now,
      worker,
    ],
  );
}

/**
 * suppressBounced: the addresses of hard bounces (5xx x.1.x) go onto the
 * suppression list for every site, with their log entry, in one statement.
 */
export async function suppressBounced(db: Queryable, bounces: readonly { email: string; response: string }[]): Promise<void> {
  if (bounces.length === 0) return;
  await db.query(
    `WITH b AS (SELECT DISTINCT ON (lower(e)) lower(e) AS email, r AS note FROM unnest($1::text[], $2::text[]) AS x(e, r)),
     added AS (
       INSERT INTO herald.suppressions (email, site, reason, source, note, created_by)
       SELECT email, NULL, 'bounced', 'smtp', note, 'herald' FROM b
       ON CONFLICT (email, coalesce(site, '')) DO NOTHING
       RETURNING email, note)
     INSERT INTO herald.suppression_events (action, email, site, reason, source, note, actor)
     SELECT 'add', email, NULL, 'bounced', 'smtp', note, 'herald' FROM added`,
    [bounces.map((b) => b.email), bounces.map((b) => b.response)],
  );
}

/**
 * countAttempts: adds a batch to the run's attempt and policy-refusal counts
 * and returns the totals, for the circuit breaker.
 */
export async function countAttempts(db: Queryable, campaign: string, attempts: number, policy: number): Promise<{ attempts: number; policy_refusals: number }> {
  const [row] = await db.query<{ attempts: number; policy_refusals: number }>(
    `UPDATE herald.campaign_runs SET attempts = attempts + $2, policy_refusals = policy_refusals + $3
      WHERE campaign = $1 RETURNING attempts, policy_refusals`,
    [campaign, attempts, policy],
  );
  return row ?? { attempts: 0, policy_refusals: 0 };
}

/** completeIfDone: the run is completed when every row is terminal: none queued, claimed or waiting. */
export async function completeIfDone(db: Queryable, campaign: string, now: Date): Promise<boolean> {
  const rows = await db.query(
    `UPDATE herald.campaign_runs SET phase = 'completed', completed_at = $2
      WHERE campaign = $1 AND phase = 'sending'
        AND NOT EXISTS (SELECT 1 FROM herald.messages WHERE campaign = $1 AND status IN ('queued', 'claimed', 'waiting'))
      RETURNING campaign`,
    [campaign, now],
  );
  return rows.length === 1;
}

/**
 * sendingCampaigns: the runs not yet completed whose campaign is still
 * deployed and ready (its status in force, overrides included), oldest
 * first: what workers deliver and whose A/B tests the tick decides. A
 * campaign archived or deleted mid-run keeps its ledger for reports and
 * sends nothing more; a paused one waits for resume; a cancelled one is
 * left alone for good, its unsent rows reported as not sent.
 */
export async function sendingCampaigns(db: Queryable): Promise<string[]> {
  const rows = await db.query<{ campaign: string }>(
    `SELECT r.campaign FROM herald.campaign_runs r
       JOIN herald.objects o ON o.kind = 'campaign' AND o.name = r.campaign AND o.archived_at IS NULL
       LEFT JOIN herald.campaign_overrides v ON v.campaign = r.campaign
      WHERE r.phase = 'sending' AND coalesce(v.status, o.spec->>'status', 'draft') = 'ready'
      ORDER BY r.launched_at, r.campaign`,
  );
  return rows.map((r) => r.campaign);
}

export interface LedgerCounts {
  /** Every member of the audience the ledger holds. */
  audience: number;
  /** Held out to measure the campaign's effect; never sent. */
  control: number;
  /** Left out when the audience was drawn: no usable address, no consent, suppressed. */
  left_out: number;
  /** Everyone else: the messages the campaign sends. */
  recipients: number;
  queued: number;
  waiting: number;
  claimed: number;
  sent: number;
  failed: number;
  bounced: number;
  expired: number;
  unknown: number;
  /** Found suppressed (unsubscribed, bounced elsewhere) after the audience was drawn. */
  suppressed: number;
}

/** ledgerCounts: the report's figures, straight from the ledger. */
export async function ledgerCounts(db: Queryable, campaign: string): Promise<LedgerCounts> {
  const [row] = await db.query<LedgerCounts>(
    `SELECT count(*)::int AS audience,
            count(*) FILTER (WHERE status = 'control')::int AS control,
            count(*) FILTER (WHERE status = 'suppressed' AND worker IS NULL)::int AS left_out,
            count(*) FILTER (WHERE status <> 'control' AND NOT (status = 'suppressed' AND worker IS NULL))::int AS recipients,
            count(*) FILTER (WHERE status = 'queued')::int AS queued,
            count(*) FILTER (WHERE status = 'waiting')::int AS waiting,
            count(*) FILTER (WHERE status = 'claimed')::int AS claimed,
            count(*) FILTER (WHERE status = 'sent')::int AS sent,
            count(*) FILTER (WHERE status = 'failed')::int AS failed,
            count(*) FILTER (WHERE status = 'bounced')::int AS bounced,
            count(*) FILTER (WHERE status = 'expired')::int AS expired,
            count(*) FILTER (WHERE status = 'unknown')::int AS unknown,
            count(*) FILTER (WHERE status = 'suppressed' AND worker IS NOT NULL)::int AS suppressed
       FROM herald.messages WHERE campaign = $1`,
    [campaign],
  );
  return row!;
}

/** What keeps a campaign's retries waiting: the most common last reply among them, and when the first is due. */
export interface RetryReason {
  response: string;
  /** Rows waiting with this reply. */
  count: number;
  /** Rows waiting for a retry, whatever their reply. */
  waiting: number;
  nextAttemptAt: Date;
}

/**
 * retryReason: why the campaign's queued rows that were already tried are
 * waiting, for a summary that says why nothing went out (an SMTP server
 * that is down, a 4xx it keeps giving). Undefined when none is waiting.
 */
export async function retryReason(db: Queryable, campaign: string): Promise<RetryReason | undefined> {
  const [row] = await db.query<{ response: string; count: number; waiting: number; next_attempt_at: Date }>(
    `SELECT smtp_response AS response, count(*)::int AS count,
            sum(count(*)) OVER ()::int AS waiting,
            min(min(next_attempt_at)) OVER () AS next_attempt_at
       FROM herald.messages
      WHERE campaign = $1 AND status = 'queued' AND attempts > 0
      GROUP BY smtp_response
      ORDER BY count(*) DESC, smtp_response
      LIMIT 1`,
    [campaign],
  );
  return row ? { response: row.response ?? 'no reply', count: row.count, waiting: row.waiting, nextAttemptAt: new Date(row.next_attempt_at) } : undefined;
}

/** runPhase: whether (and how far) the campaign has run. */
export async function runPhase(db: Queryable, campaign: string): Promise<'sending' | 'completed' | undefined> {
  const [row] = await db.query<{ phase: 'sending' | 'completed' }>('SELECT phase FROM herald.campaign_runs WHERE campaign = $1', [campaign]);
  return row?.phase;
}

/** objectVersion: the deployed version number of an object, recorded with each ledger row. */
export async function objectVersion(db: Queryable, kind: string, name: string): Promise<number | null> {
  const [row] = await db.query<{ v: number | null }>('SELECT max(version)::int AS v FROM herald.object_versions WHERE kind = $1 AND name = $2', [kind, name]);
  return row?.v ?? null;
}
