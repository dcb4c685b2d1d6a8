import { randomBytes } from 'node:crypto';
import type { Queryable } from '../db/db.js';
import { UserError } from '../errors.js';

/** The shortest secret herald signs links with: HMAC-SHA256's own block of strength, 256 bits. */
export const MIN_SECRET_BYTES = 32;

/**
 * The link-signing secret: from the environment variable herald.yaml names, or
 * else one herald generated once and keeps in the database, so links signed by
 * one run verify in the next. The generated one suits the embedded demo; a
 * production set-up sets the variable (docs/security.md), and herald's
 * schema, where the generated one lives, is closed to the reader role that
 * sql: conditions run as. A variable shorter than MIN_SECRET_BYTES is
 * refused: `HERALD_SECRET=a` would make every link guessable.
 */
export async function linkSecret(db: Queryable, envName: string): Promise<string> {
  const fromEnv = envSecret(envName);
  if (fromEnv) return fromEnv;
  // ON CONFLICT keeps the first writer's value when two processes race.
  await db.query(
    "INSERT INTO herald.settings (key, value) VALUES ('link_secret', $1) ON CONFLICT (key) DO NOTHING",
    [randomBytes(MIN_SECRET_BYTES).toString('base64url')],
  );
  const [row] = await db.query<{ value: string }>("SELECT value FROM herald.settings WHERE key = 'link_secret'");
  return row!.value;
}

/**
 * Every secret links verify against: the current one first (it signs), then
 * the earlier ones named by tracking.previous_secret_envs, so links signed
 * before a rotation keep working. A named variable that is unset is skipped;
 * one that is set must be long enough, like the current one.
 */
export async function linkSecrets(db: Queryable, tracking: { secret_env?: string; previous_secret_envs?: string[] } | undefined): Promise<string[]> {
  const current = await linkSecret(db, tracking?.secret_env ?? 'HERALD_SECRET');
  const previous = (tracking?.previous_secret_envs ?? []).map((name) => envSecret(name)).filter((s): s is string => s !== undefined);
  return [current, ...previous.filter((s) => s !== current)];
}

/** The secret in the variable `envName`, checked; undefined when the variable is unset or empty. */
export function envSecret(envName: string): string | undefined {
  const fromEnv = process.env[envName];
  if (!fromEnv) return undefined;
  const bytes = Buffer.byteLength(fromEnv, 'utf8');
  if (bytes < MIN_SECRET_BYTES) {
    throw new UserError(
      `$${envName} is ${bytes} byte${bytes === 1 ? '' : 's'} long; a link-signing secret needs at least ${MIN_SECRET_BYTES} bytes`,
      `generate one with \`openssl rand -base64 32\` and set ${envName} to it (docs/security.md)`,
    );
  }
  return fromEnv;
}
