import { relative, resolve, sep } from 'node:path';
import type { Problem } from '../../errors.js';
import { listWorkspaceDir, workspaceEntryExists } from '../files.js';
import type { ListEntry, Workspace } from '../model.js';
import { problemAt } from '../source.js';
import type { Check } from './index.js';
import { csvProblems } from './lists-csv.js';
import { didYouMean } from './semantic-conditions.js';

/**
 * Imported lists: the list's site exists, its CSV is in lists/, and the CSV
 * would import cleanly (see lists-csv.ts). Lists are checked one at a time,
 * so memory stays bounded however many large files a workspace holds.
 */
export const listChecks: Check = async (ws) => {
  const sites = new Map(ws.project.spec.sites.map((s) => [s.id, s.locales]));
  const out: Problem[] = [];
  for (const list of ws.lists.values()) out.push(...(await listProblems(ws, list, sites)));
  return out;
};

async function listProblems(ws: Workspace, list: ListEntry, sites: Map<string, string[]>): Promise<Problem[]> {
  const out: Problem[] = [];
  const { site, file } = list.spec;
  const siteKnown = site === undefined || sites.has(site);
  if (!siteKnown) {
    out.push(problemAt(list.source, ['site'], `site "${site}" is not defined in herald.yaml`, 'reference', { hint: didYouMean(site!, [...sites.keys()], 'defined sites') }));
  }

  const folder = resolve(ws.dir, 'lists');
  const path = resolve(folder, file);
  if (!path.startsWith(folder + sep)) {
    out.push(problemAt(list.source, ['file'], `"${file}" is outside lists/`, 'csv', { hint: 'keep the CSV in lists/ and give its path relative to lists/, such as fair-2026.csv' }));
    return out;
  }
  const csv = relative(ws.dir, path).split(sep).join('/');
  // Anything at the path is the reader's to judge: a broken link, a folder or a pipe is reported at the CSV.
  if (!workspaceEntryExists(ws.dir, csv)) {
    out.push(problemAt(list.source, ['file'], `lists/${file} does not exist`, 'csv', { hint: csvFilesHint(ws.dir, file) }));
    return out;
  }

  const result = await csvProblems(ws.dir, csv, { sites, ...(site !== undefined && siteKnown ? { site } : {}) });
  out.push(...result.problems);
  if (result.columns && !result.columns.includes('site') && site === undefined && sites.size > 1) {
    out.push(problemAt(list.source, [], 'the contacts have no site: the list names none and the CSV has no site column', 'csv', {
      hint: `add site: <id> to the list (${[...sites.keys()].join(', ')}), or a site column to the CSV`,
    }));
  }
  return out;
}

function csvFilesHint(root: string, file: string): string {
  const present = (listWorkspaceDir(root, 'lists').names ?? []).filter((f) => f.toLowerCase().endsWith('.csv'));
  return present.length ? didYouMean(file, present, 'CSV files in lists/') : `put the CSV file at lists/${file}`;
}
