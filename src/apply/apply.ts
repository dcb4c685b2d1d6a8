import { join } from 'node:path';
import type { Db, Queryable } from '../db/db.js';
import { dropList, importList, type ListImportResult } from '../lists/import.js';
import { sourceSchema, type List, type Project } from '../workspace/model.js';
import { sqlState } from '../db/db.js';
import { UserError } from '../errors.js';
import { objectKey } from '../state/objects.js';
import { archiveObject, deleteObject, loadObject, recordApply, writeObject } from '../state/queries.js';
import { clearOverride } from '../state/overrides.js';
import { gatherFacts } from '../plan/facts.js';
import { describeStaleness, fingerprint } from '../plan/fingerprint.js';
import { PLAN_VERSION, hasChanges, type Plan } from '../plan/plan.js';

export interface ApplyOptions {
  gitCommit: string | null;
  gitAuthor: string | null;
  /** How long to wait for another apply to finish, in seconds. */
  lockTimeoutSeconds?: number;
  /** Who is applying, shown to a second apply that has to wait. */
  holder?: string;
  /** The workspace folder, where changed lists' CSV files are read from. */
  workspaceDir?: string;
}

export interface ApplyResult {
  applyId?: number;
  /** What each imported list came to. */
  lists?: Record<string, ListImportResult>;
}

// Two-int advisory lock key: pg_locks shows it as (classid, objid), so a
// waiting apply can find who holds it.
const LOCK_NAMESPACE = 0x68657261; // "hera"
const LOCK_APPLY = 1;

/**
 * Applies exactly `plan`, in one transaction, under an advisory lock. Refuses
 * a plan with refused changes, and a stale plan: one computed against a
 * deployed state that has changed since.
 */
export async function applyPlan(db: Db, plan: Plan, opts: ApplyOptions): Promise<ApplyResult> {
  if (plan.version !== PLAN_VERSION) {
    throw new UserError(`this plan file has version ${String(plan.version)}; this herald applies version ${PLAN_VERSION}`, 'run herald plan again with this herald');
  }
  const refused = plan.changes.filter((c) => c.action === 'refused');
  if (refused.length > 0) {
    throw new UserError(
      `the plan has ${refused.length} refused change${refused.length === 1 ? '' : 's'}; nothing was applied`,
      refused.map((c) => `${c.kind}/${c.name}: ${c.hint ?? c.reason}`).join('; '),
    );
  }
  if (!hasChanges(plan)) return {};
  try {
    return await db.transaction(async (tx) => {
      await lock(tx, opts);
      const now = fingerprint(await gatherFacts(tx));
      if (now.hash !== plan.fingerprint) {
        const what = describeStaleness(plan.basis, now.items);
        throw new UserError(
          `the plan is stale: the deployed state changed since it was made (${what.join('; ')})`,
          'run herald plan again and review the new plan',
        );
      }
      const applyId = await write(tx, plan, opts);
      return { applyId, lists: await importLists(tx, plan, opts) };
    });
  } catch (err) {
    if (sqlState(err) === '55P03') throw await lockHeld(db, opts.lockTimeoutSeconds ?? 30);
    throw err;
  }
}

async function lock(tx: Queryable, opts: ApplyOptions): Promise<void> {
  await tx.query("SELECT set_config('lock_timeout', $1, true), set_config('application_name', $2, true)", [
    `${Math.round((opts.lockTimeoutSeconds ?? 30) * 1000)}ms`,
    `herald apply: ${opts.holder ?? 'unknown'}`.slice(0, 63),
  ]);
  await tx.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_NAMESPACE, LOCK_APPLY]);
}

/** Names the apply that holds the lock, and since when. */
async function lockHeld(db: Db, seconds: number): Promise<UserError> {
  const [holder] = await db
    .query<{ application_name: string; xact_start: Date; pid: number }>(
      `SELECT a.application_name, a.xact_start, a.pid
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1 AND l.objid = $2`,
      [LOCK_NAMESPACE, LOCK_APPLY],
    )
    .catch(() => []);
  const who = holder ? `${holder.application_name || 'another session'} (pid ${holder.pid}) since ${new Date(holder.xact_start).toISOString()}` : 'another apply';
  return new UserError(`another apply holds the lock: ${who}; gave up after ${seconds}s`, 'wait for it to finish, or raise --lock-timeout');
}

async function write(tx: Queryable, plan: Plan, opts: ApplyOptions): Promise<number> {
  const changes = plan.changes.filter((c) => c.action !== 'unchanged');
  const reverts = plan.drift.filter((d) => d.resolution === 'revert');
  const applyId = await recordApply(tx, {
    gitCommit: opts.gitCommit,
    appliedBy: opts.gitAuthor,
    environment: plan.environment,
    changes: { changes, drift: reverts.map((d) => `${d.kind}/${d.name}`) },
  });
  const meta = { gitCommit: opts.gitCommit, gitAuthor: opts.gitAuthor, applyId };
  const objects = new Map(plan.objects.map((o) => [objectKey(o), o]));
  const sizes = new Map(plan.audiences.map((a) => [a.campaign, a.recipients]));
  for (const c of changes) {
    if (c.action === 'create' || c.action === 'update') {
      await writeObject(tx, objects.get(objectKey(c))!, { ...meta, audience: c.kind === 'campaign' ? (sizes.get(c.name) ?? null) : null });
    } else if (c.action === 'delete') await deleteObject(tx, c.kind, c.name, meta);
    else if (c.action === 'archive') await archiveObject(tx, c.kind, c.name, meta);
  }
  for (const d of reverts) await clearOverride(tx, d.kind, d.name, opts.gitAuthor);
  return applyId;
}

/**
 * Lists created or changed by the plan are imported from their CSV in the
 * same transaction, so a failing import leaves nothing applied.
 */
async function importLists(tx: Queryable, plan: Plan, opts: ApplyOptions): Promise<Record<string, ListImportResult>> {
  const out: Record<string, ListImportResult> = {};
  const lists = plan.changes.filter((c) => c.kind === 'list' && c.action !== 'unchanged');
  if (lists.length === 0) return out;
  const project = await loadObject<Project>(tx, 'project', 'herald');
  const schema = sourceSchema(project!);
  const specs = new Map(plan.objects.filter((o) => o.kind === 'list').map((o) => [o.name, o.spec as unknown as List & { csv_sha256: string }]));
  for (const c of lists) {
    if (c.action === 'delete') {
      await dropList(tx, c.name);
      continue;
    }
    const spec = specs.get(c.name)!;
    if (!opts.workspaceDir) throw new UserError(`applying list "${c.name}" needs its CSV`, 'run apply in the workspace, or pass --dir');
    out[c.name] = await importList(tx, schema, { name: c.name, csv: join(opts.workspaceDir, 'lists', spec.file), workspaceDir: opts.workspaceDir, site: spec.site, expectedSha256: spec.csv_sha256 });
  }
  return out;
}
