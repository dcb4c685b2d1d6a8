import type { Db, Queryable } from '../db/db.js';
import { durationMs } from '../audience/duration.js';
import { pauseByHerald, type OverrideKind } from '../state/overrides.js';
import type { Project } from '../workspace/model.js';
import type { BounceClass } from './dsn.js';
import type { TrackingLink } from '../links/tracking.js';
import { unsubscribe, unsubscribeTarget } from './unsubscribe.js';
import { countAndTrip } from '../ledger/breaker.js';

/**
 * The one place where feedback becomes ledger facts: bounces and complaints
 * from DSNs, ARF reports and ESP webhooks, and unsubscribes by mail. Every
 * reader (mailbox files, IMAP, each webhook) turns what it got into
 * Feedback items; applyFeedback does the rest, set-based, in one transaction:
 *
 * - an event on the ledger message (herald.message_events, kind bounce,
 *   soft_bounce, complaint or unsubscribe), once per message and kind however
 *   often it is reported (message_events_once), so a re-import changes nothing;
 * - a hard bounce (5.1.x): the message becomes `bounced` with the reason, and
 *   its address is suppressed (`bounced`) for the message's site;
 * - a policy refusal (5.7.x): recorded only; it says nothing about the address;
 * - a soft bounce (4.x.x, or a 5.x.x that is neither): counted; once an address
 *   has bounces.soft_limit of them within bounces.soft_window it is
 *   suppressed as bounced. Older ones fall out of the window: that is the decay;
 * - a complaint: the address is suppressed (`complained`) for every site,
 *   from all marketing at once; and a campaign or trigger whose complaints
 *   reach tracking.complaint_threshold of what it sent (and at least
 *   tracking.complaint_min) is paused with the reason, as the circuit breaker
 *   pauses one (src/ledger/worker.ts);
 * - an unsubscribe: the address is suppressed (`unsubscribed`) for the message's site.
 */
export type Origin = 'dsn' | 'arf' | 'mailto' | 'ses' | 'sendgrid' | 'mailgun' | 'postmark';

/** How a report names its message; the strongest one given wins. */
export interface MessageRef {
  /** A ledger id from a signed VERP address or token: already verified. */
  message?: number;
  /** The returned message's Message-ID, `<source>.<ledger id>@domain`: checked against the ledger. */
  messageId?: string;
  /** Only the recipient's address (some webhooks): the latest message sent to it. */
  email?: string;
  /**
   * An unsubscribe token that names the recipient, not a message: sent
   * before messages carried ids (still in inboxes), or by a test send.
   * Already verified.
   */
  recipient?: RecipientLink;
}

type RecipientLink = Extract<TrackingLink, { kind: 'unsubscribe-recipient' }>;

export interface FeedbackEvent {
  kind: 'bounce' | 'soft_bounce' | 'complaint' | 'unsubscribe';
  origin: Origin;
  /** Where it came from, for the summary: a file and message number, a webhook's event id. */
  where: string;
  ref: MessageRef;
  /** Why ref is empty, when the reader found nothing to name a message by. */
  why?: string;
  class?: BounceClass;
  status?: string;
  diagnostic?: string;
  /** The address the report names (may be a forwarding target, or redacted). */
  recipient?: string;
  feedbackType?: string;
  /** How it arrived: import, imap, webhook. */
  via?: string;
  /** When it happened, as the report says; now when it says nothing usable. */
  at?: Date;
}

/** Something read and deliberately left alone: an autoresponder, a not-spam report, a mail that is none of these. */
export interface Ignored {
  kind: 'ignored';
  where: string;
  why: string;
}

export type Feedback = FeedbackEvent | Ignored;

export interface FeedbackSummary {
  /** Reports that named a ledger message. */
  matched: number;
  /** Events newly recorded, by kind; a report seen before records nothing. */
  recorded: Record<FeedbackEvent['kind'], number>;
  unmatched: { where: string; why: string }[];
  suppressed: { email: string; site: string | null; reason: string }[];
  paused: { kind: OverrideKind; name: string; reason: string }[];
  ignored: { where: string; why: string }[];
}

