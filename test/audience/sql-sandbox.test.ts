import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fillStatement, readOnly, sandboxed, sqlConditionKey, withSqlSession, type SqlSandbox } from '../../src/audience/sql-sandbox.js';
import type { Queryable } from '../../src/db/db.js';
import { UserError } from '../../src/errors.js';
import { useCleanups } from '../support/cleanup.js';
import { createTestDb, serverUrl, type TestDb } from '../support/db.js';
import { createShop } from '../support/shop.js';

/*
 * Layer 2 of a sql: condition's confinement on its own: the statements run
 * here skip layer 1 (the allowlist), as a spec that somehow escaped it
 * would, to show what READ ONLY, the timeout, the reader role and the error
 * messages hold by themselves, and what they cannot (why layer 1 exists).
 */

const cleanup = useCleanups();
const SECRET = `secret-${randomBytes(16).toString('hex')}`;
const SANDBOX: SqlSandbox = { schema: 'shop', timeoutSeconds: 30 };

let db: TestDb;
beforeAll(async () => {
  db = await createTestDb();
  await createShop(db, { customers: [1, 2, 3].map((id) => ({ id, email: `c${id}@example.com` })) });
  await db.query("INSERT INTO herald.settings (key, value) VALUES ('link_secret', $1)", [SECRET]);
});
afterAll(() => db?.dispose());

/** Evaluates `text` as a launch does (a READ ONLY transaction that commits), but without layer 1. */
async function unchecked(text: string, sandbox = SANDBOX, after?: (tx: Queryable) => Promise<void>): Promise<number[]> {
  const c = { key: sqlConditionKey(text), text, origin: 'segment/hostile' };
  return withSqlSession(db, sandbox, true, (s) =>
    s.transaction(async (tx) => {
      await tx.query('SET TRANSACTION READ ONLY');
      await sandboxed(tx, sandbox, c.origin, fillStatement(c));
      await after?.(tx);
      const rows = await tx.query<{ customer_id: number }>('SELECT customer_id FROM pg_temp.herald_sql_results ORDER BY 1');
      return rows.map((r) => Number(r.customer_id));
    }),
  );
}

async function failure(p: Promise<unknown>): Promise<UserError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UserError);
  return err as UserError;
}

const lastValue = async (seq: string) => (await db.query<{ last_value: number; is_called: boolean }>(`SELECT last_value, is_called FROM ${seq}`))[0];

describe('layer 2 on its own', () => {
  it('reads the shop and puts every setting back for herald\'s own statements', async () => {
    const [before] = await db.query<{ path: string }>("SELECT current_setting('search_path') AS path");
    expect(
      await unchecked('SELECT id AS customer_id FROM customers WHERE id < 3', SANDBOX, async (tx) => {
        const [after] = await tx.query<{ path: string; timeout: string }>("SELECT current_setting('search_path') AS path, current_setting('statement_timeout') AS timeout");
        expect(after).toEqual({ path: before!.path, timeout: '0' });
      }),
    ).toEqual([1, 2]);
  });

  it('is READ ONLY: setval and nextval on herald\'s sequence fail, and it does not move', async () => {
    const before = await lastValue('herald.messages_id_seq');
    for (const call of ["setval('herald.messages_id_seq', 1000)", "nextval('herald.messages_id_seq')"]) {
      const err = await failure(unchecked(`SELECT ${call} AS customer_id`));
      expect(err.message).toBe(`segment/hostile: its sql: failed: cannot execute ${call.slice(0, call.indexOf('('))}() in a read-only transaction`);
    }
    expect(await lastValue('herald.messages_id_seq')).toEqual(before);
  });

  it('never echoes a value the query read: a failed cast names the error, not the row', async () => {
    const err = await failure(unchecked('SELECT value::int AS customer_id FROM herald.settings'));
    expect(err.message).toBe('segment/hostile: its sql: failed with invalid_text_representation (SQLSTATE 22P02)');
    expect(err.hint).toBe("herald does not print PostgreSQL's message for this error, as it can quote the shop's data; run the query in psql to see it");
    expect(`${err.message} ${err.hint}`).not.toContain(SECRET);
    const zero = await failure(unchecked('SELECT (1 / (id - id))::bigint AS customer_id FROM shop.customers'));
    expect(zero.message).toBe('segment/hostile: its sql: failed with division_by_zero (SQLSTATE 22012)');
  });

  it('keeps identifiers in errors that are raised before any row is read', async () => {
    const err = await failure(unchecked('SELECT customer_id FROM shop.no_such_table'));
    expect(err.message).toBe('segment/hostile: its sql: failed: relation "shop.no_such_table" does not exist');
  });
});

