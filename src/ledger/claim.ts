import type { Db } from '../db/db.js';
import type { ChannelName } from '../channels/channel.js';
import { quoteIdent } from '../db/ident.js';
import { erasedHashSql } from '../audience/suppressions.js';
import { SESSION_NAMESPACE } from './session.js';
import { SENDING_STATUS, type ContactPolicy, type SourceRef } from './source.js';

/**
 * The claim: how a worker takes due messages of one source, and where the
 * contact policy holds. Two statements in one transaction:
 *
 * 1. pickSql locks the batch's rows (FOR UPDATE SKIP LOCKED) and, for a
 *    source under the frequency cap, tries a per-recipient advisory lock for
 *    each. A row whose recipient another worker is claiming for right now is
 *    left for the next claim, so no two claims for one recipient overlap.
 * 2. settleSql, in a snapshot taken after those locks were granted (so it
 *    sees every claim for these recipients that committed before), settles
 *    each row: `suppressed` (the address was suppressed since), `exited` (the
 *    trigger's event went away: exitSql), deferred to the end of the quiet
 *    hours in the recipient's local time (each channel's own: SMS by day
 *    only), `capped` or deferred over the frequency cap (counted over every
 *    message sent to the recipient on the row's channel, from any source, in
 *    the rolling window, plus those claimed right now), or
 *    `claimed`.
 *
 * Workers coordinate through these statements alone, never through each
 * other: any number of them, on any number of machines.
 */
export interface ClaimedMessage {
  id: number;
  source_kind: SourceRef['kind'];
  source: string;
  /** The channel the row goes through: its address is an email address, a phone number, or `customer:<id>` for push. */
  channel: ChannelName;
  /** A shop customer, or (for a list's contact who is not one) null with contact_id set. */
  customer_id: number | null;
  contact_id: number | null;
  address: string;
  site: string;
  locale: string;
  variant: string | null;
  occurrence: string;
  /** A trigger's event data, as its sweep found it. */
  payload: unknown;
  attempts: number;
  first_attempt_at: Date;
  first_name: string | null;
  last_name: string | null;
  city: string | null;
  country: string | null;
  /** YYYY-MM-DD */
  birthday: string | null;
  /** The customer's (or list contact's) email address, whatever the row's channel: the customer.email token. */
  customer_email: string | null;
  /** The extra CSV columns of the campaign's list this recipient came from. */
  tokens: Record<string, string> | null;
}

/** A claimed batch: the messages to send, and how many rows were settled otherwise. */
export interface ClaimedBatch {
  messages: ClaimedMessage[];
  suppressed: number;
  exited: number;
  capped: number;
  deferred: number;
  /** Picked, but another claim held their recipient's cap lock: left queued, to be claimed again in a moment. */
  busy: number;
  /** Where the next claim of this worker starts (claimBatch). */
  cursor?: ClaimCursor;
}

export interface ClaimInput {
  source: SourceRef;
  schema: string;
  worker: string;
  limit: number;
  leaseSeconds: number;
  now: Date;
  lists?: readonly string[];
  /** The claiming process's session (session.ts): its lock key, recorded with the claim. */
  session: { key: number; outlivesServer: boolean };
  policy: ContactPolicy;
  /** A trigger's exit conditions: a SQL expression over the ledger row `m`, a reason or NULL (src/triggers/). */
  exitSql?: (param: (v: unknown) => string) => string;
  /** Where this worker's last claim of the source ended (claimBatch): the claim starts there. */
  after?: ClaimCursor;
  /** Look from the start of the queue too, and take back (claimBatch). */
  full?: boolean;
  /** Take back claims whose holder is gone or whose lease ran out (claimBatch). */
  takeBack?: boolean;
  /** This worker's rows in flight: never taken back from itself. */
  inFlight?: readonly number[];
}

/** The advisory lock namespace of the frequency cap's per-recipient locks ("herc"). */
export const CAP_NAMESPACE = 0x68657263;

/**
 * Where a worker's last claim of a source ended in the order queued rows
 * fall due (messages_due: next_attempt_at, id). The next claim starts there.
 */
export interface ClaimCursor {
  at: Date;
  id: number;
}