export interface ApplyOptions {
  clock?: () => Date;
}

export function emptySummary(): FeedbackSummary {
  return { matched: 0, recorded: { bounce: 0, soft_bounce: 0, complaint: 0, unsubscribe: 0 }, unmatched: [], suppressed: [], paused: [], ignored: [] };
}

interface Target {
  i: number;
  id: string;
  address: string | null;
  site: string;
  source_kind: OverrideKind;
  source: string;
  message_id: string | null;
}

export async function applyFeedback(db: Db, project: Project, items: readonly Feedback[], opts: ApplyOptions = {}): Promise<FeedbackSummary> {
  const now = (opts.clock ?? (() => new Date()))();
  const summary = emptySummary();
  const events: FeedbackEvent[] = [];
  for (const f of items) {
    if (f.kind === 'ignored') summary.ignored.push({ where: f.where, why: f.why });
    else if (f.ref.recipient) await unsubscribeRecipient(db, project, f, f.ref.recipient, summary, now);
    else if (!f.ref.message && !f.ref.messageId && !f.ref.email) summary.unmatched.push({ where: f.where, why: f.why ?? 'names no message herald sent' });
    else events.push(f);
  }
  const targets = await resolve(db, events);
  const matched: { f: FeedbackEvent; m: Target }[] = [];
  events.forEach((f, i) => {
    const m = targets.get(i);
    const why = m ? mismatch(f, m) : f.ref.message || f.ref.messageId ? 'its message is not in the ledger' : `no message was sent to ${f.ref.email}`;
    if (why) summary.unmatched.push({ where: f.where, why });
    else matched.push({ f, m: m! });
  });
  summary.matched += matched.length;
  if (matched.length === 0) return summary;

  const { complainedSources, refusals } = await db.transaction(async (tx) => {
    const recorded = await recordEvents(tx, matched, now);
    // Once per message and kind: the same report twice in one batch is recorded, and acted on, once.
    const fresh = matched.filter(({ f, m }) => recorded.delete(`${m.id}:${f.kind}`));
    for (const { f } of fresh) summary.recorded[f.kind]++;
    const hard = fresh.filter(({ f }) => f.kind === 'bounce' && f.class === 'hard');
    await markBounced(tx, hard.map(({ f, m }) => ({ id: m.id, reason: reasonOf(f) })));
    const suppress: Suppress[] = [];
    for (const { f, m } of fresh) {
      if (!m.address) continue;
      const email = m.address.toLowerCase();
      if (f.kind === 'bounce' && f.class === 'hard') suppress.push({ email, site: null, reason: 'bounced', source: f.origin, note: reasonOf(f) });
      else if (f.kind === 'complaint') suppress.push({ email, site: null, reason: 'complained', source: f.origin, note: `${clean(f.feedbackType, 40) ?? 'abuse'} report about ${m.source_kind} ${m.source}` });
      else if (f.kind === 'unsubscribe') suppress.push({ email, site: m.site, reason: 'unsubscribed', source: f.origin, note: `by mail, about ${m.source_kind} ${m.source}` });
    }
    const soft = [...new Set(fresh.filter(({ f }) => f.kind === 'soft_bounce' || f.class === 'other').flatMap(({ m }) => (m.address ? [m.address.toLowerCase()] : [])))];
    suppress.push(...(await softOverLimit(tx, project, soft, now)));
    summary.suppressed.push(...(await addSuppressions(tx, suppress)));
    return {
      complainedSources: uniqueSources(fresh.filter(({ f }) => f.kind === 'complaint').map(({ m }) => m)),
      refusals: countBySource(fresh.filter(({ f }) => f.kind === 'bounce' && f.class === 'policy').map(({ m }) => m)),
    };
  });
  summary.paused.push(...(await pauseOnComplaints(db, project, complainedSources)));
  // A 5.7.x reported later (a relay accepted the message, the destination refused it) counts towards the circuit breaker as one in the SMTP conversation does.
  for (const { kind, name, n } of refusals) {
    const reason = await countAndTrip(db, project, { kind, name }, 0, n);
    if (reason) summary.paused.push({ kind, name, reason });
  }
  return summary;
}

