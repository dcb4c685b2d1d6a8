import type { Queryable } from '../../src/db/db.js';

/**
 * A sent message's HTML or text with each click-tracking link replaced by the
 * destination herald stored for it (herald.link_sets), as a reader following
 * the link would arrive: for tests that check where a message's links lead.
 * The token's payload is read, not verified: the tracking server's own tests
 * check signatures.
 */
export async function followLinks(db: Queryable, body: string): Promise<string> {
  const tokens = [...body.matchAll(/https?:\/\/[^\s"'<>]+\/c\/([\w-]+\.[\w-]+)/g)];
  const sets = new Map<string, string[]>();
  for (const [, token] of tokens) {
    const { h } = JSON.parse(Buffer.from(token!.split('.')[0]!, 'base64url').toString('utf8')) as { h: string };
    if (!sets.has(h)) {
      const [row] = await db.query<{ urls: string[] }>('SELECT urls FROM herald.link_sets WHERE hash = $1', [h]);
      sets.set(h, row?.urls ?? []);
    }
  }
  return body.replace(/https?:\/\/[^\s"'<>]+\/c\/([\w-]+\.[\w-]+)/g, (whole, token: string) => {
    const { h, i } = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8')) as { h: string; i: number };
    return sets.get(h)?.[i] ?? whole;
  });
}
