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

/** Statements and transactions, one after another on one connection. */
export interface Session extends Queryable {
  /** Runs `fn` in one transaction: COMMIT when it resolves, ROLLBACK when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
}

export interface Db extends Session {
  /**
   * Runs `fn` on one connection held for its whole length, so a temporary
   * table filled in one of its transactions is there in the next (how a
   * `sql:` condition is evaluated read-only before a launch writes the
   * ledger; src/audience/sql-sandbox.ts). Sessions run one at a time on
   * PGlite; never open one inside another. Nothing the session leaves in its
   * connection outlives it.
   */
  session<T>(fn: (s: Session) => Promise<T>): Promise<T>;
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