function countBySource(ms: readonly Target[]): { kind: OverrideKind; name: string; n: number }[] {
  const counts = new Map<string, { kind: OverrideKind; name: string; n: number }>();
  for (const m of ms) {
    const key = `${m.source_kind}\0${m.source}`;
    const c = counts.get(key) ?? { kind: m.source_kind, name: m.source, n: 0 };
    c.n++;
    counts.set(key, c);
  }
  return [...counts.values()];
}

/** A Message-ID that does not match what the ledger recorded names some other message: refuse it. */
function mismatch(f: FeedbackEvent, m: Target): string | undefined {
  if (f.ref.message === undefined && f.ref.messageId && normaliseMessageId(f.ref.messageId) !== normaliseMessageId(m.message_id ?? '')) {
    return `Message-ID ${f.ref.messageId} is not the one ledger message ${m.id} was sent with`;
  }
  return undefined;
}

export function normaliseMessageId(id: string): string {
  return `<${id.trim().replace(/^<|>$/g, '').toLowerCase()}>`;
}

/** The ledger id in herald's Message-ID, `<source>.<ledger id>.<tag>@domain` (`<source>.<ledger id>@domain` before tags). */
export function ledgerIdOfMessageId(id: string): number | undefined {
  const m = /\.(\d{1,15})(?:\.[0-9a-f]{12})?@[^@\s>]+>?\s*$/.exec(id.trim());
  const n = m ? Number(m[1]) : NaN;
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

function reasonOf(f: FeedbackEvent): string {
  return clean(`${f.origin}: ${[f.status, f.diagnostic].filter(Boolean).join(' ')}`, 500);
}

/**
 * Text from a report, fit to store: PostgreSQL takes no NUL in text or
 * jsonb, and one hostile DSN must not fail the batch it came in (a mailbox
 * would then be read again and fail again, tick after tick).
 */
function clean(text: string, max: number): string;
function clean(text: string | undefined, max: number): string | undefined;
function clean(text: string | undefined, max: number): string | undefined {
  return text === undefined ? undefined : text.replace(/\u0000/g, '').slice(0, max);
}

/**
 * resolve: each event's reference to its ledger message, in one statement. A
 * ledger id (from a VERP address, a token or a Message-ID) is looked up by
 * key; an address alone takes the latest message sent to it, which scans
 * the ledger by address: only webhooks that carry nothing better use it.
 */
async function resolve(db: Queryable, events: readonly FeedbackEvent[]): Promise<Map<number, Target>> {
  if (events.length === 0) return new Map();
  const ids = events.map((f) => f.ref.message ?? (f.ref.messageId ? ledgerIdOfMessageId(f.ref.messageId) : undefined) ?? null);
  const rows = await db.query<Target>(
    `SELECT r.i, m.id::text AS id, m.address, m.site, m.source_kind, m.source, m.message_id
       FROM unnest($1::int[], $2::bigint[], $3::text[]) AS r(i, id, email)
       CROSS JOIN LATERAL (
         SELECT * FROM herald.messages m WHERE r.id IS NOT NULL AND m.id = r.id
         UNION ALL
         (SELECT * FROM herald.messages m
           WHERE r.id IS NULL AND m.address = lower(r.email) AND m.sent_at IS NOT NULL
           ORDER BY m.sent_at DESC LIMIT 1)) m`,
    [events.map((_, i) => i), ids, events.map((f) => clean(f.ref.email, 320) ?? null)],
  );
  return new Map(rows.map((r) => [Number(r.i), r]));
}

/** recordEvents: one event per message and kind (message_events_once); returns those that are new. */
async function recordEvents(tx: Queryable, matched: readonly { f: FeedbackEvent; m: Target }[], now: Date): Promise<Set<string>> {
  const rows = await tx.query<{ message_id: string; kind: string }>(
    `INSERT INTO herald.message_events (message_id, kind, origin, detail, at)
     SELECT id, kind, origin, detail::jsonb, at FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::timestamptz[]) AS x(id, kind, origin, detail, at)
     ON CONFLICT (message_id, kind, coalesce(order_id, '')) WHERE kind IN ('order', 'unsubscribe', 'bounce', 'soft_bounce', 'complaint') DO NOTHING
     RETURNING message_id::text, kind`,
    [
      matched.map(({ m }) => m.id),
      matched.map(({ f }) => f.kind),
      matched.map(({ f }) => f.origin),
      matched.map(({ f }) => JSON.stringify(detailOf(f))),
      matched.map(({ f }) => whenOf(f, now)),
    ],
  );
  return new Set(rows.map((r) => `${r.message_id}:${r.kind}`));
}

/** Nothing herald sent is older than this: a report dated before it is wrong, not old. */
const EARLIEST_REPORT = Date.UTC(2000, 0, 1);

/**
 * When the report says it happened, if that is usable: a date that is no
 * date, in the future, or absurdly old (one PostgreSQL cannot even store,
 * year -100000) is taken as now, the time it arrived, as clean() does for a
 * NUL: one bad event must not fail the batch it came in.
 */
function whenOf(f: FeedbackEvent, now: Date): Date {
  const t = f.at?.getTime() ?? NaN;
  return f.at && t >= EARLIEST_REPORT && t <= now.getTime() ? f.at : now;
}

function detailOf(f: FeedbackEvent): Record<string, string> {
  const d: Record<string, string | undefined> = {
    class: f.class,
    status: clean(f.status, 20),
    diagnostic: clean(f.diagnostic, 1000),
    recipient: clean(f.recipient, 320),
    feedback_type: clean(f.feedbackType, 40),
    via: f.via,
  };
  return Object.fromEntries(Object.entries(d).filter((e): e is [string, string] => e[1] !== undefined));
}

/** markBounced: a sent message that hard-bounced later is `bounced`, with the reason; other statuses stay. */
async function markBounced(tx: Queryable, rows: readonly { id: string; reason: string }[]): Promise<void> {
  if (rows.length === 0) return;
  await tx.query(
    `UPDATE herald.messages m SET status = 'bounced', reason = b.reason
       FROM unnest($1::bigint[], $2::text[]) AS b(id, reason)
      WHERE m.id = b.id AND m.status = 'sent'`,
    [rows.map((r) => r.id), rows.map((r) => r.reason)],
  );
}

interface Suppress {
  email: string;
  site: string | null;
  reason: 'bounced' | 'complained' | 'unsubscribed';
  source: string;
  note: string;
}

/**
 * softOverLimit: addresses whose soft bounces within the window reach the
 * limit: suppressed for every site, as a mailbox is the same whichever site
 * writes to it (a hard bounce in the SMTP conversation is too). It reads the
 * window's bounce events (message_events_kind_at), not the ledger by address.
 */
async function softOverLimit(tx: Queryable, project: Project, addresses: readonly string[], now: Date): Promise<Suppress[]> {
  if (addresses.length === 0) return [];
  const limit = project.bounces?.soft_limit ?? 3;
  const window = project.bounces?.soft_window ?? '30d';
  const rows = await tx.query<{ email: string; n: string }>(
    `SELECT lower(m.address) AS email, count(*) AS n
       FROM herald.message_events e JOIN herald.messages m ON m.id = e.message_id
      WHERE e.kind IN ('soft_bounce', 'bounce') AND e.at > $2::timestamptz
        AND (e.kind = 'soft_bounce' OR e.detail->>'class' = 'other')
        AND lower(m.address) = ANY($1::text[])
      GROUP BY lower(m.address)
     HAVING count(*) >= $3`,
    [addresses, new Date(now.getTime() - durationMs(window)), limit],
  );
  return rows.map((r) => ({ email: r.email, site: null, reason: 'bounced' as const, source: 'soft-bounces', note: `${r.n} soft bounces within ${window}` }));
}

/** addSuppressions: like suppressBounced (src/audience/suppressions.ts), any reason, with the log, in one statement. */
async function addSuppressions(tx: Queryable, s: readonly Suppress[]): Promise<FeedbackSummary['suppressed']> {
  if (s.length === 0) return [];
  return tx.query<{ email: string; site: string | null; reason: string }>(
    `WITH s AS (
       SELECT DISTINCT ON (email, coalesce(site, '')) email, site, reason, source, note
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS x(email, site, reason, source, note)),
     added AS (
       INSERT INTO herald.suppressions (email, site, reason, source, note, created_by)
       SELECT email, site, reason, source, note, 'herald' FROM s
       ON CONFLICT (email, coalesce(site, '')) DO NOTHING
       RETURNING email, site, reason, source, note),
     logged AS (
       INSERT INTO herald.suppression_events (action, email, site, reason, source, note, actor)
       SELECT 'add', email, site, reason, source, note, 'herald' FROM added)
     SELECT email, site, reason FROM added ORDER BY email, site NULLS FIRST`,
    [s.map((x) => x.email), s.map((x) => x.site), s.map((x) => x.reason), s.map((x) => x.source), s.map((x) => x.note)],
  );
}

function uniqueSources(ms: readonly Target[]): { kind: OverrideKind; name: string }[] {
  const seen = new Map<string, { kind: OverrideKind; name: string }>();
  for (const m of ms) seen.set(`${m.source_kind}\0${m.source}`, { kind: m.source_kind, name: m.source });
  return [...seen.values()];
}

/**
 * The complaint rate of each source that just got a complaint: complaints
 * over the messages it sent. At tracking.complaint_threshold (0.3%, Gmail's
 * line) and at least tracking.complaint_min complaints the source is paused
 * with the reason, as `herald pause` would; `herald resume` continues it.
 */
async function pauseOnComplaints(db: Queryable, project: Project, sources: readonly { kind: OverrideKind; name: string }[]): Promise<FeedbackSummary['paused']> {
  if (sources.length === 0) return [];
  const min = project.tracking?.complaint_min ?? 3;
  const rate = Number((project.tracking?.complaint_threshold ?? '0.3%').slice(0, -1)) / 100;
  const rows = await db.query<{ kind: OverrideKind; name: string; sent: string; complaints: string }>(
    `SELECT s.kind, s.name,
            (SELECT count(*) FROM herald.messages m WHERE m.source_kind = s.kind AND m.source = s.name AND m.sent_at IS NOT NULL) AS sent,
            (SELECT count(*) FROM herald.message_events e JOIN herald.messages m ON m.id = e.message_id
              WHERE e.kind = 'complaint' AND m.source_kind = s.kind AND m.source = s.name) AS complaints
       FROM unnest($1::text[], $2::text[]) AS s(kind, name)`,
    [sources.map((s) => s.kind), sources.map((s) => s.name)],
  );
  const paused: FeedbackSummary['paused'] = [];
  for (const r of rows) {
    const complaints = Number(r.complaints);
    const sent = Number(r.sent);
    if (complaints < min || complaints < rate * sent) continue;
    const reason = `complaint rate: ${complaints} complaints of ${sent} sent (${((100 * complaints) / Math.max(sent, 1)).toFixed(2)}%), at or over ${project.tracking?.complaint_threshold ?? '0.3%'}`;
    if (await pauseByHerald(db, { kind: r.kind, name: r.name, reason, action: 'paused for complaints' })) paused.push({ kind: r.kind, name: r.name, reason });
  }
  return paused;
}

/**
 * An unsubscribe by mail whose token names the recipient rather than a
 * message (links from before messages carried ids, still in inboxes):
 * honoured as the tracking server honours the same link, for its site.
 */
async function unsubscribeRecipient(db: Db, project: Project, f: FeedbackEvent, link: RecipientLink, summary: FeedbackSummary, now: Date): Promise<void> {
  const target = await unsubscribeTarget(db, project, link);
  if (!target) {
    summary.unmatched.push({ where: f.where, why: `the unsubscribe names ${link.customer !== null ? `customer ${link.customer}` : `contact ${link.contact}`}, whom neither the shop nor herald knows` });
    return;
  }
  summary.matched++;
  const { added } = await unsubscribe(db, target, 'mailto', whenOf(f, now));
  // No message, so no event: what it records is the suppression, once.
  if (!added) return;
  summary.recorded.unsubscribe++;
  summary.suppressed.push({ email: target.email, site: target.site, reason: 'unsubscribed' });
}