/**
 * claimBatch: takes up to `limit` due rows of a source for this worker, with
 * the contact policy applied (see above). Rows picked but deferred, capped,
 * exited or suppressed are counted, not returned.
 *
 * Its cost stays that of the batch however far a campaign has come and
 * however many dead rows the ledger holds. Every claimed → sent update
 * leaves a dead entry in the partial indexes the claim reads (messages_due,
 * messages_leased), and PostgreSQL may not even mark those dead while any
 * older snapshot is open (a report, a backup) or before vacuum comes by: a
 * scan from the start of either index walks every message sent so far. So
 * a claim picks (pickSql):
 *
 * - due rows from `after`, where this worker's last claim of the source
 *   ended: an index range that starts past the rows already sent;
 * - only when those come up short, or with `full`, due rows from the start
 *   of the index too: rows that fell due before the cursor (a trigger's late
 *   event, a row another claim left behind);
 * - with `takeBack` or `full`, and when the queue came up short, claims
 *   whose holder is gone or whose lease ran out, and this worker's own
 *   claims it never saw.
 * The worker asks for `full` on its first claim of a source and after a
 * claim that failed, and for `takeBack` once per lease period (worker.ts).
 *
 * The new cursor is returned; it does not move past a row left for a moment
 * because another claim held its recipient's cap lock.
 */
export async function claimBatch(db: Db, c: ClaimInput): Promise<ClaimedBatch> {
  return db.transaction(async (tx) => {
    let picked: Picked[] = [];
    const pick = async (part: PickPart, extra: unknown[]) => {
      if (picked.length >= c.limit) return;
      picked = picked.concat(await tx.query<Picked>(pickSql(part), [...pickValues({ ...c, limit: c.limit - picked.length }), ...extra]));
    };
    const takeBack = () => pick('taken_back', [c.worker, c.session.key, c.session.outlivesServer, c.inFlight ?? []]);
    if (c.full || c.takeBack) await takeBack();
    const fromStart = c.full || !c.after;
    if (!fromStart) await pick('cursor', [c.after!.at, c.after!.id]);
    if (fromStart || picked.length < c.limit) await pick('start', [picked.map((p) => p.id)]);
    // Short of a batch: the queue is running dry, so the claims of a gone holder are due now, not at the next lease period.
    if (!(c.full || c.takeBack)) await takeBack();
    const ids = picked.filter((p) => p.free).map((p) => p.id);
    const out: ClaimedBatch = { messages: [], suppressed: 0, exited: 0, capped: 0, deferred: 0, busy: picked.length - ids.length };
    const last = picked.filter((p) => p.due_at !== null).reduce<Picked | undefined>((a, p) => (!a || laterIn(p, a) ? p : a), undefined);
    const cursor = out.busy === 0 && last ? { at: new Date(last.due_at!), id: Number(last.id) } : c.after;
    if (cursor) out.cursor = cursor;
    if (ids.length === 0) return out;
    const values = settleValues(c, ids);
    const text = settleSql(c.schema, c.exitSql ? c.exitSql(paramOf(values)) : 'NULL::text');
    // Planning the settle took longer than running it (2.8 ms a claim against
    // ~4.5 ms, the send bench's PostgreSQL): it is prepared once per
    // connection, with one generic plan, which keys every step on the batch's
    // ids and each row's own recipient, whatever the values. An exit
    // condition is a source's own SQL: the server chooses its plan as usual.
    if (!c.exitSql) await tx.query('SET LOCAL plan_cache_mode = force_generic_plan');
    const rows = await tx.query<ClaimedMessage & { verdict: string }>(text, values, { prepare: true });
    for (const { verdict, ...m } of rows) {
      if (verdict === 'claimed') out.messages.push(m);
      else if (verdict === 'suppressed') out.suppressed++;
      else if (verdict === 'exited') out.exited++;
      else if (verdict === 'capped') out.capped++;
      else out.deferred++;
    }
    return out;
  });
}

/** A picked row: its id, whether its recipient's cap lock was free, and when it fell due (null: taken back from a claim). */
interface Picked {
  id: number;
  free: boolean;
  due_at: Date | string | null;
}

function laterIn(a: Picked, b: Picked): boolean {
  const x = new Date(a.due_at!).getTime();
  const y = new Date(b.due_at!).getTime();
  return x > y || (x === y && Number(a.id) > Number(b.id));
}

function paramOf(values: unknown[]): (v: unknown) => string {
  return (v) => {
    values.push(v);
    return `$${values.length}`;
  };
}

export type PickPart = 'cursor' | 'start' | 'taken_back';

