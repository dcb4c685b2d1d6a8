import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { openDb } from '../../src/db/db.js';
import { isConnectionError, outageMs, retrying } from '../../src/db/retry.js';
import { silentLog } from '../../src/log.js';
import { SmtpPool, parseSmtpUrl } from '../../src/channels/email/smtp.js';
import { useCleanups } from '../support/cleanup.js';
import { createTestDb, serverUrl, withDatabase } from '../support/db.js';
import { closedPort } from '../support/ports.js';

/**
 * Which failures are the database's connection (ridden out, then "lost the
 * database") and which are not. Told apart by where the error came from:
 * the PostgreSQL adapter marks its own; an SMTP server refusing a connection
 * says ECONNREFUSED too and is not a database outage (issue 12, item 11).
 */
const cleanup = useCleanups();

async function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e,
  );
}

describe('isConnectionError', () => {
  it('an SMTP server refusing the connection is no database outage', async () => {
    const port = await closedPort();
    const pool = new SmtpPool(parseSmtpUrl(`smtp://127.0.0.1:${port}`), { pool: 1, socketTimeoutMs: 5000 });
    cleanup(() => pool.close());
    const err = await failure(pool.send({ from: 'a@example.com', to: 'b@example.com' }, Buffer.from('Subject: x\r\n\r\nx\r\n')));
    expect(String((err as Error).message)).toMatch(/connection refused/);
    expect((err as { code: string }).code).toBe('ECONNREFUSED');
    expect(isConnectionError(err)).toBe(false);
    // Nor is anything else that merely reads like one.
    expect(isConnectionError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }))).toBe(false);
    expect(isConnectionError(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }))).toBe(false);
  });

  it.skipIf(!serverUrl)('a PostgreSQL server nothing listens for is an outage', async () => {
    const url = new URL(serverUrl!);
    url.port = String(await closedPort());
    const db = await openDb(url.toString());
    cleanup(() => db.close());
    expect(isConnectionError(await failure(db.query('SELECT 1')))).toBe(true);
  });

  it.skipIf(!serverUrl)("a database not accepting connections (55000 at connect) is an outage; 55000 from a statement is the statement's", async () => {
    const test = await createTestDb({ migrated: false });
    cleanup(() => test.dispose());
    const name = new URL(test.url!).pathname.slice(1);
    const admin = new pg.Client({ connectionString: withDatabase(serverUrl!, 'postgres') });
    await admin.connect();
    cleanup(async () => {
      await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
      await admin.end();
    });
    // currval before nextval: 55000, object_not_in_prerequisite_state, from a working connection.
    await test.query('CREATE SEQUENCE s');
    const statement = await failure(test.query("SELECT currval('s')"));
    expect((statement as { code: string }).code).toBe('55000');
    expect(isConnectionError(statement)).toBe(false);

    await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
    const db = await openDb(test.url!);
    cleanup(() => db.close());
    const refused = await failure(db.query('SELECT 1'));
    expect((refused as { code: string }).code).toBe('55000');
    expect(isConnectionError(refused)).toBe(true);
  });

  it.skipIf(!serverUrl)('a session the server ends (pg_terminate_backend) is an outage; a bad statement is not', async () => {
    const db = await createTestDb({ migrated: false });
    cleanup(() => db.dispose());
    const bad = await failure(db.query("SELECT 'x'::int"));
    expect((bad as { code: string }).code).toBe('22P02');
    expect(isConnectionError(bad)).toBe(false);
    const killed = await failure(db.query('SELECT pg_terminate_backend(pg_backend_pid())'));
    expect(isConnectionError(killed)).toBe(true);
    // The pool reconnects: the next statement works.
    expect(await db.query<{ one: number }>('SELECT 1 AS one')).toEqual([{ one: 1 }]);
  });
});

describe('retrying', () => {
  const env = process.env.HERALD_DB_OUTAGE_SECONDS;
  afterEach(() => {
    if (env === undefined) delete process.env.HERALD_DB_OUTAGE_SECONDS;
    else process.env.HERALD_DB_OUTAGE_SECONDS = env;
  });

  it('throws what is not a connection failure at once', async () => {
    let calls = 0;
    const err = await failure(
      retrying(silentLog, async () => {
        calls++;
        throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:25'), { code: 'ECONNREFUSED' });
      }),
    );
    expect((err as Error).message).toMatch(/ECONNREFUSED/);
    expect(calls).toBe(1);
  });

  it('rides out the outage grace: 60 s unless HERALD_DB_OUTAGE_SECONDS says otherwise; a bad value is refused', () => {
    delete process.env.HERALD_DB_OUTAGE_SECONDS;
    expect(outageMs()).toBe(60_000);
    process.env.HERALD_DB_OUTAGE_SECONDS = '2.5';
    expect(outageMs()).toBe(2_500);
    for (const bad of ['abc', '-1', '0']) {
      process.env.HERALD_DB_OUTAGE_SECONDS = bad;
      expect(() => outageMs()).toThrow(`HERALD_DB_OUTAGE_SECONDS=${bad} is not a number of seconds`);
    }
  });
});
