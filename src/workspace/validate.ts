import { join } from 'node:path';
import type { Problem } from '../errors.js';
import { setCacheDir } from './cache.js';
import { CHECKS } from './checks/index.js';
import { loadWorkspace, sortProblems, type LoadResult } from './load.js';

/**
 * Everything `herald validate` checks: the loader's syntax, schema and
 * reference problems, then the deeper checks in checks/ (MJML, tokens, CSV
 * lists, SQL, semantic rules). Needs no database.
 */
export async function validateWorkspace(dir: string, opts: { cache?: boolean } = {}): Promise<LoadResult> {
  // CLI runs keep compiled MJML and body check results in .herald/cache (git-ignored).
  if (opts.cache) setCacheDir(join(dir, '.herald', 'cache'), dir);
  const loaded = loadWorkspace(dir);
  const ws = loaded.workspace;
  if (!ws) return loaded;
  const more: Problem[][] = await Promise.all(CHECKS.map((check) => check(ws, loaded.failed)));
  return { workspace: ws, problems: sortProblems([...loaded.problems, ...more.flat()]), failed: loaded.failed };
}
