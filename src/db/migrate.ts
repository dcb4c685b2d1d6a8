import type { Db } from './db.js';
import { migrations } from './migrations.gen.js';
import { UserError } from '../errors.js';

/**
 * Numbered, forward-only migrations into schema `herald`. Each runs in its own
 * transaction under an advisory lock and records its row first, so two
 * processes migrating at once serialise: the second finds the row and skips.
 */
const LOCK = "hashtext('herald:migrate')";

export interface MigrateResult {
  applied: string[];
}

export async function migrate(db: Db): Promise<MigrateResult> {
  const latest = migrations[migrations.length - 1]!.id;
  const current = await currentVersion(db);
  if (current !== undefined && current > latest) {
    throw new UserError(
      `the database at ${db.where} is at migration ${current}, newer than this herald knows (${latest})`,
      'upgrade herald to the version that migrated this database',
    );
  }
  if (current === latest) return { applied: [] };

  await db.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(${LOCK})`);
    await tx.exec(`
      CREATE SCHEMA IF NOT EXISTS herald;
      CREATE TABLE IF NOT EXISTS herald.migrations (
        id          int         PRIMARY KEY,
        name        text        NOT NULL,
        applied_at  timestamptz NOT NULL DEFAULT now()
      );`);
  });

  const applied: string[] = [];
  for (const m of migrations) {
    const ran = await db.transaction(async (tx) => {
      await tx.query(`SELECT pg_advisory_xact_lock(${LOCK})`);
      const done = await tx.query('SELECT 1 FROM herald.migrations WHERE id = $1', [m.id]);
      if (done.length > 0) return false;
      await tx.query('INSERT INTO herald.migrations (id, name) VALUES ($1, $2)', [m.id, m.name]);
      await tx.exec(m.sql);
      return true;
    });
    if (ran) applied.push(m.name);
  }
  return { applied };
}

/** The highest applied migration, or undefined on a database herald has never touched. */
async function currentVersion(db: Db): Promise<number | undefined> {
  const [row] = await db.query<{ exists: boolean }>(
    "SELECT to_regclass('herald.migrations') IS NOT NULL AS exists",
  );
  if (!row?.exists) return undefined;
  const [v] = await db.query<{ id: number | null }>('SELECT max(id) AS id FROM herald.migrations');
  return v?.id ?? undefined;
}
