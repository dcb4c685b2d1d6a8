import type { Queryable, Session } from '../db/db.js';
import { quoteIdent } from '../db/ident.js';
import { addSuppression } from '../audience/suppressions.js';
import { sourceSchema, type Project } from '../workspace/model.js';
import type { TrackingLink } from '../links/tracking.js';

/**
 * Unsubscribing through a link: the token names a ledger message (or, for a
 * link from before messages carried ids, a preview or a test send, the
 * customer or list contact and the site), which gives the address, the site
 * and the campaign or trigger. The address goes onto the suppression list
 * for that site, with where it came from (`one-click`: a mailbox provider's
 * RFC 8058 POST; `page`: the button on herald's page) and a note naming the
 * source and the message; the message gets one `unsubscribe` event. Doing it
 * again changes nothing and still succeeds.
 */
export type UnsubscribeVia = 'one-click' | 'page' | 'mailto';

export interface UnsubscribeTarget {
  /** Normalised (trimmed, lower-case). */
  email: string;
  site: string;
  /** The ledger message, when the link named one. */
  message: number | null;
  /** For the suppression's note: the campaign or trigger, and the message. */
  note: string;
}

type Link = Extract<TrackingLink, { kind: 'unsubscribe' | 'unsubscribe-recipient' }>;

/** message_target: the address, site and source of a ledger message. */
const MESSAGE_TARGET = 'SELECT address, site, source_kind, source FROM herald.messages WHERE id = $1';
/** contact_address: a list contact's address. */
const CONTACT_ADDRESS = 'SELECT email FROM herald.contacts WHERE id = $1';
/** customer_address: a shop customer's address, from the shop's schema (docs/shop-data-contract.md). */
const customerAddress = (schema: string) => `SELECT email FROM ${quoteIdent(schema)}.customers WHERE id = $1`;

/** Who a link unsubscribes, or undefined when the ledger or the shop no longer knows them. */
export async function unsubscribeTarget(db: Queryable, project: Project, link: Link): Promise<UnsubscribeTarget | undefined> {
  if (link.kind === 'unsubscribe') {
    const [m] = await db.query<{ address: string | null; site: string; source_kind: string; source: string }>(MESSAGE_TARGET, [link.message]);
    const email = normalised(m?.address);
    if (!m || !email) return undefined;
    return { email, site: m.site, message: link.message, note: `${m.source_kind} ${m.source}, message ${link.message}` };
  }
  const [row] = link.customer !== null ? await db.query<{ email: string | null }>(customerAddress(sourceSchema(project)), [link.customer]) : await db.query<{ email: string | null }>(CONTACT_ADDRESS, [link.contact]);
  const email = normalised(row?.email);
  if (!email) return undefined;
  const who = link.customer !== null ? `customer ${link.customer}` : `contact ${link.contact}`;
  return { email, site: link.site, message: null, note: `${link.source ? `${link.source}, ` : ''}${who} (a link that names no ledger message)` };
}

/** record_unsubscribe: the message's one unsubscribe event; a repeat is ignored by message_events_once. */
const RECORD_UNSUBSCRIBE = `
  INSERT INTO herald.message_events (message_id, kind, origin, at)
  VALUES ($1, 'unsubscribe', $2, $3)
  ON CONFLICT DO NOTHING`;

/** Suppresses the target's address for its site and records the event, in one transaction. `added` is false when it already was. */
export async function unsubscribe(db: Session, t: UnsubscribeTarget, via: UnsubscribeVia, at: Date): Promise<{ added: boolean }> {
  return db.transaction(async (tx) => {
    const { added } = await addSuppression(tx, { email: t.email, site: t.site, reason: 'unsubscribed', source: via, note: t.note, actor: 'recipient' });
    if (t.message !== null) await tx.query(RECORD_UNSUBSCRIBE, [t.message, via, at]);
    return { added };
  });
}

function normalised(address: string | null | undefined): string | undefined {
  const email = address?.trim().toLowerCase();
  return email ? email : undefined;
}
