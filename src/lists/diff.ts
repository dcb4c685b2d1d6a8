import { parse } from 'csv-parse';
import type { Queryable } from '../db/db.js';
import { UserError } from '../errors.js';
import { openWorkspaceStream, WorkspaceFileError } from '../workspace/files.js';
import { normaliseEmail } from './import.js';

/** How a list's membership would change if its CSV were imported now. */
export interface ListDiff {
  added: number;
  removed: number;
  kept: number;
}

const CHUNK = 5000;

/**
 * listDiff: streams the CSV's addresses to the database in chunks and counts
 * which are new and which of the current members stay, so plan can show
 * `+added −removed` for a list of any size without holding it in memory.
 * Works inside plan's read-only transaction.
 */
export async function listDiff(db: Queryable, name: string, root: string, csv: string): Promise<ListDiff> {
  const [current] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM herald.list_members WHERE list = $1', [name]);
  let added = 0;
  let kept = 0;
  let chunk = new Set<string>();
  const flush = async () => {
    if (chunk.size === 0) return;
    const [r] = await db.query<{ added: number; kept: number }>(
      `SELECT count(*) FILTER (WHERE m.email IS NULL)::int AS added, count(m.email)::int AS kept
         FROM unnest($2::text[]) AS e(email)
         LEFT JOIN herald.list_members m ON m.list = $1 AND lower(m.email) = lower(e.email)`,
      [name, [...chunk]],
    );
    added += r!.added;
    kept += r!.kept;
    chunk = new Set();
  };
  // A duplicate across chunks would count twice; the import merges them, so this
  // is an estimate for files with duplicates far apart, and exact otherwise.
  // The workspace's safe reader: validate has judged the file, but it may have changed since.
  const opened = openWorkspaceStream(root, csv);
  if (opened.problem) throw new UserError(`cannot read the CSV of list "${name}"`, 'run `herald validate`', [opened.problem]);
  const parser = opened.stream.pipe(parse({ bom: true, columns: (h: string[]) => h.map((c) => c.trim().toLowerCase()), relax_column_count: true, skip_empty_lines: true }));
  opened.stream.on('error', (e) => parser.destroy(e));
  try {
    for await (const record of parser as AsyncIterable<Record<string, string>>) {
      const email = normaliseEmail(record.email ?? '');
      if (email) chunk.add(email.toLowerCase());
      if (chunk.size >= CHUNK) await flush();
    }
  } catch (e) {
    if (e instanceof WorkspaceFileError) throw new UserError(`cannot read the CSV of list "${name}"`, 'run `herald validate`', [e.problem]);
    throw e;
  }
  await flush();
  return { added, removed: current!.n - kept, kept };
}
