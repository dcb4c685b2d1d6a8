import type { Db } from '../db/db.js';
import { erasedHashSql } from '../audience/suppressions.js';
import { findPerson, type Person } from './person.js';
import { PERSON_MESSAGES } from './record.js';

/**
 * Erasure (GDPR art. 17): herald forgets a person in one transaction, and
 * keeps only what it needs never to mail them again.
 *
 * - Ledger rows keep their customer id, source, status and times (reports
 *   count them; the id names nobody once the shop has erased its customer)
 *   and lose the address, the trigger's event data (payload) and the SMTP
 *   reply; a reason that quotes the address becomes 'erased on request'. A
 *   row still queued or waiting for an A/B winner is settled as suppressed.
 * - Events lose what their source said (detail: a bounce's diagnostic, a
 *   user agent); kind, class and time stay for the counts.
 * - List memberships are deleted; a contact is deleted, or, when ledger rows
 *   name it, kept as `erased:<id>` without name or locale.
 * - Suppressions of the addresses are replaced by one for all sites with
 *   reason `erased` and the address's one-way hash (erasedHashSql), so an
 *   audience or claim that meets the address again (the shop still has the
 *   customer, a list brings the contact back) leaves it out; their log
 *   entries keep the hash in place of the address, and the erase is logged
 *   the same way.
 */
export interface Erasure {
  person: Person;
  messages: number;
  /** Ledger rows that were queued or waiting and are settled as suppressed. */
  settled: number;
  eventDetails: number;
  listMemberships: number;
  contactsDeleted: number;
  contactsBlanked: number;
  suppressionsReplaced: number;
  suppressionEventsHashed: number;
  /** The hashes now on the suppression list (new ones; an address erased before keeps its row). */
  hashesAdded: string[];
}

export async function erasePerson(db: Db, shopSchema: string, given: Person['given'], actor: string): Promise<Erasure> {
  return db.transaction(async (tx) => {
    const person = await findPerson(tx, shopSchema, given);
    const ids = [person.customerIds, person.contactIds, person.addresses];
    const [messages] = await tx.query<{ n: number; settled: number }>(ERASE_MESSAGES, ids);
    const [events] = await tx.query<{ n: number }>(ERASE_EVENT_DETAILS, ids);
    const [members] = await tx.query<{ n: number }>(ERASE_LIST_MEMBERS, ids);
    const [contacts] = await tx.query<{ deleted: number; blanked: number }>(ERASE_CONTACTS, [person.contactIds]);
    const [sup] = await tx.query<{ replaced: number; hashed: number; added: string[] }>(ERASE_SUPPRESSIONS, [person.addresses, actor]);
    return {
      person,
      messages: messages!.n,
      settled: messages!.settled,
      eventDetails: events!.n,
      listMemberships: members!.n,
      contactsDeleted: contacts!.deleted,
      contactsBlanked: contacts!.blanked,
      suppressionsReplaced: sup!.replaced,
      suppressionEventsHashed: sup!.hashed,
      hashesAdded: sup!.added,
    };
  });
}

/** eraseMessages: the person's ledger rows lose what names them; pending ones are settled. */
const ERASE_MESSAGES = `
  WITH mine AS (
    SELECT m.id, m.status IN ('queued', 'waiting') AS pending,
           EXISTS (SELECT 1 FROM unnest($3::text[]) AS a WHERE strpos(lower(m.reason), a) > 0) AS quotes
      FROM herald.messages m WHERE m.id IN (${PERSON_MESSAGES})
       FOR UPDATE),
  erased AS (
    UPDATE herald.messages m
       SET address = NULL, payload = NULL, smtp_response = NULL,
           status = CASE WHEN mine.pending THEN 'suppressed' ELSE m.status END,
           reason = CASE WHEN mine.pending OR mine.quotes THEN 'erased on request' ELSE m.reason END,
           next_attempt_at = CASE WHEN mine.pending THEN NULL ELSE m.next_attempt_at END
      FROM mine WHERE m.id = mine.id
    RETURNING mine.pending)
  SELECT count(*)::int AS n, count(*) FILTER (WHERE pending)::int AS settled FROM erased`;

