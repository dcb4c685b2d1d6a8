import type { Queryable } from '../../src/db/db.js';
import type { Project } from '../../src/workspace/model.js';
import { createShop } from '../support/shop.js';

/** Two secrets: the current one signs; the previous one, from before a rotation, still verifies. */
export const SECRETS = ['current-secret-for-tracking-tests-0123456789', 'previous-secret-for-tracking-tests-9876543210'];

export const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36';

export function project(baseUrl: string): Project {
  return {
    sites: [
      {
        id: 'main',
        name: 'Main & <Co>',
        url: 'https://shop.example.com',
        locales: ['en'],
        default_locale: 'en',
        currency: 'EUR',
        sender: { from: 'news@shop.example.com' },
        postal_address: 'Main Ltd, 1 Example Street, 10115 Berlin, Germany',
      },
    ],
    tracking: { base_url: baseUrl },
  } as Project;
}

/** The links of the test messages' link set, as rendered. */
export const LINKS = ['https://shop.example.com/sale?utm_source=herald&utm_campaign=spring', '{auto_login}?utm_source=herald', 'javascript:alert(1)'];
export const SET = 'set-spring';

/**
 * A shop with two customers, a list contact, and three ledger messages of
 * campaign `spring`: `old` sent an hour ago, `fresh` sent just now (a click
 * on it is a scanner's), `contactMessage` to the contact.
 */
export async function seed(db: Queryable): Promise<{ old: number; fresh: number; contactMessage: number; contact: number }> {
  await createShop(db, {
    customers: [
      { id: 1, email: 'Ann@Example.com', site: 'main' },
      { id: 2, email: 'bob@example.com', site: 'main' },
    ],
  });
  const [c] = await db.query<{ id: number }>("INSERT INTO herald.contacts (email) VALUES ('carol@example.com') RETURNING id");
  const rows = await db.query<{ id: number }>(
    `INSERT INTO herald.messages (source_kind, source, customer_id, contact_id, address, site, locale, status, sent_at)
     VALUES ('campaign', 'spring', 1, NULL, 'Ann@Example.com', 'main', 'en', 'sent', now() - interval '1 hour'),
            ('campaign', 'spring', 2, NULL, 'bob@example.com', 'main', 'en', 'sent', now()),
            ('campaign', 'spring', NULL, $1, 'carol@example.com', 'main', 'en', 'sent', now() - interval '1 hour')
     RETURNING id`,
    [c!.id],
  );
  await db.query('INSERT INTO herald.link_sets (hash, urls) VALUES ($1, $2)', [SET, LINKS]);
  return { old: rows[0]!.id, fresh: rows[1]!.id, contactMessage: rows[2]!.id, contact: c!.id };
}
