import type { Queryable } from '../db/db.js';
import { SENDING_STATUS, type SourceKind, type SourceRef } from './source.js';

/**
 * Every query on herald.runs: what actually happened to a source once it
 * started sending. A campaign's run starts at launch (its audience
 * materialised) and completes when every row is settled; a trigger's starts
 * when it is first swept as active (enabled_at anchors its back-fill horizon)
 * and never completes. The run also carries the circuit breaker's counts.
 */

/**
 * startRun: records a source's start. Returns false when it had already
 * started: the row is the once-only guard of a campaign's launch, even
 * against a concurrent one.
 */
export async function startRun(db: Queryable, source: SourceRef, now: Date): Promise<boolean> {
  const rows = await db.query(
    `INSERT INTO herald.runs (source_kind, source, phase, launched_at, enabled_at) VALUES ($1, $2, 'sending', $3, $3)
     ON CONFLICT (source_kind, source) DO NOTHING RETURNING source`,
    [source.kind, source.name, now],
  );
  return rows.length === 1;
}

/**
 * countAttempts: adds a batch to the run's attempt and policy-refusal counts
 * and returns the totals, for the circuit breaker.
 */
export async function countAttempts(db: Queryable, source: SourceRef, attempts: number, policy: number): Promise<{ attempts: number; policy_refusals: number }> {
  const [row] = await db.query<{ attempts: number; policy_refusals: number }>(
    `UPDATE herald.runs SET attempts = attempts + $3, policy_refusals = policy_refusals + $4
      WHERE source_kind = $1 AND source = $2 RETURNING attempts, policy_refusals`,
    [source.kind, source.name, attempts, policy],
  );
  return row ?? { attempts: 0, policy_refusals: 0 };
}

/**
 * completeIfDone: a campaign's run is completed when every row is terminal:
 * none queued, claimed or waiting. A trigger's run never completes: its next
 * sweep may add rows.
 */
export async function completeIfDone(db: Queryable, source: SourceRef, now: Date): Promise<boolean> {
  if (source.kind !== 'campaign') return false;
  const rows = await db.query(
    `UPDATE herald.runs SET phase = 'completed', completed_at = $2
      WHERE source_kind = 'campaign' AND source = $1 AND phase = 'sending'
        AND NOT EXISTS (SELECT 1 FROM herald.messages
                         WHERE source_kind = 'campaign' AND source = $1 AND status IN ('queued', 'claimed', 'waiting'))
      RETURNING source`,
    [source.name, now],
  );
  return rows.length === 1;
}

/**
 * sendingSources: the runs not yet completed whose source is still deployed
 * and in its sending status (its status in force, overrides included),
 * oldest first: what workers deliver. A source archived or deleted mid-run
 * keeps its ledger for reports and sends nothing more; a paused one waits
 * for resume; a cancelled campaign is left alone for good, its unsent rows
 * reported as not sent.
 */
export async function sendingSources(db: Queryable, kind?: SourceKind): Promise<SourceRef[]> {
  const rows = await db.query<{ kind: SourceKind; name: string }>(
    `SELECT r.source_kind AS kind, r.source AS name FROM herald.runs r
       JOIN herald.objects o ON o.kind = r.source_kind AND o.name = r.source AND o.archived_at IS NULL
       LEFT JOIN herald.overrides v ON v.kind = r.source_kind AND v.name = r.source
      WHERE r.phase = 'sending' AND ($1::text IS NULL OR r.source_kind = $1)
        AND coalesce(v.status, o.spec->>'status', CASE r.source_kind WHEN 'campaign' THEN $2 ELSE $3 END)
            = CASE r.source_kind WHEN 'campaign' THEN $4 ELSE $5 END
      ORDER BY r.launched_at, r.source_kind, r.source`,
    [kind ?? null, SENDING_STATUS.campaign.default, SENDING_STATUS.trigger.default, SENDING_STATUS.campaign.sends, SENDING_STATUS.trigger.sends],
    // Asked before every batch (isSending): parsed once per connection.
    { prepare: true },
  );
  return rows;
}

/** isSending: whether a source is among those sending (sendingSources): a batch claimed ahead goes only if so. */
export async function isSending(db: Queryable, source: SourceRef): Promise<boolean> {
  return (await sendingSources(db, source.kind)).some((s) => s.name === source.name);
}

/** runPhase: whether (and how far) the source has run. */
export async function runPhase(db: Queryable, source: SourceRef): Promise<'sending' | 'completed' | undefined> {
  const [row] = await db.query<{ phase: 'sending' | 'completed' }>('SELECT phase FROM herald.runs WHERE source_kind = $1 AND source = $2', [source.kind, source.name]);
  return row?.phase;
}

