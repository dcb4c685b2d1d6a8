import pg from 'pg';
import type { Db, Queryable, Session } from './db.js';

// int8 (counts, ids) as JS numbers, as PGlite returns them: herald's ids and
// counts stay far below 2^53, and one representation keeps callers simple.
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === 20) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format);
  },
};

function wrap(client: pg.Pool | pg.PoolClient): Queryable {
  return {
    async query(text, values) {
      const res = await client.query(text, values as unknown[] | undefined);
      return res.rows;
    },
    async exec(script) {
      // Without parameters pg uses the simple protocol, which runs several statements.
      await client.query(script);
    },
  };
}

export function openPostgres(url: string): Db {
  const pool = new pg.Pool({ connectionString: url, types, max: 10, application_name: 'herald' });
  // An idle client that loses its server must not crash the process; the next query reports it.
  pool.on('error', () => {});
  const where = redact(url);
  return {
    kind: 'postgres',
    where,
    ...wrap(pool),
    async transaction(fn) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await fn(wrap(client));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      } finally {
        client.release();
      }
    },
    session: (fn) => pinnedSession(pool, fn),
    async close() {
      await pool.end();
    },
  };
}

/**
 * Db.session: one pooled connection for the whole of `fn`. The connection is
 * closed afterwards rather than returned to the pool, so whatever `fn` left
 * in it (temporary tables, settings, a session-level lock) goes with it.
 */
async function pinnedSession<T>(pool: pg.Pool, fn: (s: Session) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  const session: Session = {
    ...wrap(client),
    async transaction(body) {
      await client.query('BEGIN');
      try {
        const result = await body(wrap(client));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      }
    },
  };
  try {
    return await fn(session);
  } finally {
    client.release(true);
  }
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://…';
  }
}
