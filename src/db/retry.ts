import { UserError } from '../errors.js';
import type { Log } from '../log.js';

/**
 * How long a worker rides out a database it cannot reach (a restart, a
 * failover, a database refusing connections) before it gives up, wherever
 * the outage finds it: 60 s, or HERALD_DB_OUTAGE_SECONDS.
 */
const OUTAGE_SECONDS = 60;

export function outageMs(): number {
  const text = process.env.HERALD_DB_OUTAGE_SECONDS;
  if (text === undefined || text === '') return OUTAGE_SECONDS * 1000;
  const s = Number(text);
  if (!Number.isFinite(s) || s <= 0) {
    throw new UserError(`HERALD_DB_OUTAGE_SECONDS=${text} is not a number of seconds`, `leave it unset for ${OUTAGE_SECONDS} s, or give how long to ride out an unreachable database, e.g. 120`);
  }
  return s * 1000;
}

/**
 * A statement that failed because the connection did (a PostgreSQL restart,
 * pg_terminate_backend, a database not accepting connections) is tried
 * again, with backoff, until the database has been unreachable for
 * outageMs(); the pool reconnects. Anything else is thrown.
 */
export async function retrying<T>(log: Log, fn: () => Promise<T>): Promise<T> {
  let giveUpAt: number | undefined;
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (e) {
      if (!isConnectionError(e)) throw e;
      giveUpAt ??= Date.now() + outageMs();
      if (Date.now() >= giveUpAt) throw e;
      log.warn({ err: String((e as Error).message ?? e), attempt: i }, 'database connection lost; retrying');
      await sleep(Math.min(250 * 2 ** (i - 1), 2000));
    }
  }
}

/**
 * Errors the database adapters found to be failures of the connection, not
 * of the statement (postgres.ts marks them). Told apart by where they came
 * from, never by their words: an SMTP server refusing a connection says
 * ECONNREFUSED too, and is no database outage.
 */
const lost = new WeakSet<object>();

export function markConnectionLost<E>(err: E): E {
  if (typeof err === 'object' && err !== null) lost.add(err);
  return err;
}

export function isConnectionError(e: unknown): boolean {
  return typeof e === 'object' && e !== null && lost.has(e);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
