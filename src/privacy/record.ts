import type { Queryable } from '../db/db.js';
import { erasedHashSql } from '../audience/suppressions.js';
import type { Person } from './person.js';

/**
 * Everything herald's own schema holds about a person (GDPR access and
 * portability): one named query per table that holds personal data. The
 * shop's own tables are the shop's to export; herald never writes them.
 *
 *   herald.messages            every message: address, site, locale, status, the
 *                              trigger's event data (payload), the SMTP reply
 *   herald.message_events      opens, clicks, unsubscribes, bounces, complaints,
 *                              attributed orders, with what their source said (detail)
 *   herald.suppressions        the address's suppressions, and an erased one's hash
 *   herald.suppression_events  how they came to be
 *   herald.contacts            a list contact who is not a customer: name, locale, site
 *   herald.list_members        list memberships, with the CSV's extra columns
 *
 * Rows come back as PostgreSQL returns them (to_jsonb), so an export holds
 * every column, including any a later migration adds.
 */
export interface PersonRecord {
  person: Person;
  messages: Record<string, unknown>[];
  events: Record<string, unknown>[];
  suppressions: Record<string, unknown>[];
  suppressionEvents: Record<string, unknown>[];
  contacts: Record<string, unknown>[];
  listMembers: Record<string, unknown>[];
}

/**
 * The person's ledger rows: their customer ids, their contacts, and any row
 * sent to one of their addresses (a ledger row keeps the address it was sent
 * to, which may be an old one).
 */
export const PERSON_MESSAGES = `
  SELECT m.id FROM herald.messages m
   WHERE m.customer_id = ANY($1::bigint[]) OR m.contact_id = ANY($2::bigint[]) OR lower(btrim(m.address)) = ANY($3::text[])`;

/** The suppression keys of the person's addresses (the text[] parameter `addresses`): each address and its erased hash. */
export function personSuppressionKeys(addresses: string): string {
  return `SELECT a AS email FROM unnest(${addresses}::text[]) AS a
          UNION SELECT ${erasedHashSql('a')} FROM unnest(${addresses}::text[]) AS a`;
}

export async function personRecord(db: Queryable, person: Person): Promise<PersonRecord> {
  const all = [person.customerIds, person.contactIds, person.addresses];
  const rows = async (text: string, values: unknown[] = all) => (await db.query<{ row: Record<string, unknown> }>(text, values)).map((r) => r.row);
  return {
    person,
    // personMessages: every column of each row, oldest first.
    messages: await rows(`SELECT to_jsonb(m) AS row FROM herald.messages m WHERE m.id IN (${PERSON_MESSAGES}) ORDER BY m.id`),
    // personEvents: what happened to those messages.
    events: await rows(`SELECT to_jsonb(e) AS row FROM herald.message_events e WHERE e.message_id IN (${PERSON_MESSAGES}) ORDER BY e.id`),
    // personSuppressions, personSuppressionEvents: by address or its erased hash.
    suppressions: await rows(`SELECT to_jsonb(s) AS row FROM herald.suppressions s WHERE s.email IN (${personSuppressionKeys('$1')}) ORDER BY s.created_at, s.email`, [person.addresses]),
    suppressionEvents: await rows(`SELECT to_jsonb(s) AS row FROM herald.suppression_events s WHERE s.email IN (${personSuppressionKeys('$1')}) ORDER BY s.id`, [person.addresses]),
    // personContacts, personListMembers.
    contacts: await rows(`SELECT to_jsonb(k) AS row FROM herald.contacts k WHERE k.id = ANY($1::bigint[]) ORDER BY k.id`, [person.contactIds]),
    listMembers: await rows(
      `SELECT to_jsonb(l) AS row FROM herald.list_members l
        WHERE l.customer_id = ANY($1::bigint[]) OR l.contact_id = ANY($2::bigint[]) OR lower(btrim(l.email)) = ANY($3::text[])
        ORDER BY l.list`,
    ),
  };
}
