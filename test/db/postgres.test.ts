import { describe, expect, it } from 'vitest';
import { openPostgres } from '../../src/db/postgres.js';
import { isConnectionError, retrying } from '../../src/db/retry.js';
import { silentLog } from '../../src/log.js';
import { useCleanups } from '../support/cleanup.js';
import { createTestDb, serverUrl } from '../support/db.js';

const cleanup = useCleanups();

describe('the PostgreSQL adapter', () => {
  it('names where it is without a password, whether in the user part or a password= parameter', async () => {
    for (const url of ['postgres://shop:s3cret-pw@db.example:5432/herald', 'postgres://shop@db.example/herald?sslmode=require&password=s3cret-pw']) {
      const db = openPostgres(url);
      try {
        expect(db.where).not.toContain('s3cret-pw');
        expect(db.where).toMatch(/^postgres:\/\/shop(:\*\*\*)?@db\.example/);
      } finally {
        await db.close();
      }
    }
  });
});

describe.skipIf(!serverUrl)('prepared statements', () => {
  it('are parsed once per connection, under a name made from their text', async () => {
    const db = await createTestDb({ migrated: false });
    cleanup(() => db.dispose());
    const text = 'SELECT $1::int + 1 AS n';
    for (let i = 0; i < 3; i++) expect(await db.query(text, [i], { prepare: true })).toEqual([{ n: i + 1 }]);
    // One after another, the pool hands every query the same connection.
    const held = await db.query<{ name: string; statement: string }>('SELECT name, statement FROM pg_prepared_statements');
    expect(held).toEqual([{ name: expect.stringMatching(/^herald_[0-9a-f]{32}$/), statement: text }]);
  });

  it('whose result type a schema change altered drop their connection, once, and run again prepared anew', async () => {
    // The shop migrates while a worker sends: a column the claim reads changes
    // type, and every connection's prepared settle fails with "cached plan
    // must not change result type" until that connection closes.
    const db = await createTestDb({ migrated: false });
    cleanup(() => db.dispose());
    await db.exec("CREATE TABLE people (id int PRIMARY KEY, name varchar(10)); INSERT INTO people VALUES (1, 'Anna')");
    const text = 'SELECT id, coalesce(name, $2) AS name FROM people WHERE id = $1';
    expect(await db.query(text, [1, '?'], { prepare: true })).toEqual([{ id: 1, name: 'Anna' }]);
    await db.exec('ALTER TABLE people ALTER COLUMN name TYPE text');
    // Retried as a lost connection is: the stale statement's connection is dropped, the next one prepares it afresh.
    const err = await db.query(text, [1, '?'], { prepare: true }).catch((e: unknown) => e);
    expect(isConnectionError(err)).toBe(true);
    expect((err as Error).message).toMatch(/prepared .*no longer fits.*cached plan must not change result type/);
    expect(await db.query(text, [1, '?'], { prepare: true })).toEqual([{ id: 1, name: 'Anna' }]);
    await db.exec('ALTER TABLE people ALTER COLUMN id TYPE bigint');
    expect(await retrying(silentLog, () => db.query(text, [1, '?'], { prepare: true }))).toEqual([{ id: 1, name: 'Anna' }]);
    // A statement that fails the first time it is prepared is its own error, not the connection's.
    const bad = await db.query('SELECT id FROM people FOR UPDATE OF nothing', [], { prepare: true }).catch((e: unknown) => e);
    expect(isConnectionError(bad)).toBe(false);
  });
});
