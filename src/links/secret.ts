import { randomBytes } from 'node:crypto';
import type { Queryable } from '../db/db.js';

/**
 * The link-signing secret: from the environment variable herald.yaml names, or
 * else one herald generated once and keeps in the database, so links signed by
 * one run verify in the next.
 */
export async function linkSecret(db: Queryable, envName: string): Promise<string> {
  const fromEnv = process.env[envName];
  if (fromEnv) return fromEnv;
  // ON CONFLICT keeps the first writer's value when two processes race.
  await db.query(
    "INSERT INTO herald.settings (key, value) VALUES ('link_secret', $1) ON CONFLICT (key) DO NOTHING",
    [randomBytes(32).toString('base64url')],
  );
  const [row] = await db.query<{ value: string }>("SELECT value FROM herald.settings WHERE key = 'link_secret'");
  return row!.value;
}
