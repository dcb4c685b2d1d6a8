import type { Db } from '../db/db.js';
import { objectKey, type DeployObject } from '../state/objects.js';
import { deleteObject, loadDeployed, recordApply, upsertObject } from '../state/queries.js';
import { computePlan, hasChanges, type Plan } from '../plan/plan.js';

export interface ApplyOptions {
  gitCommit: string | null;
  appliedBy: string | null;
}

export interface ApplyResult {
  plan: Plan;
  applyId?: number;
}

/**
 * Writes the workspace's objects in one transaction under an advisory lock.
 * The plan is recomputed inside the lock against the state as it is then, so
 * two applies never interleave and neither acts on a stale view.
 */
export async function applyObjects(db: Db, desired: readonly DeployObject[], opts: ApplyOptions): Promise<ApplyResult> {
  return db.transaction(async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock(hashtext('herald:apply'))");
    const plan = computePlan(desired, await loadDeployed(tx));
    if (!hasChanges(plan)) return { plan };
    const byKey = new Map(desired.map((o) => [objectKey(o), o]));
    const changes = plan.changes.filter((c) => c.action !== 'unchanged');
    const applyId = await recordApply(tx, opts.gitCommit, opts.appliedBy, changes);
    for (const ch of changes) {
      if (ch.action === 'delete') await deleteObject(tx, ch.kind, ch.name);
      else await upsertObject(tx, byKey.get(objectKey(ch))!, opts.gitCommit, applyId);
    }
    return { plan, applyId };
  });
}
