import { evaluateSqlConditions, evaluateSqlEvent, readOnly, sqlSandbox, withSqlSession, type SqlEvent } from '../audience/sql-sandbox.js';
import type { Db, Queryable, Session } from '../db/db.js';
import { sourceSchema } from '../workspace/model.js';
import { recordStock } from './stock.js';
import { effectiveStatus } from '../state/overrides.js';
import { exitQueued as exitQueuedRows } from '../ledger/ledger.js';
import { disableTrigger, enableTrigger, markSwept, triggerRun } from '../ledger/runs.js';
import { audienceSqlConditions, sweepSql, sweepWindow, type SweepSubject } from './sweep-sql.js';

/**
 * A trigger's sweep: its new occurrences into the ledger, in one set-based
 * INSERT … SELECT (sweep-sql.ts), never a loop of round trips. The ledger's
 * workers send them like a campaign's messages.
 *
 * A sweep runs in one transaction under an advisory lock of its own
 * trigger, so overlapping sweeps (two tick processes, a slow sweep and the
 * next) run one after the other, and each sees what the other inserted; the
 * ledger's unique key (source, channel, customer, occurrence) would make a
 * second insert of an occurrence a no-op anyway. A trigger's run row
 * (herald.runs) is made by its first active sweep: `enabled_at`, the
 * back-fill horizon's anchor, and `swept_at`, where the next sweep's window
 * starts (sweepWindow).
 *
 * `sql:` (the trigger's event, or in its audience) runs first, in a READ
 * ONLY transaction of its own on the same connection (sql-sandbox.ts), as a
 * launch does; the sweep's transaction then reads the results.
 *
 * herald never writes the shop's schema: a sweep only reads it.
 */

export interface SweepInput extends SweepSubject {
  now: Date;
  /** The deployed versions the messages render from (herald.object_versions). */
  versions: { source: number | null; template: number | null };
}

export interface SweepResult {
  inserted: number;
  /**
   * Occurrences due before the back-fill horizon, not inserted: those of
   * the window's part before it (LOOKBACK of them at the enabling sweep;
   * sweepWindow), whatever the customer's bucket.
   */
  skippedByHorizon: number;
}

export type PreviewInput = Omit<SweepInput, 'versions'>;

export interface SweepPreview {
  /** Messages the sweep would queue now (recipients only; not those it would record as suppressed). */
  wouldSend: number;
  skippedByHorizon: number;
}

/** Two-int advisory lock key (namespace, hashtext(trigger)); pg_locks shows it as (classid, objid). */
const SWEEP_LOCK = 0x68657274; // "hert": herald triggers

const PAUSED_REASON = 'trigger paused';

/**
 * sweepTrigger: one sweep of a trigger at `now`. A trigger whose status in
 * force is not active sweeps nothing and settles its queued rows instead
 * (exitPausedTrigger); the status is read again under the lock, so a pause
 * that lands while the user's sql: runs still wins. A paused trigger's
 * window does not move: its first sweep after a resume reads from its last
 * sweep before the pause (less LOOKBACK), so what fell due during the pause
 * goes out then.
 */
export async function sweepTrigger(db: Db, i: SweepInput): Promise<SweepResult> {
  const none = { inserted: 0, skippedByHorizon: 0 };
  if ((await triggerStatus(db, i)) !== 'active') {
    await exitPausedTrigger(db, i.name);
    return none;
  }
  const sandbox = sqlSandbox(i.project);
  const conditions = audienceSqlConditions(i, i.now);
  const event = sqlEvent(i);
  return withSqlSession(db, sandbox, conditions.length > 0 || event !== undefined, async (s) => {
    if (conditions.length > 0 || event) {
      await s.transaction(async (tx) => {
        await evaluateSqlConditions(tx, conditions, sandbox);
        if (event) await evaluateSqlEvent(tx, event, sandbox);
      });
    }
    return s.transaction(async (tx) => {
      await lock(tx, i.name);
      if ((await triggerStatus(tx, i)) !== 'active') {
        await exitQueued(tx, i.name);
        return none;
      }
      await noJit(tx);
      const run = await enableTrigger(tx, i.name, i.now);
      if (i.spec.event === 'back_in_stock') await recordStock(tx, sourceSchema(i.project), i.now);
      const sql = sweepSql(i, sweepWindow(run, i.spec, i.now), { insert: i.versions });
      const [row] = await tx.query<{ inserted: number; skipped: number }>(sql.text, sql.values);
      await markSwept(tx, i.name, i.now);
      return { inserted: row!.inserted, skippedByHorizon: row!.skipped };
    });
  });
}