/** eraseEventDetails: what a bounce, a complaint or a user agent said about those messages. */
const ERASE_EVENT_DETAILS = `
  WITH erased AS (
    UPDATE herald.message_events e SET detail = NULL
     WHERE e.message_id IN (${PERSON_MESSAGES}) AND e.detail IS NOT NULL
    RETURNING 1)
  SELECT count(*)::int AS n FROM erased`;

/** eraseListMembers: the person leaves every list (a re-import of a CSV that still has them is left out by the hash). */
const ERASE_LIST_MEMBERS = `
  WITH gone AS (
    DELETE FROM herald.list_members l
     WHERE l.customer_id = ANY($1::bigint[]) OR l.contact_id = ANY($2::bigint[]) OR lower(btrim(l.email)) = ANY($3::text[])
    RETURNING 1)
  SELECT count(*)::int AS n FROM gone`;

/**
 * eraseContacts: a contact no ledger row names is deleted; one that is named
 * (messages.contact_id is a foreign key, and a row names exactly one
 * recipient) keeps its id and site only.
 */
const ERASE_CONTACTS = `
  WITH named AS (
    SELECT k.id, EXISTS (SELECT 1 FROM herald.messages m WHERE m.contact_id = k.id) AS in_ledger
      FROM herald.contacts k WHERE k.id = ANY($1::bigint[])),
  blanked AS (
    UPDATE herald.contacts k SET email = 'erased:' || k.id, first_name = NULL, last_name = NULL, locale = NULL
      FROM named WHERE k.id = named.id AND named.in_ledger
    RETURNING 1),
  deleted AS (
    DELETE FROM herald.contacts k USING named WHERE k.id = named.id AND NOT named.in_ledger
    RETURNING 1)
  SELECT (SELECT count(*) FROM deleted)::int AS deleted, (SELECT count(*) FROM blanked)::int AS blanked`;

/**
 * eraseSuppressions: the addresses' suppressions become one `erased` row
 * per address hash for all sites, noting which reasons it replaced (never
 * the address); their log keeps the hash in place of the address, and a
 * note dropped (a bounce's note is the server's reply, which may quote it).
 */
const ERASE_SUPPRESSIONS = `
  WITH removed AS (
    DELETE FROM herald.suppressions s WHERE s.email = ANY($1::text[])
    RETURNING s.email, s.site, s.reason),
  hashes AS (
    SELECT DISTINCT a AS email, ${erasedHashSql('a')} AS hash FROM unnest($1::text[]) AS a),
  added AS (
    INSERT INTO herald.suppressions (email, site, reason, source, note, created_by)
    SELECT h.hash, NULL, 'erased', 'erase',
           'erased on request' || coalesce('; was ' || (SELECT string_agg(r.reason || ' (' || coalesce(r.site, 'all sites') || ')', ', ' ORDER BY r.reason, r.site)
                                                          FROM removed r WHERE r.email = h.email), ''),
           $2
      FROM hashes h
    ON CONFLICT (email, coalesce(site, '')) DO NOTHING
    RETURNING email, note),
  hashed AS (
    UPDATE herald.suppression_events e SET email = h.hash, note = NULL
      FROM hashes h WHERE e.email = h.email
    RETURNING 1),
  logged AS (
    INSERT INTO herald.suppression_events (action, email, site, reason, source, note, actor)
    SELECT 'add', email, NULL, 'erased', 'erase', note, $2 FROM added)
  SELECT (SELECT count(*) FROM removed)::int AS replaced, (SELECT count(*) FROM hashed)::int AS hashed,
         coalesce((SELECT array_agg(email ORDER BY email) FROM added), '{}') AS added`;

