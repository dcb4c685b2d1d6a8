import type { Queryable } from '../db/db.js';
import type { CompiledSql } from '../audience/compile.js';
import { contactRecipientsSql, recipientsSql, type SiteLocales } from '../audience/recipients.js';
import { quoteIdent } from '../db/ident.js';

/** The message ledger: named queries over herald.messages and herald.campaign_runs. */

/**
 * startRun: marks the campaign as sending. Returns false when it had already
 * started, so the audience is materialised exactly once and a second
 * `herald send` adds nobody who joined the segment since.
 */
export async function startRun(db: Queryable, campaign: string): Promise<boolean> {
  const rows = await db.query(
    "INSERT INTO herald.campaign_runs (campaign, phase) VALUES ($1, 'sending') ON CONFLICT (campaign) DO NOTHING RETURNING campaign",
    [campaign],
  );
  return rows.length === 1;
}

/**
 * materialise: the whole audience in one INSERT … SELECT (see recipientsSql
 * for who counts as a recipient). The UNIQUE (campaign, customer_id) key
 * makes a rerun add nothing.
 */
export async function materialise(db: Queryable, campaign: string, schema: string, audience: CompiledSql, sites: SiteLocales): Promise<number> {
  const r = recipientsSql(schema, audience, sites);
  const values = [...r.values, campaign];
  const rows = await db.query<{ n: number }>(
    `WITH inserted AS (
       INSERT INTO herald.messages (campaign, customer_id, email, site, locale)
       SELECT $${values.length}, r.customer_id, r.email, r.site, r.locale FROM (${r.text}) AS r
       ON CONFLICT (campaign, customer_id) DO NOTHING
       RETURNING 1)
     SELECT count(*)::int AS n FROM inserted`,
    values,
  );
  return rows[0]!.n;
}

/** materialiseContacts: the lists' contacts who are not customers, in one INSERT … SELECT. */
export async function materialiseContacts(db: Queryable, campaign: string, lists: readonly string[], sites: SiteLocales): Promise<number> {
  if (lists.length === 0) return 0;
  const r = contactRecipientsSql(lists, sites);
  const rows = await db.query<{ n: number }>(
    `WITH inserted AS (
       INSERT INTO herald.messages (campaign, contact_id, email, site, locale)
       SELECT $3, r.contact_id, r.email, r.site, r.locale FROM (${r.text}) AS r
       ON CONFLICT (campaign, contact_id) WHERE contact_id IS NOT NULL DO NOTHING
       RETURNING 1)
     SELECT count(*)::int AS n FROM inserted`,
    [...r.values, campaign],
  );
  return rows[0]!.n;
}

/**
 * requeueAbandoned: rows claimed by a worker that died before recording the
 * result go back to the queue once their claim is older than the lease.
 */
export async function requeueAbandoned(db: Queryable, campaign: string, leaseSeconds: number): Promise<number> {
  const rows = await db.query(
    `UPDATE herald.messages SET status = 'queued', claimed_at = NULL
      WHERE campaign = $1 AND status = 'claimed' AND claimed_at < now() - make_interval(secs => $2)
      RETURNING id`,
    [campaign, leaseSeconds],
  );
  return rows.length;
}

