import type { Db, Queryable } from '../db/db.js';
import { campaignQuery, measureBreakdown, type Breakdown } from '../audience/breakdown.js';
import { hasSqlCondition, readOnly, sqlSandbox, withSqlSession } from '../audience/sql-sandbox.js';
import { requireShop } from '../shop/check.js';
import { desiredObjects, type DeployObject } from '../state/objects.js';
import { sourceSchema, type Campaign, type Segment, type Workspace } from '../workspace/model.js';
import { workspaceEntryExists } from '../workspace/files.js';
import { listDiff, type ListDiff } from '../lists/diff.js';
import { gatherFacts, type Facts } from './facts.js';
import { computePlan, type Plan, type TriggerLine } from './plan.js';
import { previewSweep } from '../triggers/sweep.js';

export interface MakePlanOptions {
  now: Date;
  allowDelete?: boolean;
  /** `kind/name`: limit the plan to one object and what it depends on. */
  target?: string;
  gitCommit?: string | null;
  environment?: string | null;
}

/** Reads the facts plan needs from the database, then computes the plan (a pure step). */
export async function makePlan(db: Db, ws: Workspace, opts: MakePlanOptions): Promise<Plan> {
  const desired = desiredObjects(ws);
  // The shop's tables and columns, and the reader role, checked once, up front.
  const sandbox = sqlSandbox(ws.project.spec);
  // SMS's and push's parts of the contract, when a campaign or trigger sends on them.
  const channels = [...new Set([...ws.campaigns.values(), ...ws.triggers.values()].flatMap((x) => (x.spec as { channels?: string[] }).channels ?? []))];
  await requireShop(db, { ...sandbox, channels });
  const anySql = hasSqlCondition([...ws.segments.values()].map((s) => s.spec.where));
  const { facts, lists } = await withSqlSession(db, sandbox, anySql, (s) =>
    // Read-only and rolled back: planning never writes. sql: conditions run confined (sql-sandbox.ts).
    readOnly(s, '60s', async (tx) => {
      const facts = await gatherFacts(tx, measureAudience(ws, opts.now), desired, sourceSchema(ws.project.spec));
      return { facts, lists: await diffChangedLists(tx, ws, desired, facts) };
    }),
  );
  const p = ws.project.spec;
  const plan = computePlan({
    desired,
    facts,
    policy: { maxAudience: p.policy?.max_audience, quietHours: p.defaults?.quiet_hours, timezone: p.defaults?.timezone ?? 'UTC' },
    now: opts.now,
    allowDelete: opts.allowDelete,
    gitCommit: opts.gitCommit,
    environment: opts.environment,
    listDiffs: lists,
    ...(opts.target ? { target: opts.target } : {}),
  });
  const triggers = await previewTriggers(db, ws, plan, opts.now);
  return triggers.length ? { ...plan, triggers } : plan;
}

/**
 * For each trigger the plan creates or updates and that is active: what its
 * sweep would send now and what the back-fill horizon keeps back, from the
 * sweep's own statement, counted in a read-only transaction (previewSweep).
 * A trigger never swept counts as enabled now.
 */
async function previewTriggers(db: Db, ws: Workspace, plan: Plan, now: Date): Promise<TriggerLine[]> {
  const changed = plan.changes.filter((c) => c.kind === 'trigger' && (c.action === 'create' || c.action === 'update'));
  const segments = new Map<string, Segment>([...ws.segments].map(([n, e]) => [n, e.spec]));
  const out: TriggerLine[] = [];
  for (const c of changed) {
    const spec = ws.triggers.get(c.name)?.spec;
    if (!spec || (spec.status ?? 'paused') !== 'active') continue;
    try {
      const r = await previewSweep(db, { name: c.name, spec, project: ws.project.spec, segments, now });
      out.push({ trigger: c.name, wouldSend: r.wouldSend, skippedByHorizon: r.skippedByHorizon });
    } catch (err) {
      out.push({ trigger: c.name, wouldSend: null, skippedByHorizon: null, note: err instanceof Error ? err.message : String(err) });
    }
  }
  return out;
}

/** For each list whose CSV changed, how its membership would move: +added −removed. */
async function diffChangedLists(tx: Queryable, ws: Workspace, desired: readonly DeployObject[], facts: Facts): Promise<Record<string, ListDiff>> {
  const out: Record<string, ListDiff> = {};
  for (const o of desired) {
    if (o.kind !== 'list') continue;
    if (facts.deployed.some((d) => d.kind === 'list' && d.name === o.name && d.hash === o.hash)) continue;
    const entry = ws.lists.get(o.name);
    if (!entry || !workspaceEntryExists(ws.dir, entry.csv)) continue;
    out[o.name] = await listDiff(tx, o.name, ws.dir, entry.csv);
  }
  return out;
}

/** A campaign's volume breakdown against the workspace's own segments, as send would draw its audience. */
function measureAudience(ws: Workspace, now: Date) {
  const ctx = { project: ws.project.spec, segments: new Map<string, Segment>([...ws.segments].map(([n, e]) => [n, e.spec])), now };
  return async (db: Queryable, o: DeployObject): Promise<Breakdown> =>
    (await measureBreakdown(db, campaignQuery(o.name, o.spec as unknown as Campaign, ctx))).breakdown;
}
