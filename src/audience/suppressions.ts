import { ADDRESS } from './address.js';
import type { Queryable } from '../db/db.js';
import { UserError } from '../errors.js';

/**
 * The suppression list: named queries over herald.suppressions and its log,
 * herald.suppression_events. A suppressed address gets no campaign (for its
 * site, or for every site when `site` is null): audiences leave it out
 * (recipients.ts) and send checks again when it claims a message (src/ledger/claim.ts).
 * Each change writes its event in the same statement, so no change goes
 * unrecorded and no event describes a change that did not happen.
 */
export const REASONS = ['unsubscribed', 'bounced', 'complained', 'manual'] as const;
/** `erased` is never given by hand: `herald customer erase` writes it (src/privacy/). */
export type SuppressionReason = (typeof REASONS)[number] | 'erased';

/**
 * An erased person's suppression names them by a one-way hash of their
 * address, `sha256:<hex of sha256(lower(btrim(address)))>`, for all sites:
 * herald keeps no address of theirs, yet never mails it again. The hash is
 * computed in SQL only, so the erase and every check agree on what lower()
 * means for any address.
 */
export function erasedHashSql(address: string): string {
  return `('sha256:' || encode(sha256(convert_to(lower(btrim(${address})), 'UTF8')), 'hex'))`;
}

/**
 * Whether the address was erased, for a statement over many recipients:
 * the first EXISTS is uncorrelated, an InitPlan evaluated once per
 * statement, and while no erased suppression exists it is false and the
 * hash is never computed (AND evaluates in order). When some exist, the
 * second is a hashed SubPlan: one sha256 and one hash probe per recipient.
 */
export function erasedSql(address: string): string {
  return `(EXISTS (SELECT 1 FROM herald.suppressions WHERE reason = 'erased')
           AND ${erasedHashSql(address)} IN (SELECT x.email FROM herald.suppressions x WHERE x.reason = 'erased' AND x.site IS NULL))`;
}

export interface Suppression {
  email: string;
  /** null: every site. */
  site: string | null;
  reason: SuppressionReason;
  source: string;
  note: string | null;
  createdAt: string;
  createdBy: string;
}


/** An address as stored: trimmed and lower-cased. Anything that is not an address is the user's mistake. */
export function normaliseEmail(text: string): string {
  const email = text.trim().toLowerCase();
  if (!ADDRESS.test(email)) throw new UserError(`"${text}" is not an email address`, 'write it as name@example.com');
  return email;
}

/**
 * An address for `herald suppress`: an email address (lower-cased), or a
 * phone number in E.164 (`+4915112345678`, spaces allowed) for SMS, as a STOP
 * reply records it.
 */
export function normaliseAddress(text: string): { email: string; channel: 'email' | 'sms' } {
  const phone = text.replace(/[\s().-]/g, '');
  if (phone.startsWith('+')) {
    if (!/^\+[1-9][0-9]{6,14}$/.test(phone)) throw new UserError(`"${text}" is not a phone number in E.164`, 'write it with its country code, as +4915112345678');
    return { email: phone, channel: 'sms' };
  }
  return { email: normaliseEmail(text), channel: 'email' };
}

export function checkReason(text: string): SuppressionReason {
  if (!(REASONS as readonly string[]).includes(text)) {
    throw new UserError(`unknown suppression reason "${text}"`, `use one of: ${REASONS.join(', ')}`);
  }
  return text as SuppressionReason;
}

interface Row {
  email: string;
  site: string | null;
  reason: SuppressionReason;
  source: string;
  note: string | null;
  created_at: Date | string;
  created_by: string;
}

const COLUMNS = 'email, site, reason, source, note, created_at, created_by';

const toSuppression = (r: Row): Suppression => ({
  email: r.email,
  site: r.site,
  reason: r.reason,
  source: r.source,
  note: r.note,
  createdAt: new Date(r.created_at).toISOString(),
  createdBy: r.created_by,
});

export interface AddSuppression {
  /** Normalised already (normaliseEmail). */
  email: string;
  site: string | null;
  reason: SuppressionReason;
  source: string;
  note: string | null;
  actor: string;
  /** The channel the address is suppressed on (default email): an SMS opt-out is the E.164 number on 'sms'. */
  channel?: 'email' | 'sms' | 'push';
}

/**
 * addSuppression: suppresses an address, and logs it. An address already
 * suppressed for the same site (or for all sites) stays as it was, with its
 * original reason, and nothing is logged: `added` is false and `suppression`
 * is the row that was there. The conflict target is the unique key's
 * expression, (email, coalesce(site, '')), so "all sites" is one key too.
 */
