import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Queryable } from '../../src/db/db.js';
import type { Project } from '../../src/workspace/model.js';

/** The secret the fixtures under test/fixtures/feedback were signed with (see the README there). */
export const FIXTURE_SECRET = 'feedback-fixtures-secret-0123456789abcdef';

export const FIXTURES = fileURLToPath(new URL('../fixtures/feedback/', import.meta.url));

export function fixture(name: string): string {
  return readFileSync(`${FIXTURES}${name}`, 'utf8');
}

/** The recipients of the fixtures, in ledger-id order (ids 1…14 in a fresh database). */
export const FIXTURE_RECIPIENTS = [
  'alice@example.com',
  'bob@example.org',
  'carol@example.net',
  'dave@contoso.example',
  'erin@gmail.example',
  'frank@oldhost.example',
  'grace@example.com',
  'heidi@fabrikam.example',
  'ivan@yahoo.example',
  'judy@hotmail.example',
  'mallory@example.com',
  'peggy@example.com',
  'trent@example.com',
  'oscar@example.com',
];

/** Sent messages of one source, with the Message-IDs herald gives them: `<source>.<id>@shop.example`. Returns their ids. */
export async function sentMessages(db: Queryable, o: { source: string; kind?: 'campaign' | 'trigger'; addresses: readonly string[]; site?: string; sentAt?: Date }): Promise<number[]> {
  const rows = await db.query<{ id: string }>(
    `INSERT INTO herald.messages (source_kind, source, customer_id, address, site, locale, status, sent_at)
     SELECT $2, $3, (SELECT coalesce(max(customer_id), 0) FROM herald.messages) + ord, address, $4, 'en', 'sent', $5
       FROM unnest($1::text[]) WITH ORDINALITY AS x(address, ord) ORDER BY ord
     RETURNING id`,
    [o.addresses, o.kind ?? 'campaign', o.source, o.site ?? 'main', o.sentAt ?? new Date()],
  );
  await db.query("UPDATE herald.messages SET message_id = '<' || source || '.' || id || '@shop.example>' WHERE id = ANY($1::bigint[])", [rows.map((r) => r.id)]);
  return rows.map((r) => Number(r.id)).sort((a, b) => a - b);
}

export const project = (extra: Partial<Project> = {}): Project =>
  ({ sites: [{ id: 'main' }], tracking: { base_url: 'https://t.shop.example' }, ...extra }) as unknown as Project;

export async function suppressions(db: Queryable): Promise<{ email: string; site: string | null; reason: string; source: string }[]> {
  return db.query('SELECT email, site, reason, source FROM herald.suppressions ORDER BY email, site NULLS FIRST');
}
