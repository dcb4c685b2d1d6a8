import { createInterface } from 'node:readline/promises';
import { applyPlan } from '../../apply/apply.js';
import type { ListImportResult } from '../../lists/import.js';
import { UserError } from '../../errors.js';
import { describeCommit, gitInfo } from '../../git/commit.js';
import { readPlanFile } from '../../plan/file.js';
import { formatPlan } from '../../plan/format.js';
import { makePlan } from '../../plan/make.js';
import { hasChanges, type Plan } from '../../plan/plan.js';
import { print, printJson, useColor, validWorkspace, withDb, workspaceDir, type GlobalOptions } from '../context.js';
import { seconds } from '../options.js';

export interface ApplyCliOptions extends GlobalOptions {
  json?: boolean;
  autoApprove?: boolean;
  allowDelete?: boolean;
  target?: string;
  lockTimeout?: string;
  reviewed?: string;
}

/**
 * `herald apply plan.json` applies exactly that saved plan, without asking.
 * `herald apply` plans, shows the plan and asks on a TTY; --auto-approve skips
 * the question; without a TTY and without --auto-approve it refuses.
 */
export default async function apply([planFile]: string[], opts: ApplyCliOptions): Promise<void> {
  const lockTimeoutSeconds = seconds(opts.lockTimeout ?? '30', '--lock-timeout');
  const git = gitInfo(workspaceDir(opts));
  const saved = planFile ? readPlanFile(planFile) : undefined;
  if (saved && (saved.environment ?? null) !== (opts.env ?? null)) {
    throw new UserError(`${planFile} was made for environment ${saved.environment ?? '(default)'}, not ${opts.env ?? '(default)'}`, 'apply it with the same --env, or plan again');
  }
  if (opts.reviewed !== undefined && saved) {
    throw new UserError('give either a saved plan file or --reviewed, not both', 'on merge, `herald apply --reviewed <fingerprint>` plans again and checks it against the review');
  }
  if (opts.reviewed !== undefined && !/^[0-9a-f]{64}$/.test(opts.reviewed)) {
    throw new UserError(`--reviewed wants the 64-hex review fingerprint of a plan, not "${opts.reviewed}"`, 'take it from the pull request comment: `herald github reviewed --env <name>` prints it');
  }
  const ws = saved ? undefined : await validWorkspace(opts);
  await withDb(opts, async (db) => {
    const plan: Plan =
      saved ??
      (await makePlan(db, ws!, { now: new Date(), allowDelete: opts.allowDelete, target: opts.target, gitCommit: describeCommit(git), environment: opts.env ?? null }));
    if (!saved && !opts.json) print(formatPlan(plan, { color: useColor() }));
    if (opts.reviewed !== undefined) checkReviewed(plan, opts.reviewed);
    if (!hasChanges(plan) && plan.summary.refused === 0) {
      if (opts.json) printJson({ ...plan, applyId: null });
      return;
    }
    // A reviewed plan was approved on its pull request: that is the confirmation.
    if (!saved && opts.reviewed === undefined && plan.summary.refused === 0) await confirm(opts);
    const result = await applyPlan(db, plan, {
      gitCommit: plan.gitCommit,
      gitAuthor: git.user,
      lockTimeoutSeconds,
      holder: `${git.user ?? 'unknown'} pid ${process.pid}`,
      workspaceDir: workspaceDir(opts),
    });
    if (opts.json) printJson({ ...plan, applyId: result.applyId ?? null, lists: result.lists ?? {} });
    else {
      for (const [name, l] of Object.entries(result.lists ?? {})) print(formatImport(name, l));
      const s = plan.summary;
      const reverted = plan.drift.filter((d) => d.resolution === 'revert').length;
      print(
        `\nApply complete: ${s.create} created, ${s.update} updated, ${s.delete} deleted, ${s.archive} archived${reverted ? `, ${reverted} drift reverted` : ''}${plan.gitCommit ? ` (from ${plan.gitCommit})` : ''}.`,
      );
    }
  });
}

/**
 * On merge: the plan made now must be the one approved on the pull request.
 * Anything else (main moved, another apply landed, someone paused a campaign
 * the change touches) is applied only after a new review.
 */
function checkReviewed(plan: Plan, reviewed: string): void {
  if (plan.review === reviewed) return;
  throw new UserError(
    `stale plan, re-review: the plan for environment ${plan.environment ?? '(default)'} is not the one reviewed on the pull request (reviewed ${reviewed.slice(0, 12)}, now ${plan.review.slice(0, 12)}); nothing was applied`,
    'the workspace or the deployed state changed since the review: run the pull request checks again (or open a new pull request), review the new plan, and merge it',
  );
}

async function confirm(opts: ApplyCliOptions): Promise<void> {
  if (opts.autoApprove) return;
  if (!process.stdin.isTTY) {
    throw new UserError('apply needs confirmation, and there is no terminal to ask on', 'pass --auto-approve, or save a reviewed plan with `herald plan --out plan.json` and run `herald apply plan.json`');
  }
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await rl.question("\nDo you want to apply these changes? Only 'yes' will be accepted: ");
    if (answer.trim() !== 'yes') throw new UserError('apply cancelled; nothing was changed');
  } finally {
    rl.close();
  }
}

function formatImport(name: string, l: ListImportResult): string {
  const parts = [`list ${name}: imported ${l.members} members (${l.customers} customers, ${l.contacts} contacts) from ${l.rows} rows`];
  if (l.duplicates) parts.push(`${l.duplicates} duplicates merged`);
  if (l.rejected.length) parts.push(`${l.rejected.length} rows rejected (line ${l.rejected.map((r) => r.line).join(', ')})`);
  return parts.join('; ');
}
