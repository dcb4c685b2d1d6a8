import { afterEach, describe, expect, it } from 'vitest';
import { openDb } from '../../src/db/db.js';
import { migrate } from '../../src/db/migrate.js';
import { migrations } from '../../src/db/migrations.gen.js';
import { createTestDb, serverUrl, type TestDb } from '../support/db.js';

const dbs: TestDb[] = [];
afterEach(async () => {
  for (const db of dbs.splice(0)) await db.dispose();
});

async function fresh(): Promise<TestDb> {
  const db = await createTestDb({ migrated: false });
  dbs.push(db);
  return db;
}

describe('migrate', () => {
  it('creates schema herald and records every migration once', async () => {
    const db = await fresh();
    const first = await migrate(db);
    expect(first.applied).toEqual(migrations.map((m) => m.name));
    const rows = await db.query<{ id: number; name: string }>('SELECT id, name FROM herald.migrations ORDER BY id');
    expect(rows.map((r) => r.name)).toEqual(migrations.map((m) => m.name));
    const tables = await db.query<{ t: string }>(
      "SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'herald' ORDER BY 1",
    );
    expect(tables.map((r) => r.t)).toEqual(['ab_decisions', 'applies', 'contacts', 'list_members', 'lists', 'message_events', 'messages', 'migrations', 'object_versions', 'objects', 'override_events', 'overrides', 'runs', 'settings', 'stock_seen', 'suppression_events', 'suppressions', 'throttle_buckets']);
  });

  it('is a no-op the second time', async () => {
    const db = await fresh();
    await migrate(db);
    expect((await migrate(db)).applied).toEqual([]);
  });

  it('refuses a database migrated by a newer herald', async () => {
    const db = await fresh();
    await migrate(db);
    await db.query("INSERT INTO herald.migrations (id, name) VALUES (9999, '9999_future')");
    await expect(migrate(db)).rejects.toThrow(/newer than this herald knows/);
  });

  it.runIf(serverUrl)('two processes migrating at once apply each migration exactly once', async () => {
    const db = await fresh();
    // Separate pools, as two herald processes would have.
    const others = await Promise.all([openDb(db.url!), openDb(db.url!), openDb(db.url!)]);
    try {
      const results = await Promise.all(others.map((o) => migrate(o)));
      const applied = results.flatMap((r) => r.applied);
      expect(applied.sort()).toEqual(migrations.map((m) => m.name).sort());
      const [row] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM herald.migrations');
      expect(row!.n).toBe(migrations.length);
    } finally {
      await Promise.all(others.map((o) => o.close()));
    }
  });
});