export async function addSuppression(db: Queryable, s: AddSuppression): Promise<{ added: boolean; suppression: Suppression }> {
  const rows = await db.query<Row & { added: boolean }>(
    `WITH added AS (
       INSERT INTO herald.suppressions (email, site, reason, source, note, created_by, channel)
       VALUES ($1, $2::text, $3, $4, $5, $6, $7)
       ON CONFLICT (email, coalesce(site, '')) DO NOTHING
       RETURNING ${COLUMNS}, channel),
     logged AS (
       INSERT INTO herald.suppression_events (action, email, site, reason, source, note, actor, channel)
       SELECT 'add', email, site, reason, source, note, created_by, channel FROM added)
     SELECT true AS added, ${COLUMNS} FROM added
     UNION ALL
     SELECT false, ${COLUMNS} FROM herald.suppressions
      WHERE email = $1 AND coalesce(site, '') = coalesce($2::text, '') AND NOT EXISTS (SELECT 1 FROM added)`,
    [s.email, s.site, s.reason, s.source, s.note, s.actor, s.channel ?? 'email'],
  );
  const row = rows[0] ?? (await findSuppression(db, s.email, s.site));
  if (!row) throw new Error(`suppression of ${s.email} neither added nor found`);
  return { added: rows[0]?.added ?? false, suppression: toSuppression(row) };
}

/** A concurrent add of the same key committed after this statement's snapshot: read it now. */
async function findSuppression(db: Queryable, email: string, site: string | null): Promise<Row | undefined> {
  const [row] = await db.query<Row>(`SELECT ${COLUMNS} FROM herald.suppressions WHERE email = $1 AND coalesce(site, '') = coalesce($2::text, '')`, [email, site]);
  return row;
}

export interface RemoveSuppression {
  email: string;
  site: string | null;
  source: string;
  note: string;
  actor: string;
}

/**
 * removeSuppression: lifts the suppression of an address for one site (or the
 * one for all sites), and logs who and why. Removing what is not there is a
 * mistake worth saying, with the suppressions the address does have.
 */
export async function removeSuppression(db: Queryable, r: RemoveSuppression): Promise<Suppression> {
  const [row] = await db.query<Row>(
    `WITH removed AS (
       DELETE FROM herald.suppressions
        WHERE email = $1 AND coalesce(site, '') = coalesce($2::text, '')
       RETURNING ${COLUMNS}, channel),
     logged AS (
       INSERT INTO herald.suppression_events (action, email, site, reason, source, note, actor, channel)
       SELECT 'remove', email, site, reason, $3, $4, $5, channel FROM removed)
     SELECT ${COLUMNS} FROM removed`,
    [r.email, r.site, r.source, r.note, r.actor],
  );
  if (row) return toSuppression(row);
  const others = await db.query<{ site: string | null }>('SELECT site FROM herald.suppressions WHERE email = $1 ORDER BY site NULLS FIRST', [r.email]);
  const scope = (site: string | null) => (site === null ? 'all sites' : `site ${site}`);
  throw new UserError(
    `${r.email} is not suppressed for ${scope(r.site)}`,
    others.length
      ? `it is suppressed for ${others.map((o) => scope(o.site)).join(' and ')}: remove that with ${others.map((o) => (o.site === null ? 'no --site' : `--site ${o.site}`)).join(' or ')}`
      : 'see what is suppressed with `herald suppress list`',
  );
}

/**
 * listSuppressions: every suppression by address, or, for one site, those
 * that apply to it: its own and those for all sites.
 */
export async function listSuppressions(db: Queryable, site: string | null = null): Promise<Suppression[]> {
  const rows = await db.query<Row>(
    `SELECT ${COLUMNS} FROM herald.suppressions
      WHERE $1::text IS NULL OR site IS NULL OR site = $1::text
      ORDER BY email, site NULLS FIRST`,
    [site],
  );
  return rows.map(toSuppression);
}

/**
 * suppressBounced: the addresses of hard bounces (5xx x.1.x; an SMS number
 * opted out at the provider) go onto the suppression list for every site,
 * on their channel, with their log entry, in one statement.
 */
export async function suppressBounced(db: Queryable, bounces: readonly { address: string; response: string; channel?: string }[]): Promise<void> {
  if (bounces.length === 0) return;
  await db.query(
    `WITH b AS (SELECT DISTINCT ON (lower(e)) lower(e) AS email, r AS note, c AS channel FROM unnest($1::text[], $2::text[], $3::text[]) AS x(e, r, c)),
     added AS (
       INSERT INTO herald.suppressions (email, site, reason, source, note, created_by, channel)
       SELECT email, NULL, 'bounced', CASE channel WHEN 'email' THEN 'smtp' ELSE channel END, note, 'herald', channel FROM b
       ON CONFLICT (email, coalesce(site, '')) DO NOTHING
       RETURNING email, note, source, channel)
     INSERT INTO herald.suppression_events (action, email, site, reason, source, note, actor, channel)
     SELECT 'add', email, NULL, 'bounced', source, note, 'herald', channel FROM added`,
    [bounces.map((b) => b.address), bounces.map((b) => b.response), bounces.map((b) => b.channel ?? 'email')],
  );
}
