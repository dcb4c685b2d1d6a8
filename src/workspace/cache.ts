import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A content-addressed cache on disk for CLI runs (`.herald/cache/`, git-ignored):
 * results keyed by a hash of everything they depend on, so an unchanged input
 * is never worked on twice. Off unless a directory is set; tests run without it.
 */
let root: string | undefined;

export function setCacheDir(dir: string | undefined): void {
  root = dir;
}

/** A hash of any plain value; Maps and Sets count by their content (JSON alone would write `{}`). */
export function cacheKey(...parts: unknown[]): string {
  const json = JSON.stringify(parts, (_k, v: unknown) => (v instanceof Map ? [...v.entries()] : v instanceof Set ? [...v] : v));
  return createHash('sha256').update(json).digest('hex');
}

export function cacheHas(namespace: string, key: string): boolean {
  return !!root && existsSync(join(root, namespace, `${key}.json`));
}

export function cacheGet<T>(namespace: string, key: string): T | undefined {
  if (!root) return undefined;
  const file = join(root, namespace, `${key}.json`);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined; // a torn or foreign file: recompute and overwrite it
  }
}

export function cachePut(namespace: string, key: string, value: unknown): void {
  if (!root) return;
  try {
    const dir = join(root, namespace);
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${key}.json`);
    writeFileSync(`${file}.${process.pid}.tmp`, JSON.stringify(value));
    renameSync(`${file}.${process.pid}.tmp`, file);
  } catch {
    // The cache is an optimisation: a read-only workspace still works.
  }
}
