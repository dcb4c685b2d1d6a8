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
    expect(tables.map((r) => r.t)).toEqual(['ab_decisions', 'applies', 'attribution_passes', 'contacts', 'link_sets', 'list_members', 'lists', 'message_events', 'messages', 'migrations', 'object_versions', 'objects', 'override_events', 'overrides', 'push_gone', 'runs', 'settings', 'stock_seen', 'suppression_events', 'suppressions', 'throttle_buckets', 'ticks']);
  });

  it('0008_sources keeps every campaign row, its history, runs and overrides, as source_kind campaign', async () => {
    const db = await fresh();
    // A database as herald left it before triggers: migrations 1 to 7, with a sent campaign.
    await db.exec('CREATE SCHEMA herald; CREATE TABLE herald.migrations (id int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());');
    for (const m of migrations.filter((x) => x.id <= 7)) {
      await db.query('INSERT INTO herald.migrations (id, name) VALUES ($1, $2)', [m.id, m.name]);
      await db.exec(m.sql);
    }
    await db.exec(`
      INSERT INTO herald.campaign_runs (campaign, phase, launched_at, attempts) VALUES ('winback', 'completed', '2026-11-01T10:00:00Z', 2);
      INSERT INTO herald.messages (campaign, customer_id, email, site, locale, status, sent_at, campaign_version, template_version)
        VALUES ('winback', 1, 'anna@example.com', 'shop-en', 'en', 'sent', '2026-11-01T10:01:00Z', 3, 4),
               ('winback', 2, NULL, 'shop-en', 'en', 'suppressed', NULL, 3, 4);
      INSERT INTO herald.message_events (message_id, kind) SELECT id, 'click' FROM herald.messages WHERE customer_id = 1;
      INSERT INTO herald.campaign_overrides (campaign, status, reason, set_by, spec_hash) VALUES ('winback', 'paused', 'wrong price', 'alice', 'h1');
      INSERT INTO herald.campaign_events (campaign, action, reason, actor) VALUES ('winback', 'pause', 'wrong price', 'alice');`);
    expect((await migrate(db)).applied).toEqual(migrations.filter((x) => x.id > 7).map((m) => m.name));
    expect(
      await db.query(
        `SELECT source_kind, source, occurrence, channel, customer_id, address, status, source_version, template_version,
                (SELECT count(*)::int FROM herald.message_events e WHERE e.message_id = m.id) AS events
           FROM herald.messages m ORDER BY customer_id`,
      ),
    ).toEqual([
      { source_kind: 'campaign', source: 'winback', occurrence: '', channel: 'email', customer_id: 1, address: 'anna@example.com', status: 'sent', source_version: 3, template_version: 4, events: 1 },
      { source_kind: 'campaign', source: 'winback', occurrence: '', channel: 'email', customer_id: 2, address: null, status: 'suppressed', source_version: 3, template_version: 4, events: 0 },
    ]);
    expect(await db.query('SELECT source_kind, source, phase, attempts FROM herald.runs')).toEqual([{ source_kind: 'campaign', source: 'winback', phase: 'completed', attempts: 2 }]);
    expect(await db.query('SELECT kind, name, status, reason FROM herald.overrides')).toEqual([{ kind: 'campaign', name: 'winback', status: 'paused', reason: 'wrong price' }]);
    expect(await db.query('SELECT kind, name, action FROM herald.override_events')).toEqual([{ kind: 'campaign', name: 'winback', action: 'pause' }]);
    // The new key still makes a second launch add nobody twice.
    await expect(db.query("INSERT INTO herald.messages (source, customer_id, address, site, locale) VALUES ('winback', 1, 'x@example.com', 'shop-en', 'en')")).rejects.toThrow(/messages_customer_key/);
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
