import type { Problem } from '../errors.js';
import { defaultCacheDir, setCacheDir } from './cache.js';
import { CHECKS } from './checks/index.js';
import { loadWorkspace, sortProblems, type LoadResult } from './load.js';

/**
 * Everything `herald validate` checks: the loader's syntax, schema and
 * reference problems, then the deeper checks in checks/ (MJML, tokens, CSV
 * lists, SQL, semantic rules). Needs no database.
 */
export async function validateWorkspace(dir: string, opts: { cache?: boolean } = {}): Promise<LoadResult> {
  // CLI runs keep compiled MJML and body check results in the user's cache folder (cache.ts says why not in the workspace).
  if (opts.cache) setCacheDir(defaultCacheDir());
  const loaded = loadWorkspace(dir);
  const ws = loaded.workspace;
  if (!ws) return loaded;
  const more: Problem[][] = await Promise.all(CHECKS.map((check) => check(ws, loaded.failed)));
  return { workspace: ws, problems: sortProblems([...loaded.problems, ...more.flat()]), failed: loaded.failed };
}
