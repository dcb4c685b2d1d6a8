import { randomInt } from 'node:crypto';
import type { Db, HeldLock } from '../db/db.js';

/**
 * A herald process's session in the database: while it delivers, it holds a
 * session-level advisory lock, (SESSION_NAMESPACE, key), on a connection of
 * its own. Each claim records the key (ledger.ts). When the process dies
 * (kill -9, an out-of-memory kill, a lost machine), the server ends its
 * session and releases the lock; a worker that finds claims whose lock
 * nobody holds knows their holder is gone and takes them at once, instead of
 * waiting out their lease. Coordination stays in the database: no registry,
 * no heartbeat table, no coordinator.
 *
 * One session per process and database, shared by the process's workers, so
 * they never take each other's rows, and `--workers 8` costs one connection,
 * not eight. A lost lock (the server ended the connection: a restart,
 * pg_terminate_backend) is taken again by ensure() before the next claim.
 */
export const SESSION_NAMESPACE = 0x68657277; // "herw": herald workers

export interface Session {
  /** The lock's key, recorded with each claim. */
  readonly key: number;
  /**
   * Whether a holder can outlive the server's process: true for a PostgreSQL
   * server (it restarts; live sessions end with it), false for embedded
   * PGlite, which lives and dies with the one process using it.
   */
  readonly outlivesServer: boolean;
  /** Whether the lock is held right now. */
  readonly held: boolean;
  /** Counts the times the lock was taken; a worker that sees it change checks its claims are still its own. */
  readonly generation: number;
  /** Holds the lock, taking it again if it was lost. Throws what the database throws (retrying rides out outages). */
  ensure(): Promise<void>;
  /** This worker is done with the session; the last one releases the lock. */
  release(): Promise<void>;
}

interface Shared {
  db: Db;
  key: number;
  lock: HeldLock | undefined;
  generation: number;
  taking: Promise<void> | undefined;
  users: number;
}

const sessions = new WeakMap<Db, Shared>();

/** This process's session on `db`, shared with its other workers. Call ensure() before claiming. */
export function joinSession(db: Db): Session {
  let s = sessions.get(db);
  if (!s) sessions.set(db, (s = { db, key: drawKey(), lock: undefined, generation: 0, taking: undefined, users: 0 }));
  s.users++;
  const shared = s;
  let released = false;
  return {
    get key() {
      return shared.key;
    },
    outlivesServer: db.kind === 'postgres',
    get held() {
      return !!shared.lock && !shared.lock.lost;
    },
    get generation() {
      return shared.generation;
    },
    ensure() {
      if (shared.lock && !shared.lock.lost) return Promise.resolve();
      shared.taking ??= take(shared).finally(() => (shared.taking = undefined));
      return shared.taking;
    },
    async release() {
      if (released) return;
      released = true;
      if (--shared.users > 0) return;
      sessions.delete(db);
      await shared.taking?.catch(() => {});
      await shared.lock?.release();
    },
  };
}

async function take(s: Shared): Promise<void> {
  await s.lock?.release();
  for (;;) {
    const lock = await s.db.holdLock(SESSION_NAMESPACE, s.key);
    if (lock) {
      s.lock = lock;
      s.generation++;
      return;
    }
    // Another session holds the key: one of this process's the server has
    // not yet seen end (its claims look alive while it lasts), or another
    // process drew the same key. Go on under a new one.
    s.key = drawKey();
  }
}

/** A positive 31-bit key: pg_locks shows it as an oid, the same number. */
function drawKey(): number {
  return randomInt(1, 2 ** 31);
}
