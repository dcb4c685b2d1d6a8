import pg from 'pg';
import type { Db, Queryable } from './db.js';

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
    async close() {
      await pool.end();
    },
  };
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
