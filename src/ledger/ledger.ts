import type { Queryable } from '../db/db.js';
import type { SourceRef } from './source.js';
import type { LinkSet } from '../links/rewrite.js';

/**
 * The message ledger: named queries over herald.messages, for every source
 * (campaigns and triggers) alike. Rows are added by materialise.ts, claimed
 * by claim.ts, and settled here. Every state change of a message is one of
 * these statements; workers coordinate through them alone (row locks with
 * SKIP LOCKED, leases), never through each other.
 *
 * Row states: queued → claimed (leased to a worker) → sent | failed | bounced
 * | expired | unknown, or back to queued for a retry (or a deferral: quiet
 * hours, the frequency cap); `suppressed` (left out at materialisation with
 * its reason, or found suppressed at claim time), `control` (held out, never
 * sent), `waiting` (the rest of an A/B test's audience, until the winner is
 * decided), `capped` (over the frequency cap, skipped) and `exited` (a
 * trigger's event went away before the claim).
 */

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

/**
 * unclaim: a worker gives back rows it claimed and never sent (a batch
 * claimed ahead whose source stopped sending, or that the worker stopped
 * before): queued again as they were, due when they were, the claim's
 * attempt not counted.
 */
export async function unclaim(db: Queryable, worker: string, ids: readonly number[]): Promise<void> {
  if (ids.length === 0) return;
  await db.query(
    `UPDATE herald.messages
        SET status = 'queued', worker = NULL, lease_until = NULL, attempts = attempts - 1,
            first_attempt_at = CASE WHEN attempts = 1 THEN NULL ELSE first_attempt_at END
      WHERE id = ANY($2::bigint[]) AND worker = $1 AND status = 'claimed'`,
    [worker, ids],
  );
}

export interface Outcome {
  id: number;
  status: 'sent' | 'failed' | 'bounced' | 'expired' | 'unknown' | 'queued';
  response: string;
  messageId: string;
  /** For a retry (status queued): when it is due. */
  nextAttemptAt?: Date;
  /** A sent message's click-tracked links (recorded in herald.link_sets). */
  linkSet?: LinkSet;
}

/**
 * recordOutcomes: results in one statement, as they come in (recorder.ts
 * groups the replies of ~100 ms), prepared: a send runs it several times a
 * batch.
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
    { prepare: true },
  );
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
  /** Over the frequency cap, skipped. */
  capped: number;
  /** A trigger's event went away before the message was claimed (the cart was ordered, …). */
  exited: number;
  /** Put off at least once by quiet hours or the frequency cap (whatever happened next). */
  deferred: number;
}

