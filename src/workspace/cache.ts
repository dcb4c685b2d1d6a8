import { createHash } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { readWorkspaceText, unreadableWorkspaceFile, workspaceEntryExists, writableInside, type SizeLimit } from './files.js';

/**
 * A content-addressed cache on disk for CLI runs (`.herald/cache/`, git-ignored):
 * results keyed by a hash of everything they depend on, so an unchanged input
 * is never worked on twice. Off unless a directory is set; tests run without it.
 */
let where: { dir: string; workspace: string } | undefined;

/** Turns the cache on in `dir` (off with undefined); it may never lead out of `workspace`. */
export function setCacheDir(dir: string | undefined, workspace = dir): void {
  where = dir === undefined ? undefined : { dir, workspace: workspace ?? dir };
}

/** A hash of any plain value; Maps and Sets count by their content (JSON alone would write `{}`). */
export function cacheKey(...parts: unknown[]): string {
  const json = JSON.stringify(parts, (_k, v: unknown) => (v instanceof Map ? [...v.entries()] : v instanceof Set ? [...v] : v));
  return createHash('sha256').update(json).digest('hex');
}

/** An entry's path relative to the workspace. */
function entry(namespace: string, key: string): string {
  return relative(where!.workspace, join(where!.dir, namespace, `${key}.json`));
}

export function cacheHas(namespace: string, key: string): boolean {
  return !!where && !unreadableWorkspaceFile(where.workspace, entry(namespace, key));
}

/** Compiled MJML of the largest body herald accepts stays far below this. */
const ENTRY_LIMIT: SizeLimit = { bytes: 64 * 1024 * 1024, what: 'a cache entry', hint: 'delete .herald/cache' };

export function cacheGet<T>(namespace: string, key: string): T | undefined {
  if (!where) return undefined;
  const file = entry(namespace, key);
  if (!workspaceEntryExists(where.workspace, file)) return undefined;
  // The cache is inside the workspace, so a link in it is read as carefully as any workspace file.
  const read = readWorkspaceText(where.workspace, file, ENTRY_LIMIT);
  if (read.problem) return undefined; // a link out, a pipe, a huge file: recompute and overwrite it
  try {
    return JSON.parse(read.text) as T;
  } catch {
    return undefined; // a torn or foreign file: recompute and overwrite it
  }
}

export function cachePut(namespace: string, key: string, value: unknown): void {
  if (!where) return;
  const dir = join(where.dir, namespace);
  // A .herald/ committed as a link must not make herald write elsewhere.
  if (!writableInside(where.workspace, relative(where.workspace, dir))) return;
  try {
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${key}.json`);
    // wx: never through a link planted under the temporary name; the rename replaces a link, not its target.
    writeFileSync(`${file}.${process.pid}.tmp`, JSON.stringify(value), { flag: 'wx' });
    renameSync(`${file}.${process.pid}.tmp`, file);
  } catch {
    // The cache is an optimisation: a read-only workspace still works.
  }
}