export interface ClaimedMessage {
  id: number;
  /** A shop customer, or (for a list's contact who is not one) null with contact_id set. */
  customer_id: number | null;
  contact_id: number | null;
  email: string;
  site: string;
  locale: string;
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

/**
 * claimBatch: takes up to `limit` queued rows for this worker. SKIP LOCKED lets
 * any number of workers claim side by side without waiting on each other or
 * taking the same row. The claim commits before any SMTP conversation starts.
 *
 * The same statement checks each row's address against herald.suppressions
 * (its site's and all sites'), using the suppressions' key on email: an
 * address suppressed since the audience was materialised (an unsubscribe, a
 * bounce from another campaign) settles as `suppressed` and is never sent.
 */
export async function claimBatch(db: Queryable, campaign: string, schema: string, limit: number, lists: readonly string[] = []): Promise<ClaimedBatch> {
  const rows = await db.query<ClaimedMessage & { status: 'claimed' | 'suppressed' }>(
    `WITH picked AS (
       SELECT q.id,
              EXISTS (SELECT 1 FROM herald.suppressions s
                       WHERE s.email = lower(q.email) AND (s.site IS NULL OR s.site = q.site)) AS suppressed
         FROM herald.messages q
        WHERE q.campaign = $1 AND q.status = 'queued'
        ORDER BY q.id LIMIT $2
        FOR UPDATE SKIP LOCKED),
     claimed AS (
       UPDATE herald.messages m
          SET status = CASE WHEN p.suppressed THEN 'suppressed' ELSE 'claimed' END,
              claimed_at = now(),
              attempts = m.attempts + CASE WHEN p.suppressed THEN 0 ELSE 1 END
         FROM picked p
        WHERE m.id = p.id
        RETURNING m.id, m.customer_id, m.contact_id, m.email, m.site, m.locale, m.status)
     SELECT k.*, coalesce(c.first_name, ct.first_name) AS first_name, coalesce(c.last_name, ct.last_name) AS last_name, c.city, c.country,
            to_char(c.birthday, 'YYYY-MM-DD') AS birthday,
            -- The extra CSV columns of the campaign's lists become customer.* tokens.
            (SELECT lm.tokens FROM herald.list_members lm
              WHERE lm.list = ANY($3::text[]) AND (lm.customer_id = k.customer_id OR lm.contact_id = k.contact_id)
              ORDER BY lm.list LIMIT 1) AS tokens
       FROM claimed k
       LEFT JOIN ${quoteIdent(schema)}.customers c ON c.id = k.customer_id
       LEFT JOIN herald.contacts ct ON ct.id = k.contact_id
      ORDER BY k.id`,
    [campaign, limit, lists],
  );
  const messages: ClaimedMessage[] = [];
  let suppressed = 0;
  for (const { status, ...m } of rows) {
    if (status === 'suppressed') suppressed++;
    else messages.push(m);
  }
  return { messages, suppressed };
}

export interface Outcome {
  id: number;
  status: 'sent' | 'failed';
  response: string;
  messageId: string;
}

/** recordOutcomes: a batch's results in one statement, after the SMTP replies. */
export async function recordOutcomes(db: Queryable, outcomes: Outcome[]): Promise<void> {
  if (outcomes.length === 0) return;
  await db.query(
    `UPDATE herald.messages m
        SET status = o.status, smtp_response = o.response, message_id = o.message_id,
            sent_at = CASE WHEN o.status = 'sent' THEN now() END
       FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS o(id, status, response, message_id)
      WHERE m.id = o.id AND m.status = 'claimed'`,
    [outcomes.map((o) => o.id), outcomes.map((o) => o.status), outcomes.map((o) => o.response), outcomes.map((o) => o.messageId)],
  );
}

/** completeIfDone: the run is completed when no row is left queued or claimed. */
export async function completeIfDone(db: Queryable, campaign: string): Promise<boolean> {
  const rows = await db.query(
    `UPDATE herald.campaign_runs SET phase = 'completed', completed_at = now()
      WHERE campaign = $1 AND phase = 'sending'
        AND NOT EXISTS (SELECT 1 FROM herald.messages WHERE campaign = $1 AND status IN ('queued', 'claimed'))
      RETURNING campaign`,
    [campaign],
  );
  return rows.length === 1;
}

export interface LedgerCounts {
  recipients: number;
  queued: number;
  claimed: number;
  sent: number;
  failed: number;
  suppressed: number;
}

/** ledgerCounts: the report's figures, straight from the ledger. */
export async function ledgerCounts(db: Queryable, campaign: string): Promise<LedgerCounts> {
  const [row] = await db.query<LedgerCounts>(
    `SELECT count(*)::int AS recipients,
            count(*) FILTER (WHERE status = 'queued')::int AS queued,
            count(*) FILTER (WHERE status = 'claimed')::int AS claimed,
            count(*) FILTER (WHERE status = 'sent')::int AS sent,
            count(*) FILTER (WHERE status = 'failed')::int AS failed,
            count(*) FILTER (WHERE status = 'suppressed')::int AS suppressed
       FROM herald.messages WHERE campaign = $1`,
    [campaign],
  );
  return row!;
}

/** runPhase: whether (and how far) the campaign has run. */
export async function runPhase(db: Queryable, campaign: string): Promise<'sending' | 'completed' | undefined> {
  const [row] = await db.query<{ phase: 'sending' | 'completed' }>('SELECT phase FROM herald.campaign_runs WHERE campaign = $1', [campaign]);
  return row?.phase;
}
