import { ADDRESS } from '../audience/address.js';
import type { Queryable } from '../db/db.js';
import { quoteIdent } from '../db/ident.js';
import { UserError } from '../errors.js';

/**
 * A person as herald knows them: the shop customer ids, the list contacts
 * and the addresses that name them. A request names a customer id or an
 * address; the other follows from the shop's customers, the ledger and the
 * lists, one step: an id brings every address herald sent that customer to,
 * an address every customer (and contact) with it.
 */
export interface Person {
  /** What the request said, normalised: a customer id or an address. */
  given: { customerId: number } | { email: string };
  customerIds: number[];
  contactIds: number[];
  /** Trimmed and lower-cased, as suppressions store them. */
  addresses: string[];
}

/** `<id|email>` as typed: digits are a shop customer id, anything else must be an address. */
export function parsePerson(text: string): Person['given'] {
  const t = text.trim();
  if (/^\d{1,15}$/.test(t)) return { customerId: Number(t) };
  const email = t.toLowerCase();
  if (!ADDRESS.test(email)) throw new UserError(`"${text}" is neither a customer id nor an email address`, 'give the shop customer id (digits) or the address, e.g. anna@example.com');
  return { email };
}

/**
 * findPerson: who the request names. The ledger has no index on address:
 * finding a person by address reads it once (a request is rare, and a
 * index kept for it would cost every send). The shop's customers are read
 * when its schema is in this database, by customers_email_lower_idx.
 */
export async function findPerson(db: Queryable, shopSchema: string, given: Person['given']): Promise<Person> {
  const [shop] = await db.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [`${quoteIdent(shopSchema)}.customers`]);
  const s = quoteIdent(shopSchema);
  const id = 'customerId' in given ? given.customerId : null;
  const email = 'email' in given ? given.email : null;
  // personCustomers: the customer ids, by id or by address in the shop, the ledger and the lists.
  const customers = await db.query<{ id: string }>(
    `SELECT $1::bigint AS id WHERE $1::bigint IS NOT NULL
     ${shop!.ok ? `UNION SELECT c.id FROM ${s}.customers c WHERE lower(c.email) = $2` : ''}
     UNION SELECT m.customer_id FROM herald.messages m WHERE lower(btrim(m.address)) = $2 AND m.customer_id IS NOT NULL
     UNION SELECT l.customer_id FROM herald.list_members l WHERE lower(btrim(l.email)) = $2 AND l.customer_id IS NOT NULL`,
    [id, email],
  );
  const customerIds = customers.map((r) => Number(r.id)).sort((a, b) => a - b);
  // personAddresses: the given address and every address those customers have or were sent to.
  const addresses = await db.query<{ email: string }>(
    `SELECT $2::text AS email WHERE $2::text IS NOT NULL
     ${shop!.ok ? `UNION SELECT lower(btrim(c.email)) FROM ${s}.customers c WHERE c.id = ANY($1::bigint[]) AND c.email IS NOT NULL` : ''}
     UNION SELECT lower(btrim(m.address)) FROM herald.messages m WHERE m.customer_id = ANY($1::bigint[]) AND m.address IS NOT NULL
     UNION SELECT lower(btrim(l.email)) FROM herald.list_members l WHERE l.customer_id = ANY($1::bigint[])`,
    [customerIds, email],
  );
  const emails = addresses.map((r) => r.email).filter((e) => e !== '').sort();
  // personContacts: list contacts with any of those addresses.
  const contacts = await db.query<{ id: string }>(`SELECT k.id FROM herald.contacts k WHERE lower(k.email) = ANY($1::text[]) ORDER BY k.id`, [emails]);
  return { given, customerIds, contactIds: contacts.map((r) => Number(r.id)), addresses: emails };
}

export function describeGiven(given: Person['given']): string {
  return 'customerId' in given ? `customer ${given.customerId}` : given.email;
}
