import { reportText } from '../../report/report.js';
import { campaignReport, writeReport } from '../../report/write.js';
import { print, printJson, withDb, workspaceDir, type GlobalOptions } from '../context.js';

export default async function report([campaign]: string[], opts: GlobalOptions & { json?: boolean }): Promise<void> {
  const r = await withDb(opts, (db) => campaignReport(db, campaign!));
  const files = writeReport(workspaceDir(opts), r);
  if (opts.json) printJson(r);
  else print(`${reportText(r)}\n\nWrote ${files.map((f) => f.slice(workspaceDir(opts).length + 1)).join(' and ')}.`);
}
