import type { Queryable } from '../../db/db.js';
import { ExitError, UserError, printable } from '../../errors.js';
import { AUTO_LOGIN } from '../../links/rewrite.js';
import { linkSecrets } from '../../links/secret.js';
import { verifyLink, type LinkVerification, type VerifiedLink } from '../../links/verify.js';
import { print, printJson, validWorkspace, withDb, type GlobalOptions } from '../context.js';

/**
 * `herald token verify <link, token or address>`: for support staff, what
 * any link herald makes says and whether it still works: an auto-login
 * link, an open, click or unsubscribe link (the legacy /unsubscribe/ one
 * too), a bare token, or a VERP return path. It is checked against every
 * secret (tracking.secret_env, then tracking.previous_secret_envs); the
 * ledger says which message it names, and for a click where it leads.
 */
export default async function token([sub, value]: string[], opts: GlobalOptions & { json?: boolean }): Promise<void> {
  if (sub !== 'verify' || !value) throw new UserError('usage: herald token verify <link, token or return-path address>', 'paste the whole link: an auto-login, open, click or unsubscribe link, or a bounces+…@ address');
  const ws = await validWorkspace(opts);
  const { result, message } = await withDb(opts, async (db) => {
    const result = verifyLink(value, await linkSecrets(db, ws.project.spec.tracking));
    return { result, message: result.ok ? await ledgerFacts(db, result.link) : undefined };
  });
  if (opts.json) printJson(json(result, message));
  else print(printable(result.ok ? `valid: ${describe(result.link, message)}${keyNote(result)}` : `invalid: ${result.reason}`));
  if (!result.ok) throw new ExitError(1);
}

/** What the ledger holds of the message a link names; `found: false` when this database has no such row. */
interface MessageFacts {
  found: boolean;
  source_kind?: string;
  source?: string;
  site?: string;
  status?: string;
  /** A click's destination as rendered (herald.link_sets). */
  destination?: string | null;
}

async function ledgerFacts(db: Queryable, link: VerifiedLink): Promise<MessageFacts | undefined> {
  if (!('message' in link) || typeof link.message !== 'number') return undefined;
  // tokenMessage: the ledger row, and for a click the link of its set (SQL arrays are 1-based).
  const [row] = await db.query<Omit<MessageFacts, 'found'>>(
    `SELECT m.source_kind, m.source, m.site, m.status,
            (SELECT l.urls[$3::int + 1] FROM herald.link_sets l WHERE l.hash = $2::text) AS destination
       FROM herald.messages m WHERE m.id = $1`,
    [link.message, link.kind === 'click' ? link.set : null, link.kind === 'click' ? link.index : 0],
  );
  return row ? { found: true, ...row } : { found: false };
}

function describe(link: VerifiedLink, m: MessageFacts | undefined): string {
  const of = (what: string) => {
    if (!('message' in link) || typeof link.message !== 'number') return what;
    if (!m?.found) return `${what} of message ${link.message} (not in this database's ledger)`;
    return `${what} of message ${link.message}: ${m.source_kind} ${m.source}, site ${m.site}, ${m.status}`;
  };
  switch (link.kind) {
    case 'auto-login':
      return `customer ${link.customer} on site ${link.site}, until ${link.expiresAt.toISOString()}`;
    case 'open':
      return of('open pixel');
    case 'click':
      return `${of(`click link ${link.index}`)}; leads to ${destination(m?.destination)}`;
    case 'unsubscribe':
      return of('unsubscribe link');
    case 'unsubscribe-recipient':
      return `unsubscribe link of ${link.customer !== null ? `customer ${link.customer}` : `list contact ${link.contact}`} on site ${link.site}${link.source ? ` (${link.source})` : ''}, from before ledger ids or a preview`;
    case 'return-path':
      return of('return path');
  }
}

function destination(url: string | null | undefined): string {
  if (!url) return 'no link of that index in its link set';
  // Never sign and print a login link here: say what the click would do.
  return url.startsWith(AUTO_LOGIN) ? `the customer's auto-login link${url.length > AUTO_LOGIN.length ? ` (then ${url.slice(AUTO_LOGIN.length)})` : ''}` : url;
}

function keyNote(r: Extract<LinkVerification, { ok: true }>): string {
  if (r.currentKey) return '';
  return r.keyId ? `; signed with a previous secret (key id ${r.keyId})` : '; signed before key ids';
}

function json(r: LinkVerification, m: MessageFacts | undefined): unknown {
  if (!r.ok) return r;
  return { ok: true, ...r.link, keyId: r.keyId ?? null, currentKey: r.currentKey, ...(m ? { ledger: m } : {}) };
}
