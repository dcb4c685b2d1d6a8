import { evaluateSqlConditions, readOnly, sqlSandbox, withSqlSession } from '../audience/sql-sandbox.js';
import type { Db } from '../db/db.js';
import { requireShop } from '../shop/check.js';
import type { DeployObject } from '../state/objects.js';
import { allOverrides } from '../state/overrides.js';
import { lastApply, loadDeployed } from '../state/queries.js';
import { backtestTrigger, type BacktestInput } from '../triggers/backtest.js';
import type { Campaign, Project, Segment, Trigger } from '../workspace/model.js';
import { buildCalendar, capWarnings, dayStart, utcDay, DAY_MS, type Calendar, type CapWarning, type ExpectedVolume } from './calendar.js';
import { campaignRuns, capOverlapSql, sentByDay, type OverlapCampaign, type OverlapRow } from './queries.js';
import { activeTriggers, scheduledSends, viewOf, type OverrideInForce, type ScheduledSend, type View } from './view.js';

/**
 * The calendar's I/O: the deployed state, the ledger and the shop read for
 * the pure builder (calendar.ts). Nothing is written to the database: the
 * overlap statement and the backtests run READ ONLY and are rolled back.
 */

export interface CalendarOptions {
  now: Date;
  /** YYYY-MM-DD, both included. */
  from: string;
  to: string;
  /** The workspace's objects (desiredObjects), laid over the deployed state; without them, the deployed state alone. */
  desired?: readonly DeployObject[];
}

/** The backtest behind a trigger's expected volume: the whole UTC days before today, a tick every hour. */
export const BACKTEST_DAYS = 14;
const EVERY = '1h';
const EVERY_MS = 3_600_000;

/** How long the overlap statement may run: every scheduled audience, at once. */
const TIMEOUT = '5min';

export async function readCalendar(db: Db, o: CalendarOptions): Promise<Calendar> {
  const from = dayStart(o.from);
  const to = new Date(dayStart(o.to).getTime() + DAY_MS);
  const deployed = (await loadDeployed(db)).filter((d) => !d.archivedAt);
  const view = viewOf(deployed, o.desired);
  const overrides = new Map<string, OverrideInForce>((await allOverrides(db)).map((r) => [`${r.kind}/${r.name}`, { status: r.status, specHash: r.specHash }]));
  const runs = await campaignRuns(db, from, to);
  const launched = new Set(runs.map((r) => r.name));
  const scheduled = scheduledSends(view, overrides, launched, o.now);
  const { audiences, warnings } = await overlap(db, view, scheduled, from, to);
  const campaigns = new Map(view.campaigns.map((c) => [c.name, c.spec]));
  // A launched campaign's A/B winner is decided by its deployed spec, whatever the workspace says now.
  for (const d of deployed) if (d.kind === 'campaign' && launched.has(d.name)) campaigns.set(d.name, d.spec as unknown as Campaign);
  return buildCalendar({
    now: o.now,
    from: o.from,
    to: o.to,
    sent: await sentByDay(db, from, to),
    runs,
    scheduled,
    audiences,
    warnings,
    campaigns,
    expected: await expectedVolumes(db, view, overrides, o.now),
    lastApply: (await lastApply(db))?.appliedAt ?? null,
  });
}

/**
 * overlap: the ready scheduled campaigns' recipients and cap windows, in
 * one statement (capOverlapSql). Windows end at the campaigns in the range;
 * those launching up to the longest cap's `per` before it are counted in
 * them too. The shop is checked first and `sql:` conditions evaluated
 * confined, as plan measures audiences.
 */
async function overlap(db: Db, view: View, scheduled: readonly ScheduledSend[], from: Date, to: Date): Promise<{ audiences: Map<string, number>; warnings: CapWarning[] }> {
  const ready = scheduled.filter((s) => s.status === 'ready');
  const longest = Math.max(0, ...ready.map((s) => s.cap?.perSeconds ?? 0)) * 1000;
  const campaigns: OverlapCampaign[] = ready
    .filter((s) => s.at < to && s.at.getTime() > from.getTime() - longest)
    .map((s) => ({ name: s.campaign, spec: s.spec, at: s.at, cap: s.cap, anchor: s.at >= from && s.cap !== null }));
  if (!view.project || campaigns.length === 0) return { audiences: new Map(), warnings: [] };
  const sql = capOverlapSql(campaigns, view.project, view.segments);
  const sandbox = sqlSandbox(view.project);
  await requireShop(db, sandbox);
  const rows = await withSqlSession(db, sandbox, sql.sqlConditions.length > 0, (s) =>
    readOnly(s, TIMEOUT, async (tx) => {
      await evaluateSqlConditions(tx, sql.sqlConditions, sandbox);
      // The CTEs' estimates are guesses, so its cost passes jit_above_cost: compiling it
      // took 9 of 13 s over three audiences of 200k (as sweeps and attribution found, off).
      await tx.query("SELECT set_config('jit', 'off', true)");
      return tx.query<OverlapRow>(sql.text, sql.values);
    }),
  );
  const audiences = new Map(rows.filter((r) => r.row === 'audience').map((r) => [campaigns[r.k]!.name, r.customers]));
  return { audiences, warnings: capWarnings(campaigns, rows) };
}

/**
 * expectedVolumes: each active trigger's backtest over the BACKTEST_DAYS
 * whole UTC days before `now`'s, its fired messages per day. An event: sql
 * trigger cannot be backtested (its query reads the shop as it is now).
 */
async function expectedVolumes(db: Db, view: View, overrides: ReadonlyMap<string, OverrideInForce>, now: Date): Promise<ExpectedVolume[]> {
  if (!view.project) return [];
  const out: ExpectedVolume[] = [];
  for (const t of activeTriggers(view, overrides)) {
    const input = expectedBacktest(view.project, view.segments, t.name, t.spec, now);
    const base = { trigger: t.name, pending: t.pending, days: BACKTEST_DAYS, from: input.from.toISOString(), to: input.to.toISOString() };
    if (t.spec.event === 'sql') {
      out.push({ ...base, per_day: null, fired: null, note: 'event: sql reads the shop as it is now, so it cannot be backtested' });
      continue;
    }
    const b = await backtestTrigger(db, input, EVERY);
    out.push({ ...base, per_day: b.totals.fired / BACKTEST_DAYS, fired: b.totals.fired });
  }
  return out;
}

/**
 * The backtest behind a trigger's expected volume: from BACKTEST_DAYS
 * before today (UTC) to today's midnight, a tick every hour, and without
 * its back-fill: the trigger as if it had been running all along, so the
 * first tick does not fire a backlog a running trigger has long sent.
 */
export function expectedBacktest(project: Project, segments: ReadonlyMap<string, Segment>, name: string, spec: Trigger, now: Date): BacktestInput {
  const to = dayStart(utcDay(now));
  return { name, spec: { ...spec, backfill: undefined }, project, segments, from: new Date(to.getTime() - BACKTEST_DAYS * DAY_MS), to, everyMs: EVERY_MS };
}