/**
 * previewSweep: what sweepTrigger would do at `now`, from the same
 * statement, counting instead of inserting, in a READ ONLY transaction
 * rolled back at the end (nothing is written: not the run row, not the
 * stock seen). A trigger never swept counts as enabled at `now`. The status
 * is not consulted: `herald plan` shows what the trigger would send once
 * active.
 */
export async function previewSweep(db: Db, i: PreviewInput, timeout = '60s'): Promise<SweepPreview> {
  const sandbox = sqlSandbox(i.project);
  const conditions = audienceSqlConditions(i, i.now);
  const event = sqlEvent(i);
  return withSqlSession(db, sandbox, conditions.length > 0 || event !== undefined, (s) =>
    readOnly(s, timeout, async (tx) => {
      await evaluateSqlConditions(tx, conditions, sandbox);
      if (event) await evaluateSqlEvent(tx, event, sandbox);
      await noJit(tx);
      const run = (await triggerRun(tx, i.name)) ?? { enabledAt: i.now, sweptAt: null };
      const sql = sweepSql(i, sweepWindow(run, i.spec, i.now), 'count');
      const [row] = await tx.query<{ would_send: number; skipped: number }>(sql.text, sql.values);
      return { wouldSend: row!.would_send, skippedByHorizon: row!.skipped };
    }),
  );
}

/**
 * exitPausedTrigger: a paused trigger's still-queued rows settle `exited`
 * with the reason 'trigger paused', in one UPDATE (on messages_due's
 * partial index), under the trigger's sweep lock so that rows a running
 * sweep is inserting are settled too. Claimed rows are the claim's to
 * settle. Returns how many rows settled.
 */
export async function exitPausedTrigger(db: Session, name: string): Promise<number> {
  return db.transaction(async (tx) => {
    await lock(tx, name);
    return exitQueued(tx, name);
  });
}

/** A paused trigger: its queued rows exit, and resuming it will be enabling it again (disableTrigger). */
async function exitQueued(tx: Queryable, name: string): Promise<number> {
  await disableTrigger(tx, name);
  return exitQueuedRows(tx, { kind: 'trigger', name }, PAUSED_REASON);
}

/**
 * A sweep's statement is planned anew every tick, and its estimates can be
 * large (an audience of order aggregates costs a pass over orders): past
 * jit_above_cost PostgreSQL compiles it, which took a second (on a shop of a
 * million orders) to save nothing on a statement that touches a few hundred
 * rows. Off for the transaction.
 */
async function noJit(tx: Queryable): Promise<void> {
  await tx.query("SELECT set_config('jit', 'off', true)");
}

/** sweepLock: held to the end of the transaction; hashtext folds the name into the lock's second int. */
async function lock(tx: Queryable, name: string): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [SWEEP_LOCK, name]);
}

/**
 * triggerStatus: the status in force, an override (herald pause / resume,
 * kind 'trigger') when there is one, else the deployed spec's, which
 * defaults to paused. Anything but active sweeps nothing.
 */
async function triggerStatus(db: Queryable, i: SweepSubject): Promise<string> {
  return (await effectiveStatus(db, i.name, i.spec.status ?? 'paused', 'trigger')).status;
}

function sqlEvent(i: SweepSubject): SqlEvent | undefined {
  if (i.spec.event !== 'sql') return undefined;
  if (!i.spec.sql) throw new Error(`trigger "${i.name}" has event sql but no sql`);
  return { text: i.spec.sql, origin: `trigger/${i.name}` };
}
