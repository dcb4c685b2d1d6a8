import { createHash } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, relative } from 'node:path';
import { readWorkspaceText, unreadableWorkspaceFile, workspaceEntryExists, writableInside, type SizeLimit } from './files.js';

/**
 * A content-addressed cache on disk for CLI runs: results keyed by a hash of
 * everything they depend on, so an unchanged input is never worked on twice.
 * Off unless a directory is set; tests run without it.
 *
 * It lives in the user's cache folder, never in the workspace: what a cache
 * entry holds (compiled HTML) is sent as it is, and a pull request can commit
 * any file into the workspace, `.herald/` included. A planted entry there
 * would be mailed to every customer without anyone reviewing it.
 */
let where: { dir: string; workspace: string } | undefined;

/** Turns the cache on in `dir` (off with undefined); nothing is read or written through a link out of it. */
export function setCacheDir(dir: string | undefined): void {
  where = dir === undefined ? undefined : { dir, workspace: dir };
}

/** `$HERALD_CACHE_DIR`, else `$XDG_CACHE_HOME/herald`, else `~/.cache/herald`: the user's own, outside any workspace. */
export function defaultCacheDir(): string {
  return process.env.HERALD_CACHE_DIR || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'herald');
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

/** Whether a cache folder is set: CLI runs, not tests or the library. */
export function cacheActive(): boolean {
  return where !== undefined;
}

/** The value stored under `key`, else `compute`'s, stored for the next run. */
export function cached<T>(namespace: string, key: string, compute: () => T): T {
  const hit = cacheGet<T>(namespace, key);
  if (hit !== undefined) return hit;
  const value = compute();
  cachePut(namespace, key, value);
  return value;
}

/** cached, for work that is asynchronous. */
export async function cachedAsync<T>(namespace: string, key: string, compute: () => Promise<T>): Promise<T> {
  const hit = cacheGet<T>(namespace, key);
  if (hit !== undefined) return hit;
  const value = await compute();
  cachePut(namespace, key, value);
  return value;
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
  // Read as carefully as a workspace file: no link out, no pipe, no huge file.
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
  try {
    mkdirSync(where.dir, { recursive: true });
    // A namespace folder that is a link must not make herald write elsewhere.
    if (!writableInside(where.workspace, relative(where.workspace, dir))) return;
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${key}.json`);
    // wx: never through a link planted under the temporary name; the rename replaces a link, not its target.
    writeFileSync(`${file}.${process.pid}.tmp`, JSON.stringify(value), { flag: 'wx' });
    renameSync(`${file}.${process.pid}.tmp`, file);
  } catch {
    // The cache is an optimisation: a read-only home still works.
  }
}
