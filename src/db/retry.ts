import type { Log } from '../log.js';

/**
 * How long a worker rides out a database it cannot reach (a restart, a
 * failover) before it gives up, wherever in a batch the outage finds it.
 */
const OUTAGE_MS = 60_000;

/**
 * A statement that failed because the connection did (a PostgreSQL restart,
 * pg_terminate_backend) is tried again, with backoff, until the database has
 * been unreachable for OUTAGE_MS; the pool reconnects. Anything else is
 * thrown.
 */
export async function retrying<T>(log: Log, fn: () => Promise<T>): Promise<T> {
  let giveUpAt: number | undefined;
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (e) {
      giveUpAt ??= Date.now() + OUTAGE_MS;
      if (!isConnectionError(e) || Date.now() >= giveUpAt) throw e;
      log.warn({ err: String((e as Error).message ?? e), attempt: i }, 'database connection lost; retrying');
      await sleep(Math.min(250 * 2 ** (i - 1), 2000));
    }
  }
}

export function isConnectionError(e: unknown): boolean {
  const code = (e as { code?: string }).code ?? '';
  const message = String((e as Error).message ?? '');
  return /^(08|57P0)/.test(code) || /ECONNREFUSED|ECONNRESET|terminat|Connection terminated|connection.*closed|Client has encountered a connection error/i.test(`${code} ${message}`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