/**
 * pickSql: one part of what a claim takes (claimBatch), locked: SKIP LOCKED
 * lets any number of workers claim side by side without waiting on each
 * other or taking the same row. Nothing is picked while the source's status
 * in force (its deployed spec, or a pause, resume or cancel override) is not
 * its sending one, so a pause takes effect as soon as the next claim.
 * $1 to $7 are pickValues; each part has its own after them.
 *
 * - `cursor`: due queued rows after the cursor ($8, $9) in the order they
 *   fell due: one range of messages_due that starts past what was sent, so
 *   its cost is the batch's, whatever lies before.
 * - `start`: due queued rows from the start of messages_due, but for those
 *   this claim picked already ($8).
 * - `taken_back`: claimed rows whose holder is gone: its lease ran out, or
 *   the session lock its process held (session.ts) is no longer held, so
 *   the process died; and rows claimed under this worker's own name ($8)
 *   that it is not sending ($11): claims it never saw (the connection broke
 *   after the server committed the claim but before the rows reached the
 *   worker). A holder's lock says it lives only for claims made since the
 *   server last started: a restart ends every session, those of live
 *   holders too, so an older claim is taken back only when its lease runs
 *   out. On embedded PGlite (one process) a claim from an earlier start is
 *   always a dead process's.
 * `start` and `taken_back` walk whatever dead entries their index holds,
 * so the worker asks for them only now and then.
 *
 * Every LIMIT is the batch size: the planner must see a small constant (a
 * LIMIT computed from another CTE is planned as 10% of the table, which on
 * a million rows picked merge joins and a second of JIT per claim). Rows
 * scanned beyond the batch are locked only until the claim commits.
 *
 * `free` is false for a row whose recipient another claim holds the cap's
 * lock for: it stays queued for the next claim. `due_at` is the row's
 * next_attempt_at when it came from the queue, for the cursor.
 */
export function pickSql(part: PickPart): string {
  const sendable = `sendable AS (
       SELECT 1 FROM herald.objects o
         LEFT JOIN herald.overrides v ON v.kind = o.kind AND v.name = o.name
        WHERE o.kind = $4 AND o.name = $1 AND o.archived_at IS NULL
          AND coalesce(v.status, o.spec->>'status', $5) = $6)`;
  const picked = (cte: string, dueAt: string) => `
     SELECT p.id, CASE WHEN $7 THEN pg_try_advisory_xact_lock(${CAP_NAMESPACE}, hashtext(coalesce(m.customer_id::text, 'k' || m.contact_id::text)))
                       ELSE true END AS free, ${dueAt} AS due_at
       FROM ${cte} p JOIN herald.messages m ON m.id = p.id
      ORDER BY p.id`;
  if (part === 'taken_back') {
    return `WITH ${sendable},
     -- The advisory locks of live herald sessions (session.ts), read once.
     live AS MATERIALIZED (
       SELECT l.objid FROM pg_locks l
        WHERE l.locktype = 'advisory' AND l.granted AND l.classid = ${SESSION_NAMESPACE}::oid AND l.objsubid = 2
          AND l.database = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())),
     -- Sessions holding claims of this source under a running lease whose
     -- lock nobody holds: their process is gone. Claims made before the
     -- server's last start are left to their lease ($10: PGlite has no such
     -- thing as a holder outliving the server).
     gone AS (
       SELECT DISTINCT q.session_key FROM herald.messages q
        WHERE q.source_kind = $4 AND q.source = $1 AND q.status = 'claimed' AND q.lease_until >= $3 AND q.session_key <> $9
          AND (q.session_epoch = pg_postmaster_start_time() OR NOT $10)
          AND q.session_key::oid NOT IN (SELECT objid FROM live)),
     taken_back AS (
       SELECT q.id FROM herald.messages q
        WHERE q.source_kind = $4 AND q.source = $1 AND q.status = 'claimed' AND EXISTS (SELECT 1 FROM sendable)
          AND (q.lease_until < $3 OR q.worker = $8 OR q.session_key IN (SELECT session_key FROM gone))
          AND q.id <> ALL ($11::bigint[])
        ORDER BY q.lease_until LIMIT $2
        FOR UPDATE SKIP LOCKED)${picked('taken_back', 'NULL::timestamptz')}`;
  }
  const where = part === 'cursor' ? 'AND (q.next_attempt_at, q.id) > ($8::timestamptz, $9::bigint)' : 'AND q.id <> ALL ($8::bigint[])';
  return `WITH ${sendable},
     due AS (
       SELECT q.id, q.next_attempt_at FROM herald.messages q
        WHERE q.source_kind = $4 AND q.source = $1 AND q.status = 'queued' AND q.next_attempt_at <= $3 AND EXISTS (SELECT 1 FROM sendable)
          ${where}
        ORDER BY q.next_attempt_at, q.id LIMIT $2
        FOR UPDATE SKIP LOCKED)${picked('due', 'p.next_attempt_at')}`;
}

/** The values of pickSql, in its order (exported for its plan test). */
export function pickValues(c: Pick<ClaimInput, 'source' | 'limit' | 'now' | 'policy'>): unknown[] {
  const status = SENDING_STATUS[c.source.kind];
  return [c.source.name, c.limit, c.now, c.source.kind, status.default, status.sends, c.policy.cap !== undefined];
}

