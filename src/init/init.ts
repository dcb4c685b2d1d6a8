import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { packageName, scaffoldFiles } from './files.js';

/** herald's package root: package.json and schemas/ sit there both in the repository and in an installed package. */
const packageRoot = new URL('../../', import.meta.url);

export interface InitResult {
  /** The workspace directory, absolute. */
  dir: string;
  /** Files written, relative to dir, sorted. */
  created: string[];
  /** Files of the scaffold that were already there and were left as they were. */
  kept: string[];
  /** An existing .gitignore got a `.herald/` line. */
  gitignoreUpdated: boolean;
}

/**
 * Scaffolds a new workspace in `target`, creating the directory if needed.
 * Refuses when a herald.yaml is already there. Files that exist are kept.
 *
 * Nothing appears half-written: every file is first written into a staging
 * directory, then the staging directory becomes the workspace (a new
 * directory), or its files are moved into place and moved back out if one
 * move fails (an existing directory).
 */
export function initWorkspace(target: string): InitResult {
  const dir = resolve(target);
  if (existsSync(dir) && !statSync(dir).isDirectory()) {
    throw new UserError(`${dir} exists and is not a directory`, 'give herald init a new or existing directory');
  }
  if (existsSync(join(dir, 'herald.yaml'))) {
    throw new UserError(
      `${dir} already has a herald.yaml; herald init never overwrites a workspace`,
      'edit the existing workspace, or give herald init a new or empty directory',
    );
  }
  const files = scaffoldFiles({ name: packageName(basename(dir)), heraldVersion: heraldVersion(), schemas: bundledSchemas() });
  const existed = existsSync(dir);
  const kept = Object.keys(files).filter((f) => existed && existsSync(join(dir, f))).sort();
  const created = Object.keys(files).filter((f) => !kept.includes(f)).sort();

  try {
    mkdirSync(dirname(dir), { recursive: true });
    // Staging beside the target keeps the final renames on one filesystem.
    const stage = mkdtempSync(join(existed ? dir : dirname(dir), '.herald-init-'));
    try {
      for (const f of created) {
        mkdirSync(dirname(join(stage, f)), { recursive: true });
        writeFileSync(join(stage, f), files[f]!);
      }
      if (existed) moveInto(stage, dir, created);
      else renameSync(stage, dir);
    } finally {
      rmSync(stage, { recursive: true, force: true });
    }
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (!e.code) throw err;
    throw new UserError(`cannot create the workspace in ${dir}: ${e.message}`, 'check that the directory is writable, then run herald init again');
  }

  const gitignoreUpdated = kept.includes('.gitignore') && ignoreHeraldState(join(dir, '.gitignore'));
  return { dir, created, kept, gitignoreUpdated };
}

/** Moves staged files into an existing directory; on any failure, takes back what was moved. */
function moveInto(stage: string, dir: string, files: string[]): void {
  const moved: string[] = [];
  const made: string[] = [];
  try {
    for (const f of files) {
      const to = join(dir, f);
      const first = mkdirSync(dirname(to), { recursive: true });
      if (first) made.push(first);
      renameSync(join(stage, f), to);
      moved.push(to);
    }
  } catch (err) {
    for (const p of moved.reverse()) rmSync(p, { force: true });
    // Only directories this call created, so nothing of the user's goes with them.
    for (const d of made.reverse()) rmSync(d, { recursive: true, force: true });
    throw err;
  }
}

/** The embedded database and outbox must never be committed. */
function ignoreHeraldState(file: string): boolean {
  const text = readFileSync(file, 'utf8');
  if (text.split(/\r?\n/).some((line) => /^\/?\.herald\/?$/.test(line.trim()))) return false;
  appendFileSync(file, `${text === '' || text.endsWith('\n') ? '' : '\n'}# herald's local state: the embedded database and the outbox.\n.herald/\n`);
  return true;
}

function heraldVersion(): string {
  return (JSON.parse(readFileSync(new URL('package.json', packageRoot), 'utf8')) as { version: string }).version;
}

function bundledSchemas(): Record<string, string> {
  const dir = new URL('schemas/', packageRoot);
  return Object.fromEntries(
    readdirSync(dir)
      .filter((f) => f.endsWith('.schema.json'))
      .sort()
      .map((f) => [f, readFileSync(new URL(f, dir), 'utf8')]),
  );
}
