import { ExitError, UserError } from '../../errors.js';
import { describeCommit, gitCommit } from '../../git/commit.js';
import { writePlanFile } from '../../plan/file.js';
import { formatPlan } from '../../plan/format.js';
import { makePlan } from '../../plan/make.js';
import { hasChanges } from '../../plan/plan.js';
import { print, printJson, useColor, validWorkspace, withDb, workspaceDir, type GlobalOptions } from '../context.js';
import { artifactUrl, outputFormat } from '../options.js';

export interface PlanOptions extends GlobalOptions {
  json?: boolean;
  format?: string;
  artifactUrl?: string;
  detailedExitcode?: boolean;
  out?: string;
  target?: string;
  allowDelete?: boolean;
  refreshOnly?: boolean;
}

export default async function plan(_args: string[], opts: PlanOptions): Promise<void> {
  const format = outputFormat(opts);
  const artifact = opts.artifactUrl === undefined ? undefined : artifactUrl(opts.artifactUrl);
  if (format === 'markdown' && opts.refreshOnly) throw new UserError('--refresh-only has no markdown form', 'the markdown body shows drift with the changes: drop --refresh-only');
  const ws = await validWorkspace(opts);
  const git = gitCommit(workspaceDir(opts));
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
  if (format === 'json') printJson(opts.refreshOnly ? { drift: result.drift } : result);
  else if (format === 'markdown') {
    const { planMarkdown } = await import('../../ci/plan-markdown.js');
    print(planMarkdown(result, { ...(artifact ? { artifactUrl: artifact } : {}) }));
    const summaryFile = process.env.GITHUB_STEP_SUMMARY;
    if (summaryFile) {
      const [{ appendStepSummary }, { JOB_SUMMARY }] = await Promise.all([import('../../ci/summary.js'), import('../../ci/fit.js')]);
      const warning = appendStepSummary(summaryFile, planMarkdown(result, { budget: JOB_SUMMARY, ...(artifact ? { artifactUrl: artifact } : {}) }));
      if (warning) process.stderr.write(`warning: ${warning}\n`);
    }
  } else {
    print(formatPlan(result, { color: useColor(), refreshOnly: opts.refreshOnly }));
    if (opts.out) print(`\nSaved the plan to ${opts.out}. Apply exactly this plan with: herald apply ${opts.out}`);
  }
  // A refused change is an error in review, as in CI.
  if (!opts.refreshOnly && result.summary.refused > 0) throw new ExitError(1);
  if (opts.detailedExitcode && (opts.refreshOnly ? result.drift.length > 0 : hasChanges(result))) throw new ExitError(2);
}