/**
 * settleSql: settles the picked rows (see the module comment), in one
 * UPDATE, and returns each with its verdict and, for those claimed, what
 * rendering needs of the recipient.
 *
 * Quiet hours: the recipient's local time is now in their site's time zone
 * ($5); inside the window [start, end) (which may span midnight) the row is
 * deferred to the window's end in that zone. The frequency cap ranks a
 * batch's rows per recipient, so two occurrences in one batch count as two.
 * A row deferred over the cap waits until the oldest message in the window
 * leaves it (or an hour, when the window holds only claims in flight).
 */
export function settleSql(schema: string, exitSql: string): string {
  return `WITH p AS (
       SELECT m.id, m.customer_id, m.contact_id, m.channel,
              -- Suppressed for the site or all sites, or erased (by the address's hash,
              -- always for all sites): a batch is small, so the hash is always computed.
              EXISTS (SELECT 1 FROM herald.suppressions s
                       WHERE s.email = ANY (ARRAY[lower(m.address), ${erasedHashSql('m.address')}])
                         AND (s.site IS NULL OR s.site = m.site)) AS suppressed,
              -- An erased address is not kept on the row (src/privacy/erase.ts).
              EXISTS (SELECT 1 FROM herald.suppressions s
                       WHERE s.email = ${erasedHashSql('m.address')} AND s.site IS NULL) AS erased,
              (${exitSql}) AS exit_reason,
              CASE WHEN qh.s IS NULL THEN NULL
                   WHEN qh.s < qh.e THEN
                     CASE WHEN l.t::time >= qh.s AND l.t::time < qh.e THEN (l.t::date + qh.e) AT TIME ZONE l.tz END
                   WHEN l.t::time >= qh.s THEN (l.t::date + 1 + qh.e) AT TIME ZONE l.tz
                   WHEN l.t::time < qh.e THEN (l.t::date + qh.e) AT TIME ZONE l.tz END AS quiet_until
         FROM herald.messages m
         CROSS JOIN LATERAL (SELECT coalesce($5::jsonb ->> m.site, 'UTC') AS tz) z
         CROSS JOIN LATERAL (SELECT $3::timestamptz AT TIME ZONE z.tz AS t, z.tz) l
         -- The quiet hours of the row's channel (SMS has its own, daytime only by default).
         CROSS JOIN LATERAL (SELECT ($6::jsonb -> m.channel ->> 'start')::time AS s, ($6::jsonb -> m.channel ->> 'end')::time AS e) qh
        WHERE m.id = ANY($1::bigint[])),
     r AS (
       SELECT p.*, (NOT p.suppressed AND p.exit_reason IS NULL AND p.quiet_until IS NULL) AS eligible,
              row_number() OVER (PARTITION BY (NOT p.suppressed AND p.exit_reason IS NULL AND p.quiet_until IS NULL), p.customer_id, p.contact_id, p.channel ORDER BY p.id) AS rank
         FROM p),
     c AS (
       SELECT r.*, cap.n, cap.oldest FROM r
       -- One index scan per recipient (messages_contacted, or its contacts'
       -- twin): a customer's and a list contact's messages are counted apart.
       LEFT JOIN LATERAL (
         SELECT sum(x.n)::int AS n, min(x.oldest) AS oldest FROM (
           SELECT count(*) AS n, min(s.sent_at) AS oldest FROM herald.messages s
            WHERE r.customer_id IS NOT NULL AND s.customer_id = r.customer_id AND s.channel = r.channel AND s.status IN ('sent', 'claimed')
              AND (s.sent_at > $3::timestamptz - make_interval(secs => $8) OR (s.status = 'claimed' AND s.id <> ALL ($1::bigint[])))
           UNION ALL
           SELECT count(*), min(s.sent_at) FROM herald.messages s
            WHERE r.contact_id IS NOT NULL AND s.contact_id = r.contact_id AND s.channel = r.channel AND s.status IN ('sent', 'claimed')
              AND (s.sent_at > $3::timestamptz - make_interval(secs => $8) OR (s.status = 'claimed' AND s.id <> ALL ($1::bigint[])))) AS x
       ) AS cap ON $7::int IS NOT NULL AND r.eligible),
     d AS (
       SELECT c.id, c.exit_reason, c.quiet_until, c.oldest, c.erased,
              CASE WHEN c.suppressed THEN 'suppressed'
                   WHEN c.exit_reason IS NOT NULL THEN 'exited'
                   WHEN c.quiet_until IS NOT NULL THEN 'quiet hours'
                   WHEN $7::int IS NOT NULL AND c.n + c.rank > $7::int THEN CASE WHEN $9 THEN 'capped' ELSE 'frequency cap' END
                   ELSE 'claimed' END AS verdict
         FROM c),
     settled AS (
       UPDATE herald.messages m
          SET status = CASE WHEN d.verdict IN ('quiet hours', 'frequency cap') THEN 'queued' ELSE d.verdict END,
              address = CASE WHEN d.verdict = 'suppressed' AND d.erased THEN NULL ELSE m.address END,
              reason = CASE WHEN d.verdict = 'suppressed' AND d.erased THEN 'erased on request'
                            ELSE CASE d.verdict WHEN 'suppressed' THEN 'suppressed after the audience was drawn'
                                      WHEN 'exited' THEN d.exit_reason
                                      WHEN 'capped' THEN $10
                                      ELSE m.reason END END,
              next_attempt_at = CASE d.verdict WHEN 'quiet hours' THEN d.quiet_until
                                               WHEN 'frequency cap' THEN greatest(coalesce(d.oldest + make_interval(secs => $8), $3::timestamptz + interval '1 hour'), $3::timestamptz + interval '1 minute')
                                               ELSE m.next_attempt_at END,
              deferrals = m.deferrals + CASE WHEN d.verdict IN ('quiet hours', 'frequency cap') THEN 1 ELSE 0 END,
              deferred_reason = CASE WHEN d.verdict IN ('quiet hours', 'frequency cap') THEN d.verdict ELSE m.deferred_reason END,
              worker = CASE WHEN d.verdict IN ('quiet hours', 'frequency cap') THEN NULL ELSE $2 END,
              lease_until = CASE WHEN d.verdict = 'claimed' THEN $3::timestamptz + make_interval(secs => $4) END,
              session_key = CASE WHEN d.verdict = 'claimed' THEN $11 ELSE m.session_key END,
              session_epoch = CASE WHEN d.verdict = 'claimed' THEN pg_postmaster_start_time() ELSE m.session_epoch END,
              claimed_at = CASE WHEN d.verdict = 'claimed' THEN $3 ELSE m.claimed_at END,
              first_attempt_at = CASE WHEN d.verdict = 'claimed' THEN coalesce(m.first_attempt_at, $3) ELSE m.first_attempt_at END,
              attempts = m.attempts + CASE WHEN d.verdict = 'claimed' THEN 1 ELSE 0 END
         FROM d
        WHERE m.id = d.id
        RETURNING m.id, m.source_kind, m.source, m.channel, m.customer_id, m.contact_id, m.address, m.site, m.locale, m.variant,
                  m.occurrence, m.payload, m.attempts, m.first_attempt_at, d.verdict)
     SELECT k.*, coalesce(c.first_name, ct.first_name) AS first_name, coalesce(c.last_name, ct.last_name) AS last_name,
            c.city, c.country, to_char(c.birthday, 'YYYY-MM-DD') AS birthday, coalesce(c.email, ct.email) AS customer_email,
            -- The extra CSV columns of the campaign's lists become customer.* tokens.
            (SELECT lm.tokens FROM herald.list_members lm
              WHERE lm.list = ANY($12::text[]) AND (lm.customer_id = k.customer_id OR lm.contact_id = k.contact_id)
              ORDER BY lm.list LIMIT 1) AS tokens
       FROM settled k
       LEFT JOIN ${quoteIdent(schema)}.customers c ON c.id = k.customer_id AND k.verdict = 'claimed'
       LEFT JOIN herald.contacts ct ON ct.id = k.contact_id AND k.verdict = 'claimed'
      ORDER BY k.id`;
}

function settleValues(c: ClaimInput, ids: number[]): unknown[] {
  const { cap } = c.policy;
  return [
    ids,
    c.worker,
    c.now,
    c.leaseSeconds,
    JSON.stringify(c.policy.timezones),
    // A policy made without per-channel windows (by hand) holds its one window for email.
    JSON.stringify(c.policy.quietByChannel ?? (c.policy.quiet ? { email: c.policy.quiet } : {})),
    cap?.max ?? null,
    cap?.perSeconds ?? 0,
    cap?.whenCapped === 'skip',
    cap ? `frequency cap: ${cap.max} per ${humanSeconds(cap.perSeconds)}` : null,
    c.session.key,
    c.lists ?? [],
  ];
}

function humanSeconds(s: number): string {
  if (s % 86400 === 0) return `${s / 86400}d`;
  if (s % 3600 === 0) return `${s / 3600}h`;
  return `${s / 60}m`;
}
