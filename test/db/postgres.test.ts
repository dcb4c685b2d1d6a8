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

describe.skipIf(!serverUrl)('sessions', () => {
  it('go back to the pool with nothing of theirs left: a new session is served by a warm connection', async () => {
    // Each was closed after use, so every sweep or launch with sql: paid for a new backend (its first read of 10,000 shared buffers: ~390 ms instead of ~90).
    const db = await createTestDb({ migrated: false });
    cleanup(() => db.dispose());
    const [role] = await db.query<{ name: string }>("SELECT 'herald_session_test_' || pg_backend_pid() AS name");
    await db.query(`CREATE ROLE ${role!.name}`);
    cleanup(() => db.query(`DROP ROLE IF EXISTS ${role!.name}`).then(() => {}));
    const first = await db.session(async (s) => {
      await s.query('CREATE TEMP TABLE left_behind (x int)');
      await s.query("SET search_path = pg_temp, public");
      await s.query("SET statement_timeout = '1234s'");
      await s.query('SELECT pg_advisory_lock(4242, 1)');
      await s.query(`SET ROLE ${role!.name}`);
      await s.query('BEGIN');
      await s.query('DECLARE open_cursor CURSOR WITH HOLD FOR SELECT 1');
      await s.query('COMMIT');
      // Left inside a transaction that never ends.
      await s.query('BEGIN');
      await s.query('CREATE TEMP TABLE uncommitted (x int)');
      const [pid] = await s.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      return pid!.pid;
    });
    const second = await db.session(async (s) => {
      const [state] = await s.query<Record<string, unknown>>(
        `SELECT pg_backend_pid() AS pid, current_user = session_user AS "ownRole", current_setting('statement_timeout') AS timeout,
                current_setting('search_path') AS path, to_regclass('pg_temp.left_behind') AS table, to_regclass('pg_temp.uncommitted') AS uncommitted,
                (SELECT count(*)::int FROM pg_cursors) AS cursors, pg_current_xact_id_if_assigned() AS xact,
                (SELECT count(*)::int FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()) AS locks`,
      );
      return state!;
    });
    expect(second).toEqual({ pid: first, ownRole: true, timeout: '0', path: '"$user", public', table: null, uncommitted: null, cursors: 0, xact: null, locks: 0 });
    // The lock was let go: another connection takes it at once.
    const [taken] = await db.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(4242, 1) AS ok');
    expect(taken!.ok).toBe(true);
    await db.query('SELECT pg_advisory_unlock(4242, 1)');
  });

  it('whose connection broke are not handed out again', async () => {
    const db = await createTestDb({ migrated: false });
    cleanup(() => db.dispose());
    const first = await db.session(async (s) => {
      const [pid] = await s.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      await db.query('SELECT pg_terminate_backend($1)', [pid!.pid]);
      await s.query('SELECT 1').catch(() => {});
      return pid!.pid;
    });
    const [after] = await db.session((s) => s.query<{ pid: number; one: number }>('SELECT pg_backend_pid() AS pid, 1 AS one'));
    expect(after!.one).toBe(1);
    expect(after!.pid).not.toBe(first);

    // The same when the session ends with the connection's failure: it is closed without a reset.
    let second = 0;
    await expect(
      db.session(async (s) => {
        const [pid] = await s.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        second = pid!.pid;
        await db.query('SELECT pg_terminate_backend($1)', [second]);
        await s.query('SELECT 1');
      }),
    ).rejects.toThrow();
    const [third] = await db.session((s) => s.query<{ pid: number }>('SELECT pg_backend_pid() AS pid'));
    expect(third!.pid).not.toBe(second);
  });
});
