import { reportText } from '../../report/report.js';
import { triggerReportText } from '../../report/trigger.js';
import { campaignReport, reportSubject, triggerReport, writeReport, writeTriggerReport } from '../../report/write.js';
import { print, printJson, withDb, workspaceDir, type GlobalOptions } from '../context.js';

/**
 * `herald report <campaign|trigger>`: prints the report and writes it
 * beside the workspace: reports/<campaign>.json and .md, or
 * reports/triggers/<trigger>.json and .md.
 */
export default async function report([ref]: string[], opts: GlobalOptions & { json?: boolean }): Promise<void> {
  const dir = workspaceDir(opts);
  const r = await withDb(opts, async (db) => {
    const subject = await reportSubject(db, ref!);
    return subject.kind === 'trigger' ? triggerReport(db, subject.name) : campaignReport(db, subject.name);
  });
  const [text, files] = 'kind' in r ? [triggerReportText(r), writeTriggerReport(dir, r)] : [reportText(r), writeReport(dir, r)];
  if (opts.json) printJson(r);
  else print(`${text}\n\nWrote ${files.map((f) => f.slice(dir.length + 1)).join(' and ')}.`);
}
