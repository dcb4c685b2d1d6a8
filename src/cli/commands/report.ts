import { reportText } from '../../report/report.js';
import { triggerReportText } from '../../report/trigger.js';
import { amounts } from '../../report/results.js';
import { allReports, campaignReport, reportSubject, triggerReport, writeOverview, writeReport, writeTriggerReport } from '../../report/write.js';
import { publishFolder, type Published } from '../../git/publish.js';
import type { Db } from '../../db/db.js';
import { UserError } from '../../errors.js';
import { print, printJson, withDb, workspaceDir, type GlobalOptions } from '../context.js';

interface ReportOpts extends GlobalOptions {
  json?: boolean;
  all?: boolean;
  commit?: boolean;
  push?: boolean;
  remote?: string;
  branch?: string;
}

/**
 * `herald report <campaign|trigger>`: prints the report and writes it
 * beside the workspace: reports/<campaign>.json and .md, or
 * reports/triggers/<trigger>.json and .md. `--all --commit [--push]` is the
 * scheduled tick's second step: every report written, then reports/
 * committed (and pushed) by src/git/publish.ts.
 */
export default async function report([ref]: string[], opts: ReportOpts): Promise<void> {
  const dir = workspaceDir(opts);
  checkGitOptions(opts);
  if (opts.all) {
    if (ref) throw new UserError('herald report takes a name or --all, not both', `herald report ${ref}, or herald report --all`);
    return reportAll(dir, opts);
  }
  if (!ref) throw new UserError('herald report needs a campaign or trigger, or --all', 'herald report <campaign|trigger>, or herald report --all for every one and reports/index.md');
  const r = await withDb(opts, async (db) => {
    const subject = await reportSubject(db, ref!);
    return subject.kind === 'trigger' ? triggerReport(db, subject.name) : campaignReport(db, subject.name);
  });
  const [text, files] = 'kind' in r ? [triggerReportText(r), writeTriggerReport(dir, r)] : [reportText(r), writeReport(dir, r)];
  if (opts.json) printJson(r);
  else print(`${text}\n\nWrote ${files.map((f) => f.slice(dir.length + 1)).join(', ').replace(/, ([^,]*)$/, ' and $1')}.`);
}

/** `herald report --all`: every report, and the overview over all mailings (reports/index.json and .md); with --commit, reports/ committed. */
async function reportAll(dir: string, opts: ReportOpts): Promise<void> {
  const { all, files, published } = await withDb(opts, async (db) => {
    const written = await writeAll(db, dir);
    if (!opts.commit) return { ...written, published: undefined };
    const published = await publishFolder({
      dir,
      folder: 'reports',
      message: `herald: reports ${new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')} [skip ci]`,
      ...(opts.push ? { push: { remote: opts.remote ?? 'origin', ...(opts.branch ? { branch: opts.branch } : {}) } } : {}),
      rewrite: async () => void (await writeAll(db, dir)),
    });
    return { ...written, published };
  });
  if (opts.json) return printJson(published ? { ...all.overview, git: published } : all.overview);
  const t = all.overview.totals;
  print(`${t.mailings} mailing${t.mailings === 1 ? '' : 's'}: ${t.sent} sent, ${t.delivered} delivered, ${t.opened} opened and ${t.clicked} clicked by people, ${t.orders} orders worth ${amounts(t.order_value)}.`);
  print(`Wrote ${files.length} files: ${all.campaigns.length} campaign and ${all.triggers.length} trigger reports, and reports/index.json and reports/index.md.`);
  if (published) print(publishedText(published));
}

/** Every report and the overview, written under reports/; the files written. */
async function writeAll(db: Db, dir: string) {
  const all = await allReports(db);
  const files = [...all.campaigns.flatMap((r) => writeReport(dir, r)), ...all.triggers.flatMap((r) => writeTriggerReport(dir, r)), ...writeOverview(dir, all.overview)];
  return { all, files };
}

/** --commit, --push, --remote and --branch only make sense together, and with --all. */
function checkGitOptions(opts: ReportOpts): void {
  if (opts.commit && !opts.all) throw new UserError('--commit commits every report: it needs --all', 'herald report --all --commit');
  if (opts.push && !opts.commit) throw new UserError('--push pushes the commit --commit makes: it needs --commit', 'herald report --all --commit --push');
  for (const flag of ['remote', 'branch'] as const) {
    if (opts[flag] !== undefined && !opts.push) throw new UserError(`--${flag} says where to push: it needs --push`, `herald report --all --commit --push --${flag} ${JSON.stringify(opts[flag])}`);
  }
  if (opts.remote !== undefined && !/^[A-Za-z0-9][\w.\-/]*$/.test(opts.remote)) throw new UserError(`--remote ${JSON.stringify(opts.remote)} is not the name of a remote`, 'give a remote of this clone, as git remote lists them, for example --remote origin');
  if (opts.branch !== undefined && !/^[A-Za-z0-9][\w.\-/]*$/.test(opts.branch)) throw new UserError(`--branch ${JSON.stringify(opts.branch)} is not a branch name`, 'for example --branch main');
}

function publishedText(p: Published): string {
  const lines: string[] = [];
  if (p.commit) lines.push(`Committed ${p.files} file${p.files === 1 ? '' : 's'} in reports/ as ${p.commit.slice(0, 12)}.`);
  else if (!p.pushed) lines.push('reports unchanged; nothing to commit');
  if (p.pushed) {
    const { remote, branch, rebased, rewritten } = p.pushed;
    const moved = [
      ...(rebased ? [`rebased onto it ${times(rebased)}`] : []),
      ...(rewritten ? [`wrote the reports again onto it ${times(rewritten)}, as the rebase could not be made`] : []),
    ];
    if (p.commit) lines.push(`Pushed to ${remote} ${branch}${moved.length ? ` (the branch had moved: ${moved.join('; ')})` : ''}.`);
    else lines.push(`${remote} ${branch} already holds these reports; nothing to push.`);
  }
  return lines.join('\n');
}

const times = (n: number) => (n === 1 ? 'once' : `${n} times`);
