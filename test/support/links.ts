import type { Queryable } from '../../src/db/db.js';

/**
 * A sent message's HTML or text with each click-tracking link replaced by the
 * destination herald stored for it (herald.link_sets), as a reader following
 * the link would arrive: for tests that check where a message's links lead.
 * The token's payload is read, not verified: the tracking server's own tests
 * check signatures.
 */
export async function followLinks(db: Queryable, body: string): Promise<string> {
  // `/c/<token>/<index>` as herald makes them; `/c/<token>` (the index in the token) from before.
  const LINK = /https?:\/\/[^\s"'<>]+\/c\/([\w-]+\.[\w-]+)(?:\/(\d+))?/g;
  const payload = (token: string) => JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8')) as { h: string; i?: number };
  const sets = new Map<string, string[]>();
  for (const [, token] of body.matchAll(LINK)) {
    const { h } = payload(token!);
    if (!sets.has(h)) {
      const [row] = await db.query<{ urls: string[] }>('SELECT urls FROM herald.link_sets WHERE hash = $1', [h]);
      sets.set(h, row?.urls ?? []);
    }
  }
  return body.replace(LINK, (whole, token: string, index: string | undefined) => {
    const { h, i } = payload(token);
    return sets.get(h)?.[index !== undefined ? Number(index) : i!] ?? whole;
  });
}
