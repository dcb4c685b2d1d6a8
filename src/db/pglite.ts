import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import type { Db, Queryable, Session } from './db.js';

function wrap(conn: Pick<PGlite, 'query' | 'exec'>): Queryable {
  return {
    async query(text, values) {
      const res = await conn.query(text, values as unknown[] | undefined);
      return res.rows as never[];
    },
    async exec(script) {
      await conn.exec(script);
    },
  };
}

/** PGlite in a data directory, or in memory for `memory://`. One process at a time. */
export async function openPglite(dir: string): Promise<Db> {
  const inMemory = dir === 'memory://';
  if (!inMemory) mkdirSync(dir, { recursive: true });
  const pglite = inMemory ? new PGlite() : new PGlite(dir);
  await pglite.waitReady;
  return {
    kind: 'pglite',
    where: inMemory ? 'memory' : dir,
    ...wrap(pglite),
    transaction(fn) {
      return pglite.transaction((tx) => fn(wrap(tx)));
    },
    session: sessions(pglite),
    // One process, one session: the lock is held on it, and never lost while the database is open.
    async holdLock(namespace, key) {
      const { rows } = await pglite.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS locked', [namespace, key]);
      if (!rows[0]!.locked) return undefined;
      return {
        lost: false,
        async release() {
          await pglite.query('SELECT pg_advisory_unlock($1, $2)', [namespace, key]).catch(() => {});
        },
      };
    },
    async close() {
      await pglite.close();
    },
  };
}

/**
 * Db.session on PGlite: its one connection is every session's, so sessions
 * take turns (a temporary table would otherwise be shared by two of them).
 * Statements outside sessions still run in between.
 */
function sessions(pglite: PGlite): Db['session'] {
  let last: Promise<unknown> = Promise.resolve();
  const session: Session = {
    ...wrap(pglite),
    transaction: (fn) => pglite.transaction((tx) => fn(wrap(tx))),
  };
  return <T>(fn: (s: Session) => Promise<T>): Promise<T> => {
    const run = last.then(() => fn(session));
    last = run.catch(() => {});
    return run;
  };
}
