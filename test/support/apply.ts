import { applyPlan } from '../../src/apply/apply.js';
import type { Db } from '../../src/db/db.js';
import { makePlan, type MakePlanOptions } from '../../src/plan/make.js';
import type { Plan } from '../../src/plan/plan.js';
import { loadWorkspace } from '../../src/workspace/load.js';

/** Plans a workspace folder against `db` (facts read, nothing written). */
export async function planDir(db: Db, dir: string, opts: Partial<MakePlanOptions> = {}): Promise<Plan> {
  const { workspace, problems } = loadWorkspace(dir);
  if (!workspace) throw new Error(`workspace does not load: ${problems.map((p) => p.message).join('; ')}`);
  return makePlan(db, workspace, { now: new Date(), ...opts });
}

/** Plans and applies a workspace folder, as `herald apply --auto-approve` does. */
export async function applyDir(db: Db, dir: string, opts: Partial<MakePlanOptions> = {}): Promise<Plan> {
  const plan = await planDir(db, dir, opts);
  const refused = plan.changes.filter((c) => c.action === 'refused');
  // Say why, so a failing test shows the refusal, not only that there was one.
  if (refused.length) throw new Error(`refused: ${refused.map((c) => `${c.kind}/${c.name}: ${c.reason}`).join('; ')}`);
  await applyPlan(db, plan, { gitCommit: plan.gitCommit, gitAuthor: 'test@example.com', holder: 'test', workspaceDir: dir });
  return plan;
}
