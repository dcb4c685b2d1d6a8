import type { Db, Queryable } from '../db/db.js';
import { audienceCondition } from '../audience/audience.js';
import { compileSegment } from '../audience/compile.js';
import { countRecipients } from '../audience/recipients.js';
import { desiredObjects, type DeployObject } from '../state/objects.js';
import { cancelledStatuses, campaignSites, openStatuses, sourceSchema, type Campaign, type Segment, type Workspace } from '../workspace/model.js';
import { gatherFacts } from './facts.js';
import { computePlan, type Plan } from './plan.js';
import { targetClosure } from './target.js';

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
  let desired = desiredObjects(ws);
  const facts = await db.transaction(async (tx) => {
    // One snapshot, read-only: planning never writes.
    await tx.query('SET TRANSACTION READ ONLY');
    return gatherFacts(tx, measureAudience(ws, opts.now), desired, sourceSchema(ws.project.spec));
  });
  if (opts.target) {
    const keep = targetClosure(opts.target, desired, facts.deployed);
    desired = desired.filter((o) => keep.has(`${o.kind}/${o.name}`));
    facts.deployed = facts.deployed.filter((o) => keep.has(`${o.kind}/${o.name}`));
  }
  const p = ws.project.spec;
  return computePlan({
    desired,
    facts,
    policy: { maxAudience: p.policy?.max_audience, quietHours: p.defaults?.quiet_hours, timezone: p.defaults?.timezone ?? 'UTC' },
    now: opts.now,
    allowDelete: opts.allowDelete,
    gitCommit: opts.gitCommit,
    environment: opts.environment,
  });
}

/** Counts a campaign's recipients against the workspace's own segments, as send would. */
function measureAudience(ws: Workspace, now: Date) {
  const segments = new Map<string, Segment>([...ws.segments].map(([n, e]) => [n, e.spec]));
  const sites = new Map(ws.project.spec.sites.map((s) => [s.id, s]));
  return async (db: Queryable, o: DeployObject): Promise<number> => {
    const c = o.spec as unknown as Campaign;
    const ctx = { schema: sourceSchema(ws.project.spec), segments, cancelled: cancelledStatuses(ws.project.spec), open: openStatuses(ws.project.spec), timezone: ws.project.spec.defaults?.timezone };
    const audience = compileSegment(audienceCondition(c.audience), ctx, now);
    const locales = Object.fromEntries(
      campaignSites(c).flatMap((id) => {
        const s = sites.get(id);
        return s ? [[id, { locales: s.locales, default: s.default_locale }]] : [];
      }),
    );
    return countRecipients(db, sourceSchema(ws.project.spec), audience, locales);
  };
}
