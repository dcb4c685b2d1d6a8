/**
 * The one narrow database interface. Everything above this file is the same
 * SQL on a PostgreSQL server (through `pg`) and on embedded PGlite.
 */
export interface Queryable {
  /** One statement with `$n` parameters. Values are never interpolated. */
  query<R = Record<string, unknown>>(text: string, values?: unknown[]): Promise<R[]>;
  /** A script of several statements without parameters (migrations, DDL). */
  exec(script: string): Promise<void>;
}

/** A session-level advisory lock, held on a connection of its own (Db.holdLock). */
export interface HeldLock {
  /** True once the connection holding it has ended: the server released the lock. */
  readonly lost: boolean;
  /** Releases the lock and closes its connection. */
  release(): Promise<void>;
}

export interface Db extends Queryable {
  /** Runs `fn` in one transaction: COMMIT when it resolves, ROLLBACK when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * Takes the advisory lock (namespace, key) for the session of a connection
   * kept for it alone, until release() or until that connection ends; other
   * sessions see it in pg_locks. Undefined when another session holds it.
   * Embedded PGlite has one session, so there the lock is simply held.
   */
  holdLock(namespace: number, key: number): Promise<HeldLock | undefined>;
  close(): Promise<void>;
  /** `postgres` or `pglite`, for messages only. */
  readonly kind: 'postgres' | 'pglite';
  /** Where the database is, without credentials, for messages. */
  readonly where: string;
}

/** An error from PostgreSQL carries its SQLSTATE; branch on that, never on text. */
export function sqlState(err: unknown): string | undefined {
  if (err && typeof err === 'object' && 'code' in err && typeof (err as { code: unknown }).code === 'string') {
    return (err as { code: string }).code;
  }
  return undefined;
}

export function isServerUrl(spec: string): boolean {
  return /^postgres(ql)?:\/\//.test(spec);
}

/**
 * Opens the database named by `spec`: a `postgres://` URL selects a server,
 * anything else is a PGlite data directory (`memory://` for a throwaway one).
 */
export async function openDb(spec: string): Promise<Db> {
  if (isServerUrl(spec)) {
    const { openPostgres } = await import('./postgres.js');
    return openPostgres(spec);
  }
  const { openPglite } = await import('./pglite.js');
  return openPglite(spec);
}
