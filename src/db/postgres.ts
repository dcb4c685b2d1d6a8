import { createHash } from 'node:crypto';
import pg from 'pg';
import { redactSpec, type Db, type HeldLock, type Queryable, type QueryOptions, type Session } from './db.js';
import { isConnectionError, markConnectionLost } from './retry.js';

// int8 (counts, ids) as JS numbers, as PGlite returns them: herald's ids and
// counts stay far below 2^53, and one representation keeps callers simple.
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === 20) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format);
  },
};

/**
 * Whether `err` is a failure of the connection rather than of the statement:
 * the socket failed, the server ended the session (a restart, a failover,
 * pg_terminate_backend), or, while connecting, the server does not take
 * connections now (starting up or shutting down, too many connections, the
 * database not accepting connections). Those are marked (retry.ts), so
 * workers ride them out; everything else is the statement's own error.
 */
function connectionFailure(err: unknown, connecting: boolean): boolean {
  if (err instanceof pg.DatabaseError) {
    const code = err.code ?? '';
    if (code.startsWith('08') || ['57P01', '57P02', '57P03', '57P05'].includes(code)) return true;
    // 53300 too_many_connections; 55000 "database … is not currently accepting connections" (ALLOW_CONNECTIONS false).
    return connecting && ['53300', '55000'].includes(code);
  }
  if (!(err instanceof Error)) return false;
  // A socket error carries its system call or errno name (ECONNREFUSED,
  // ECONNRESET, …; an AggregateError when several addresses were tried);
  // pg's own errors for a connection that went away say so.
  const e = err as { syscall?: unknown; code?: unknown };
  return typeof e.syscall === 'string' || (typeof e.code === 'string' && /^E[A-Z_]+$/.test(e.code)) || /^(Connection terminated|Client has encountered a connection error|Client was closed)/.test(err.message);
}

function marked(err: unknown, connecting: boolean): unknown {
  return connectionFailure(err, connecting) ? markConnectionLost(err) : err;
}

async function connect(pool: pg.Pool): Promise<pg.PoolClient> {
  try {
    return await pool.connect();
  } catch (err) {
    throw marked(err, true);
  }
}

/**
 * The name a prepared statement has on every connection: a hash of its text,
 * so one text is parsed once per connection and two texts never share a
 * name (pg refuses that). Kept per text, since the texts are a few and long.
 */
const statementNames = new Map<string, string>();

function statementName(text: string): string {
  let name = statementNames.get(text);
  if (!name) {
    if (statementNames.size > 1000) statementNames.clear();
    name = `herald_${createHash('sha256').update(text).digest('hex').slice(0, 32)}`;
    statementNames.set(text, name);
  }
  return name;
}

/** The prepared statements that have run on each connection. */
const ran = new WeakMap<pg.PoolClient, Set<string>>();

function ranOn(client: pg.PoolClient): Set<string> {
  let names = ran.get(client);
  if (!names) ran.set(client, (names = new Set()));
  return names;
}

/**
 * Whether a prepared statement failed because it went stale: a column it
 * returns changed type since it was prepared on this connection (the shop
 * migrated), which PostgreSQL refuses with 0A000 ("cached plan must not
 * change result type") at every run until the connection ends. Such a
 * failure is the connection's, as a lost one is: it is dropped (using(),
 * below) and whoever retries (retry.ts) prepares the statement afresh on
 * another. A statement that fails the first time it runs is its own error.
 */
function stale(client: pg.PoolClient, name: string, err: unknown): boolean {
  return err instanceof pg.DatabaseError && err.code === '0A000' && ranOn(client).has(name);
}

/** A client's queries; their errors marked when the connection failed. */
function wrap(client: pg.PoolClient): Queryable {
  return {
    async query(text, values, options) {
      const name = options?.prepare ? statementName(text) : undefined;
      try {
        const rows = (await client.query(name ? { name, text, values: values as unknown[] | undefined } : { text, values: values as unknown[] | undefined })).rows as never[];
        if (name) ranOn(client).add(name);
        return rows;
      } catch (err) {
        if (name && stale(client, name, err)) {
          throw markConnectionLost(new Error(`a statement prepared on this connection no longer fits the tables it reads (${(err as Error).message}): the connection is dropped, and the statement prepared again on the next`));
        }
        throw marked(err, false);
      }
    },
    async exec(script) {
      try {
        // Without parameters pg uses the simple protocol, which runs several statements.
        await client.query(script);
      } catch (err) {
        throw marked(err, false);
      }
    },
  };
}

