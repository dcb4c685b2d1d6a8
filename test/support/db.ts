import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDb, type Db } from '../../src/db/db.js';
import { migrate } from '../../src/db/migrate.js';

/**
 * A database of the test's own: a fresh database on the PostgreSQL server named
 * by HERALD_TEST_DATABASE_URL, or a fresh in-memory PGlite when it is unset.
 * Set HERALD_TEST_KEEP_DB=1 to keep server databases for debugging.
 */
export interface TestDb extends Db {
  /** The spec to pass as `--db` to a CLI subprocess (server databases only). */
  url?: string;
  dispose(): Promise<void>;
}

export const serverUrl = process.env.HERALD_TEST_DATABASE_URL;

export async function createTestDb(opts: { migrated?: boolean } = {}): Promise<TestDb> {
  const migrated = opts.migrated ?? true;
  if (!serverUrl) {
    const db = await openDb('memory://');
    if (migrated) await migrate(db);
    return Object.assign(db, { dispose: () => db.close() });
  }
  const name = `herald_test_${randomBytes(6).toString('hex')}`;
  await admin(`CREATE DATABASE ${name}`);
  const url = withDatabase(serverUrl, name);
  const db = await openDb(url);
  if (migrated) await migrate(db);
  return Object.assign(db, {
    url,
    async dispose() {
      await db.close();
      if (!process.env.HERALD_TEST_KEEP_DB) await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  });
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}