/** ledgerCounts: the report's figures, straight from the ledger. */
export async function ledgerCounts(db: Queryable, source: SourceRef): Promise<LedgerCounts> {
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
            count(*) FILTER (WHERE status = 'suppressed' AND worker IS NOT NULL)::int AS suppressed,
            count(*) FILTER (WHERE status = 'capped')::int AS capped,
            count(*) FILTER (WHERE status = 'exited')::int AS exited,
            count(*) FILTER (WHERE deferrals > 0)::int AS deferred
       FROM herald.messages WHERE source_kind = $1 AND source = $2`,
    [source.kind, source.name],
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
export async function retryReason(db: Queryable, source: SourceRef): Promise<RetryReason | undefined> {
  const [row] = await db.query<{ response: string; count: number; waiting: number; next_attempt_at: Date }>(
    `SELECT smtp_response AS response, count(*)::int AS count,
            sum(count(*)) OVER ()::int AS waiting,
            min(min(next_attempt_at)) OVER () AS next_attempt_at
       FROM herald.messages
      WHERE source_kind = $1 AND source = $2 AND status = 'queued' AND attempts > 0
      GROUP BY smtp_response
      ORDER BY count(*) DESC, smtp_response
      LIMIT 1`,
    [source.kind, source.name],
  );
  return row ? { response: row.response ?? 'no reply', count: row.count, waiting: row.waiting, nextAttemptAt: new Date(row.next_attempt_at) } : undefined;
}


/** How many rows were left unsent, or put off, for one reason. */
export interface ReasonCount {
  /** skipped: capped, exited or suppressed at claim; deferred: put off by quiet hours or the cap. */
  kind: 'capped' | 'exited' | 'suppressed' | 'deferred';
  reason: string;
  count: number;
}

/**
 * reasonCounts: the report's "skipped and deferred, by reason": rows settled
 * without sending at claim time, and rows put off at least once, grouped by
 * why (the last deferral's reason for those put off).
 */
export async function reasonCounts(db: Queryable, source: SourceRef): Promise<ReasonCount[]> {
  return db.query<ReasonCount>(
    `SELECT kind, reason, count(*)::int AS count FROM (
       SELECT status AS kind, coalesce(reason, status) AS reason FROM herald.messages
        WHERE source_kind = $1 AND source = $2 AND (status IN ('capped', 'exited') OR (status = 'suppressed' AND worker IS NOT NULL))
       UNION ALL
       SELECT 'deferred', deferred_reason FROM herald.messages
        WHERE source_kind = $1 AND source = $2 AND deferrals > 0) AS x
      GROUP BY kind, reason
      ORDER BY kind, count(*) DESC, reason`,
    [source.kind, source.name],
  );
}

/** A source's ledger per day (the day a row became due, else was added, in UTC): for a trigger's report. */
export interface DayCounts {
  /** YYYY-MM-DD */
  day: string;
  occurrences: number;
  sent: number;
  capped: number;
  exited: number;
  deferred: number;
  suppressed: number;
  failed: number;
  pending: number;
}

/** dailyCounts: a source's rows per day, oldest first. */
export async function dailyCounts(db: Queryable, source: SourceRef): Promise<DayCounts[]> {
  return db.query<DayCounts>(
    `SELECT to_char(coalesce(due_at, created_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day,
            count(*)::int AS occurrences,
            count(*) FILTER (WHERE status = 'sent')::int AS sent,
            count(*) FILTER (WHERE status = 'capped')::int AS capped,
            count(*) FILTER (WHERE status = 'exited')::int AS exited,
            count(*) FILTER (WHERE deferrals > 0)::int AS deferred,
            count(*) FILTER (WHERE status = 'suppressed')::int AS suppressed,
            count(*) FILTER (WHERE status IN ('failed', 'bounced', 'expired', 'unknown'))::int AS failed,
            count(*) FILTER (WHERE status IN ('queued', 'claimed', 'waiting'))::int AS pending
       FROM herald.messages WHERE source_kind = $1 AND source = $2
      GROUP BY 1 ORDER BY 1`,
    [source.kind, source.name],
  );
}

/**
 * exitQueued: a source's still-queued rows settle `exited` with the reason,
 * in one UPDATE on messages_due's partial index (a trigger that was paused).
 * Claimed rows are the claim's to settle. Returns how many settled.
 */
export async function exitQueued(db: Queryable, source: SourceRef, reason: string): Promise<number> {
  const rows = await db.query(
    "UPDATE herald.messages SET status = 'exited', reason = $3 WHERE source_kind = $1 AND source = $2 AND status = 'queued' RETURNING 1",
    [source.kind, source.name, reason],
  );
  return rows.length;
}

/** releaseWaiting: an A/B test decided, the rest of the campaign's audience is queued with the winning variant. */
export async function releaseWaiting(db: Queryable, campaign: string, variant: string, now: Date): Promise<void> {
  await db.query(
    "UPDATE herald.messages SET status = 'queued', variant = $2, next_attempt_at = $3 WHERE source_kind = 'campaign' AND source = $1 AND status = 'waiting'",
    [campaign, variant, now],
  );
}

/**
 * recordLinkSets: the link sets of sent messages, by hash, each stored once
 * whoever sends it first. The tracking server redirects a click to what is
 * stored here and nowhere else.
 */
export async function recordLinkSets(db: Queryable, sets: readonly LinkSet[]): Promise<void> {
  if (sets.length === 0) return;
  await db.query(
    `INSERT INTO herald.link_sets (hash, urls)
     SELECT s->>'hash', ARRAY(SELECT jsonb_array_elements_text(s->'urls'))
       FROM jsonb_array_elements($1::jsonb) AS s
     ON CONFLICT (hash) DO NOTHING`,
    [JSON.stringify(sets)],
  );
}