export function openPostgres(url: string): Db {
  const pool = new pg.Pool({ connectionString: url, types, max: 10, application_name: 'herald' });
  // An idle client that loses its server must not crash the process; the next query reports it.
  pool.on('error', () => {});
  const where = redactSpec(url);
  /** Runs fn on a client of the pool; a client whose connection failed is discarded, not reused. */
  const using = async <T>(fn: (q: Queryable) => Promise<T>): Promise<T> => {
    const client = await connect(pool);
    // A checked-out client whose connection dies emits 'error'; the statement in flight rejects with it.
    const ignore = () => {};
    client.on('error', ignore);
    let failure: unknown;
    try {
      return await fn(wrap(client));
    } catch (err) {
      failure = err;
      throw err;
    } finally {
      client.off('error', ignore);
      client.release(isConnectionError(failure) ? (failure as Error) : undefined);
    }
  };
  return {
    kind: 'postgres',
    where,
    query<R>(text: string, values?: unknown[], options?: QueryOptions) {
      return using((q) => q.query<R>(text, values, options));
    },
    exec(script) {
      return using((q) => q.exec(script));
    },
    transaction(fn) {
      return using((q) => inTransaction(q, fn));
    },
    holdLock: (namespace, key) => holdLock(url, namespace, key),
    session: (fn) => pinnedSession(pool, fn),
    async close() {
      await pool.end();
    },
  };
}

/** `fn` in one transaction on `q`'s connection: COMMIT when it resolves, ROLLBACK when it throws. */
async function inTransaction<T>(q: Queryable, fn: (tx: Queryable) => Promise<T>): Promise<T> {
  await q.query('BEGIN');
  try {
    const result = await fn(q);
    await q.query('COMMIT');
    return result;
  } catch (err) {
    await q.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

/**
 * Db.session: one pooled connection for the whole of `fn`. Whatever `fn`
 * left in it (temporary tables, settings, a role, session-level locks, open
 * cursors) is reset afterwards, and the connection goes back to the pool
 * (closed instead when the reset fails: the connection is broken).
 *
 * It was closed after every session: each sweep or launch with a `sql:`
 * condition then paid for a new connection, and PostgreSQL's new backend
 * for its first touch of every shared buffer it read (a trigger's query
 * over 10,000 order pages: ~390 ms in a new backend, ~90 ms in a pooled
 * one, on the sweep bench).
 */
async function pinnedSession<T>(pool: pg.Pool, fn: (s: Session) => Promise<T>): Promise<T> {
  const client = await connect(pool);
  const ignore = () => {};
  client.on('error', ignore);
  const q = wrap(client);
  const session: Session = { ...q, transaction: (body) => inTransaction(q, body) };
  let reusable = false;
  let failure: unknown;
  try {
    return await fn(session);
  } catch (err) {
    failure = err;
    throw err;
  } finally {
    // A connection that failed under `fn` is closed as it is: a reset could wait on a server that is gone.
    if (!isConnectionError(failure)) {
      try {
        // As closing it would: what `fn` left uncommitted is undone (outside a transaction, a warning only).
        await client.query('ROLLBACK');
        await client.query(RESET_SESSION);
        reusable = true;
      } catch {
        // Closed below.
      }
    }
    client.off('error', ignore);
    client.release(!reusable);
  }
}

/**
 * resetSession: DISCARD ALL but for DEALLOCATE ALL (the pool's prepared
 * statements stay, as pg's client remembers them by connection), after a
 * ROLLBACK. A broken connection fails it, and is closed.
 */
const RESET_SESSION = `CLOSE ALL; SET SESSION AUTHORIZATION DEFAULT; RESET ALL; UNLISTEN *; SELECT pg_advisory_unlock_all(); DISCARD TEMP; DISCARD SEQUENCES`;

/**
 * An advisory lock on a connection outside the pool, so it lives exactly as
 * long as that session: the pool's idle connections come and go. TCP
 * keepalive makes a connection to a server that vanished end, rather than
 * look alive for hours.
 */
async function holdLock(url: string, namespace: number, key: number): Promise<HeldLock | undefined> {
  const client = new pg.Client({ connectionString: url, types, application_name: 'herald', keepAlive: true });
  let lost = false;
  const end = () => void (lost = true);
  client.on('error', end);
  client.on('end', end);
  try {
    await client.connect();
  } catch (err) {
    throw marked(err, true);
  }
  try {
    const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS locked', [namespace, key]);
    if (!rows[0]!.locked) {
      await client.end();
      return undefined;
    }
  } catch (err) {
    await client.end().catch(() => {});
    throw marked(err, false);
  }
  return {
    get lost() {
      return lost;
    },
    async release() {
      lost = true;
      await client.end().catch(() => {});
    },
  };
}
