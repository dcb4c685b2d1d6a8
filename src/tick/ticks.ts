import { hostname } from 'node:os';
import type { Queryable } from '../db/db.js';
import { TOTAL_COUNTS } from '../ledger/worker.js';
import type { TickResult } from './tick.js';

/**
 * Every query on herald.ticks: one row per `herald run`, inserted before the
 * tick does any work and completed when it ends, so a tick killed midway
 * still leaves its start (finished_at NULL). The next tick reads the
 * previous start to tell whether the schedule fell behind (gap.ts).
 */

/** How the tick ended: nothing left due, the budget ran out, or a signal stopped it. */
export type TickStop = 'done' | 'budget' | 'signal';

export interface StartedTick {
  id: number;
  /** The previous tick's start and the interval it recorded; undefined on the first tick. */
  previous?: { startedAt: Date; everySeconds: number | null };
  /** The interval in force for this tick: --every, else the previous tick's. */
  everySeconds: number | null;
}

/**
 * start_tick: records this tick's start and, in the same statement, reads
 * the previous tick (the latest start before this row existed: a CTE sees
 * the table as it was when the statement began). Without --every the
 * interval is carried over from the previous tick, so a run started by hand
 * without it does not make the next scheduled tick forget the schedule.
 */
const START_TICK = `
  WITH previous AS (
    SELECT started_at, every_seconds FROM herald.ticks ORDER BY started_at DESC, id DESC LIMIT 1
  )
  INSERT INTO herald.ticks (started_at, every_seconds, host, run_url)
  VALUES ($1, coalesce($2::int, (SELECT every_seconds FROM previous)), $3, $4)
  RETURNING id, every_seconds,
            (SELECT started_at FROM previous) AS previous_started_at,
            (SELECT every_seconds FROM previous) AS previous_every_seconds`;

export async function startTick(db: Queryable, startedAt: Date, everySeconds: number | null, where = tickHost()): Promise<StartedTick> {
  const [row] = await db.query<{ id: string; every_seconds: number | null; previous_started_at: Date | null; previous_every_seconds: number | null }>(START_TICK, [
    startedAt,
    everySeconds,
    where.host,
    where.runUrl,
  ]);
  return {
    id: Number(row!.id),
    everySeconds: row!.every_seconds,
    ...(row!.previous_started_at ? { previous: { startedAt: row!.previous_started_at, everySeconds: row!.previous_every_seconds } } : {}),
  };
}

/** finish_tick: the end of a tick and what it did. */
const FINISH_TICK = `UPDATE herald.ticks SET finished_at = $2, summary = $3 WHERE id = $1`;

export async function finishTick(db: Queryable, id: number, finishedAt: Date, summary: TickCounts): Promise<void> {
  await db.query(FINISH_TICK, [id, finishedAt, JSON.stringify(summary)]);
}

/** What a tick did, in counts, as herald.ticks.summary keeps it. */
export type TickCounts = Record<string, number | string>;

export function tickCounts(r: TickResult, stopped: TickStop): TickCounts {
  const counts: TickCounts = {
    launched: r.launched.length,
    swept: r.swept.reduce((n, w) => n + w.inserted, 0),
    sweep_errors: r.swept.filter((w) => w.error).length,
    decided: r.decided.length,
    attributed: r.attribution.attributed,
    completed: r.delivered.completed.length,
    paused: r.delivered.paused.length,
    stopped,
  };
  for (const k of TOTAL_COUNTS) counts[k] = r.delivered[k];
  if (r.attribution.error) counts.attribution_errors = 1;
  if (r.bounces) counts.bounces_read = 'error' in r.bounces ? 0 : r.bounces.read;
  return counts;
}

/** Where a tick runs: this machine, and on GitHub Actions the run's page. */
export function tickHost(env: NodeJS.ProcessEnv = process.env): { host: string; runUrl: string | null } {
  const { GITHUB_SERVER_URL: server, GITHUB_REPOSITORY: repo, GITHUB_RUN_ID: run } = env;
  return { host: env.RUNNER_NAME || hostname(), runUrl: server && repo && run ? `${server}/${repo}/actions/runs/${run}` : null };
}