describe.skipIf(!serverUrl)('layer 2 on a PostgreSQL server', () => {
  it('stops at its timeout', async () => {
    const err = await failure(unchecked('SELECT 1 AS customer_id FROM pg_sleep(90)', { ...SANDBOX, timeoutSeconds: 1 }));
    expect(err.message).toBe('segment/hostile: its sql: stopped at its timeout of 1 s');
    expect(err.hint).toContain('source.sql_timeout');
  });

  it('does not print a file it read', async () => {
    const [file] = await db.query<{ text: string }>("SELECT pg_read_file('/etc/hostname') AS text");
    const err = await failure(unchecked("SELECT pg_read_file('/etc/hostname')::int AS customer_id"));
    expect(err.message).toBe('segment/hostile: its sql: failed with invalid_text_representation (SQLSTATE 22P02)');
    expect(err.message).not.toContain(file!.text.trim());
  });

  it('plan and audience roll their look back: a large object lo_import made as herald is not kept', async () => {
    const count = async () => Number((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_largeobject_metadata'))[0]!.n);
    const before = await count();
    const text = "SELECT lo_import('/etc/hostname')::bigint AS customer_id FROM shop.customers";
    const c = { key: sqlConditionKey(text), text, origin: 'segment/hostile' };
    await withSqlSession(db, SANDBOX, true, (s) => readOnly(s, '60s', (tx) => sandboxed(tx, SANDBOX, c.origin, fillStatement(c))));
    expect(await count()).toBe(before);
  });

  describe('as a reader role', () => {
    let role: string;
    let reader: SqlSandbox;
    beforeAll(async () => {
      role = `herald_reader_${randomBytes(4).toString('hex')}`;
      await db.exec(`CREATE ROLE ${role} NOLOGIN; GRANT USAGE ON SCHEMA shop TO ${role}; GRANT SELECT ON ALL TABLES IN SCHEMA shop TO ${role}`);
      reader = { ...SANDBOX, readerRole: role };
    });
    afterAll(async () => {
      await db.exec(`DROP OWNED BY ${role}; DROP ROLE ${role}`);
    });

    it('reads the shop as that role', async () => {
      await db.exec(`CREATE VIEW shop.as_reader AS SELECT id AS customer_id FROM shop.customers WHERE current_user = '${role}'`);
      cleanup(() => db.exec('DROP VIEW shop.as_reader'));
      await db.exec(`GRANT SELECT ON shop.as_reader TO ${role}`);
      expect(await unchecked('SELECT customer_id FROM shop.as_reader', reader)).toEqual([1, 2, 3]);
      expect(await unchecked('SELECT customer_id FROM shop.as_reader', SANDBOX)).toEqual([]);
    });

    it('cannot read herald\'s schema, files or large objects, nor end another backend', async () => {
      const denied = async (text: string) => (await failure(unchecked(text, reader))).message;
      expect(await denied('SELECT value::int AS customer_id FROM herald.settings')).toBe('segment/hostile: its sql: failed: permission denied for schema herald');
      expect(await denied("SELECT pg_read_file('/etc/hostname')::int AS customer_id")).toBe('segment/hostile: its sql: failed: permission denied for function pg_read_file');
      const objects = async () => Number((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_largeobject_metadata'))[0]!.n);
      const before = await objects();
      expect(await denied("SELECT lo_import('/etc/hostname')::bigint AS customer_id")).toBe('segment/hostile: its sql: failed: permission denied for function lo_import');
      expect(await objects()).toBe(before);

      const other = new pg.Client({ connectionString: db.url });
      await other.connect();
      cleanup(() => other.end());
      const [{ pid }] = (await other.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows as [{ pid: number }];
      expect(await denied(`SELECT id AS customer_id FROM shop.customers WHERE pg_terminate_backend(${pid})`)).toMatch(/^segment\/hostile: its sql: failed: (permission denied to terminate process|must be a superuser to terminate superuser process|must be a member of the role whose process is being terminated)/);
      expect((await other.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
    });

    it('cannot stop set_config(\'role\', …) on its own: the reason layer 1 refuses set_config and query_to_xml', async () => {
      // SET ROLE checks the session user, so the query can switch back to herald's role and read through a function that runs SQL.
      const text = `SELECT length(query_to_xml('SELECT value FROM herald.settings', false, false, '')::text)::bigint AS customer_id
                      FROM (SELECT set_config('role', 'none', true) OFFSET 0) AS back`;
      expect(await unchecked(text, reader)).toEqual([expect.any(Number)]);
    });

    it('leaves no session-level lock behind: the session\'s connection is closed after it', async () => {
      await unchecked('SELECT id AS customer_id FROM shop.customers WHERE pg_advisory_lock(4242) IS NOT NULL', reader);
      expect(await db.query("SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")).toEqual([]);
    });
  });
});