/** enabledAt: when a trigger was first swept as active (its run's start); null before. */
export async function enabledAt(db: Queryable, source: SourceRef): Promise<Date | null> {
  const [row] = await db.query<{ enabled_at: Date | null }>('SELECT enabled_at FROM herald.runs WHERE source_kind = $1 AND source = $2', [source.kind, source.name]);
  return row?.enabled_at ? new Date(row.enabled_at) : null;
}

/** A run, with the number of ledger rows it has: for plan's facts and `herald state list`. */
export interface RunSummary {
  kind: SourceKind;
  name: string;
  phase: 'sending' | 'completed';
  messages: number;
  enabledAt: Date | null;
}

/** allRuns: every run, with its row count (one grouped scan of the ledger). */
export async function allRuns(db: Queryable): Promise<RunSummary[]> {
  const rows = await db.query<{ kind: SourceKind; name: string; phase: 'sending' | 'completed'; messages: number; enabled_at: Date | null }>(
    `SELECT r.source_kind AS kind, r.source AS name, r.phase, coalesce(m.n, 0)::int AS messages, r.enabled_at
       FROM herald.runs r
       LEFT JOIN (SELECT source_kind, source, count(*) AS n FROM herald.messages GROUP BY 1, 2) m
              ON m.source_kind = r.source_kind AND m.source = r.source
      ORDER BY r.source_kind, r.source`,
  );
  return rows.map((r) => ({ kind: r.kind, name: r.name, phase: r.phase, messages: r.messages, enabledAt: r.enabled_at ? new Date(r.enabled_at) : null }));
}

/** launchedAtForUpdate: a campaign's launch time, its run row locked: the A/B decision is taken once. */
export async function launchedAtForUpdate(db: Queryable, campaign: string): Promise<Date | undefined> {
  const [run] = await db.query<{ launched_at: Date }>(
    "SELECT launched_at FROM herald.runs WHERE source_kind = 'campaign' AND source = $1 AND phase = 'sending' FOR UPDATE",
    [campaign],
  );
  return run ? new Date(run.launched_at) : undefined;
}

/** pendingMessages: rows still to send of every run in progress, for a progress bar's total. */
export async function pendingMessages(db: Queryable): Promise<number> {
  const [row] = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM herald.messages m
       JOIN herald.runs r ON r.source_kind = m.source_kind AND r.source = m.source
      WHERE r.phase = 'sending' AND m.status IN ('queued', 'claimed', 'waiting')`,
  );
  return row?.n ?? 0;
}

/** A trigger's run: when it was enabled (null while disabled by a pause) and last swept. */
export interface TriggerRun {
  enabledAt: Date;
  sweptAt: Date | null;
}

/**
 * enableTrigger: made by a trigger's first active sweep, and by its first
 * active sweep after a pause: enabled_at, the back-fill horizon's anchor, is
 * set then and kept after. Returns the run.
 */
export async function enableTrigger(db: Queryable, name: string, now: Date): Promise<TriggerRun> {
  const [row] = await db.query<{ enabled_at: Date; swept_at: Date | null }>(
    `INSERT INTO herald.runs (source_kind, source, phase, launched_at, enabled_at) VALUES ('trigger', $1, 'sending', $2, $2)
     ON CONFLICT (source_kind, source) DO UPDATE SET enabled_at = coalesce(herald.runs.enabled_at, EXCLUDED.enabled_at)
     RETURNING enabled_at, swept_at`,
    [name, now],
  );
  return { enabledAt: new Date(row!.enabled_at), sweptAt: row!.swept_at ? new Date(row!.swept_at) : null };
}

/**
 * disableTrigger: a sweep that finds the trigger paused forgets when it was
 * enabled and swept, so resuming it is enabling it again: what fell due
 * during the pause is behind the new back-fill horizon, not sent at once.
 */
export async function disableTrigger(db: Queryable, name: string): Promise<void> {
  await db.query(
    "UPDATE herald.runs SET enabled_at = NULL, swept_at = NULL WHERE source_kind = 'trigger' AND source = $1 AND enabled_at IS NOT NULL",
    [name],
  );
}

/** triggerRun: the trigger's run while enabled; undefined before its first active sweep and while paused. */
export async function triggerRun(db: Queryable, name: string): Promise<TriggerRun | undefined> {
  const [row] = await db.query<{ enabled_at: Date; swept_at: Date | null }>(
    "SELECT enabled_at, swept_at FROM herald.runs WHERE source_kind = 'trigger' AND source = $1 AND enabled_at IS NOT NULL",
    [name],
  );
  return row ? { enabledAt: new Date(row.enabled_at), sweptAt: row.swept_at ? new Date(row.swept_at) : null } : undefined;
}

/** markSwept: the next sweep's window starts from here (less the lookback). */
export async function markSwept(db: Queryable, name: string, now: Date): Promise<void> {
  await db.query("UPDATE herald.runs SET swept_at = $2 WHERE source_kind = 'trigger' AND source = $1", [name, now]);
}
