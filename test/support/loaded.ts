import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './workspace.js';

/**
 * Records the modules a CLI run loads (test/support/loaded-modules.mjs):
 * `env` goes to the run (herald() in cli.ts, or execFile with the recorder's
 * --import); `modules()` reads what it loaded, as paths; `remove()` deletes
 * the record.
 */
export function moduleRecord(): { env: Record<string, string>; modules(): string[]; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'herald-modules-'));
  const out = join(dir, 'modules.txt');
  return {
    env: { HERALD_LOADED_MODULES: out, NODE_OPTIONS: `--import=${recorder}` },
    modules: () =>
      readFileSync(out, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((m) => (m.startsWith('file://') ? new URL(m).pathname : m)),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export const recorder = join(repoRoot, 'test', 'support', 'loaded-modules.mjs');

/** The package a module path belongs to (@scope/name or name), or undefined for herald's own and node's. */
export function packageOf(path: string): string | undefined {
  const m = /.*\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path);
  return m?.[1];
}

/** The packages among the modules, sorted, each once. */
export const packages = (modules: string[]): string[] => [...new Set(modules.map(packageOf).filter((p): p is string => p !== undefined))].sort();
