import { applyObjects } from '../../apply/apply.js';
import { describeCommit, gitInfo } from '../../git/commit.js';
import { formatPlan } from '../../plan/format.js';
import { hasChanges } from '../../plan/plan.js';
import { desiredObjects } from '../../state/objects.js';
import { print, printJson, useColor, validWorkspace, withDb, workspaceDir, type GlobalOptions } from '../context.js';

export default async function apply(_args: string[], opts: GlobalOptions & { json?: boolean }): Promise<void> {
  const ws = await validWorkspace(opts);
  const git = gitInfo(workspaceDir(opts));
  const result = await withDb(opts, (db) =>
    applyObjects(db, desiredObjects(ws), { gitCommit: describeCommit(git), appliedBy: git.user }),
  );
  if (opts.json) {
    printJson({ ...result.plan, applyId: result.applyId ?? null, gitCommit: describeCommit(git) });
    return;
  }
  print(formatPlan(result.plan, { color: useColor() }));
  if (hasChanges(result.plan)) {
    const s = result.plan.summary;
    print(`\nApply complete: ${s.create} created, ${s.update} updated, ${s.delete} deleted${git.commit ? ` (from ${describeCommit(git)})` : ''}.`);
  }
}
