import { reportText } from '../../report/report.js';
import { triggerReportText } from '../../report/trigger.js';
import { amounts } from '../../report/results.js';
import { allReports, campaignReport, reportSubject, triggerReport, writeOverview, writeReport, writeTriggerReport } from '../../report/write.js';
import { UserError } from '../../errors.js';
import { print, printJson, withDb, workspaceDir, type GlobalOptions } from '../context.js';

/**
 * `herald report <campaign|trigger>`: prints the report and writes it
 * beside the workspace: reports/<campaign>.json and .md, or
 * reports/triggers/<trigger>.json and .md.
 */
export default async function report([ref]: string[], opts: GlobalOptions & { json?: boolean; all?: boolean }): Promise<void> {
  const dir = workspaceDir(opts);
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

/** `herald report --all`: every report, and the overview over all mailings (reports/index.json and .md). */
async function reportAll(dir: string, opts: GlobalOptions & { json?: boolean }): Promise<void> {
  const all = await withDb(opts, (db) => allReports(db));
  const files = [...all.campaigns.flatMap((r) => writeReport(dir, r)), ...all.triggers.flatMap((r) => writeTriggerReport(dir, r)), ...writeOverview(dir, all.overview)];
  if (opts.json) return printJson(all.overview);
  const t = all.overview.totals;
  print(`${t.mailings} mailings: ${t.sent} sent, ${t.delivered} delivered, ${t.opened} opened and ${t.clicked} clicked by people, ${t.orders} orders worth ${amounts(t.order_value)}.`);
  print(`Wrote ${files.length} files: ${all.campaigns.length} campaign and ${all.triggers.length} trigger reports, and reports/index.json and reports/index.md.`);
}
