import { ExitError } from '../../errors.js';
import { describeCommit, gitInfo } from '../../git/commit.js';
import { writePlanFile } from '../../plan/file.js';
import { formatPlan } from '../../plan/format.js';
import { makePlan } from '../../plan/make.js';
import { hasChanges } from '../../plan/plan.js';
import { print, printJson, useColor, validWorkspace, withDb, workspaceDir, type GlobalOptions } from '../context.js';

export interface PlanOptions extends GlobalOptions {
  json?: boolean;
  detailedExitcode?: boolean;
  out?: string;
  target?: string;
  allowDelete?: boolean;
  refreshOnly?: boolean;
}

export default async function plan(_args: string[], opts: PlanOptions): Promise<void> {
  const ws = await validWorkspace(opts);
  const git = gitInfo(workspaceDir(opts));
  const result = await withDb(opts, (db) =>
    makePlan(db, ws, {
      now: new Date(),
      allowDelete: opts.allowDelete,
      target: opts.target,
      gitCommit: describeCommit(git),
      environment: opts.env ?? null,
    }),
  );
  if (opts.out) writePlanFile(opts.out, result);
  if (opts.json) printJson(opts.refreshOnly ? { drift: result.drift } : result);
  else {
    print(formatPlan(result, { color: useColor(), refreshOnly: opts.refreshOnly }));
    if (opts.out) print(`\nSaved the plan to ${opts.out}. Apply exactly this plan with: herald apply ${opts.out}`);
  }
  // A refused change is an error in review, as in CI.
  if (!opts.refreshOnly && result.summary.refused > 0) throw new ExitError(1);
  if (opts.detailedExitcode && (opts.refreshOnly ? result.drift.length > 0 : hasChanges(result))) throw new ExitError(2);
}
