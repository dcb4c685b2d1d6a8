import { UserError } from '../errors.js';

/**
 * The one narrow database interface. Everything above this file is the same
 * SQL on a PostgreSQL server (through `pg`) and on embedded PGlite.
 */
export interface Queryable {
  /** One statement with `$n` parameters. Values are never interpolated. */
  query<R = Record<string, unknown>>(text: string, values?: unknown[], options?: QueryOptions): Promise<R[]>;
  /** A script of several statements without parameters (migrations, DDL). */
  exec(script: string): Promise<void>;
}

export interface QueryOptions {
  /**
   * Keep the statement prepared on the server connection that runs it, under
   * a name made from its text, so the server parses and analyses it once per
   * connection, not at every call: for the statements a worker runs at every
   * batch. The server plans it anew for each call for its first five, then
   * keeps one generic plan if that costs no more; a transaction that has set
   * `plan_cache_mode = force_generic_plan` (SET LOCAL) gets the generic plan
   * from the first call. Embedded PGlite runs it as any other statement.
   */
  prepare?: boolean;
}

/** Statements and transactions, one after another on one connection. */
export interface Session extends Queryable {
  /** Runs `fn` in one transaction: COMMIT when it resolves, ROLLBACK when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
}

/** A session-level advisory lock, held on a connection of its own (Db.holdLock). */
export interface HeldLock {
  /** True once the connection holding it has ended: the server released the lock. */
  readonly lost: boolean;
  /** Releases the lock and closes its connection. */
  release(): Promise<void>;
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
  return /^postgres(ql)?:\/\//i.test(spec);
}

const URL_HINT = 'a PostgreSQL server is postgres://user@host/db; an embedded database is a folder path (write ./name for a folder whose name has a colon)';

/**
 * Refuses a spec a person may have meant as a URL but herald cannot open:
 * empty, or `scheme:…` with a scheme other than postgres(ql)://. Without
 * this, `postgress://…` or `http://…` became a folder of that name and
 * herald planned against a new, empty embedded database. `what` says where
 * the spec came from (--db, $HERALD_DATABASE_URL, …), for the message.
 */
export function checkDbSpec(spec: string, what: string): void {
  if (spec === '') {
    throw new UserError(`${what} is empty`, 'give postgres://user@host/db, or the folder of an embedded database; without --db herald uses .herald/db in the workspace');
  }
  if (isServerUrl(spec)) return;
  // Two letters at least, so a drive letter (C:) is never taken for a scheme.
  const scheme = /^([a-z][a-z0-9+.-]+):/i.exec(spec)?.[1];
  if (!scheme) return;
  const why = /^postgres(ql)?$/i.test(scheme) ? `${scheme}: needs //, as in postgres://host/db` : `unknown scheme ${scheme}:`;
  throw new UserError(`${what} ${redactSpec(spec)} is not a database herald can open: ${why}`, URL_HINT);
}

/**
 * A database spec fit to print: the password of `scheme://user:password@host`
 * and a `password=` parameter become ***. Everything up to the last @ counts
 * as credentials, so a password with / or @ in it is hidden too. Control
 * characters print as \xNN, so a value cannot drive the terminal.
 */
export function redactSpec(spec: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)(.*)@([^@]*)$/is.exec(spec);
  const out = m ? `${m[1]}${m[2]!.includes(':') ? `${m[2]!.slice(0, m[2]!.indexOf(':'))}:***` : m[2]}@${m[3]}` : spec;
  return out
    .replace(/([?&]password=)[^&#]*/gi, '$1***')
    .replace(/[\x00-\x1f\x7f-\x9f]/g, (ch) => `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`);
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
