import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { scaffoldFiles } from './files.js';
import { replaceFile } from '../workspace/files.js';

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
export interface InitOptions {
  /** `owner/repo@ref` of herald's action for the workflows; default: this herald's repository at its version's tag. */
  action?: string;
}

export function initWorkspace(target: string, opts: InitOptions = {}): InitResult {
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
  const action = opts.action ?? defaultAction();
  checkAction(action);
  const files = scaffoldFiles({ heraldVersion: heraldVersion(), action, schemas: bundledSchemas() });
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

/**
 * `herald init --schemas`: copies this herald's JSON Schemas into an existing
 * workspace again, after an upgrade. Each file is replaced atomically.
 */
export function refreshSchemas(target: string): { dir: string; written: string[] } {
  const dir = resolve(target);
  if (!existsSync(join(dir, 'herald.yaml'))) {
    throw new UserError(`${dir} has no herald.yaml; --schemas refreshes the schemas of an existing workspace`, 'run it in the workspace (or give --dir), or run herald init without --schemas to create one');
  }
  const written: string[] = [];
  try {
    mkdirSync(join(dir, 'schemas'), { recursive: true });
    for (const [file, text] of Object.entries(bundledSchemas())) {
      const to = join(dir, 'schemas', file);
      replaceFile(to, text);
      written.push(`schemas/${file}`);
    }
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (!e.code) throw err;
    throw new UserError(`cannot write the schemas in ${dir}: ${e.message}`, 'check that the directory is writable, then run herald init --schemas again');
  }
  return { dir, written };
}

function packageJson(): { version: string; repository?: { url?: string } } {
  return JSON.parse(readFileSync(new URL('package.json', packageRoot), 'utf8')) as { version: string; repository?: { url?: string } };
}

function heraldVersion(): string {
  return packageJson().version;
}

/** This herald's own repository (package.json's repository) at the tag of its version. */
function defaultAction(): string {
  const pkg = packageJson();
  const repo = /github\.com[/:]([^/]+\/[^/.]+)/.exec(pkg.repository?.url ?? '')?.[1] ?? 'herald-crm/herald';
  return `${repo}@v${pkg.version}`;
}

/** A `uses:` line must name owner/repo@ref: anything else would make every workflow fail on GitHub. */
function checkAction(action: string): void {
  if (!/^[A-Za-z0-9-]+\/[A-Za-z0-9._-]+@[A-Za-z0-9._/-]+$/.test(action)) {
    throw new UserError(`--action "${action}" is not owner/repo@ref`, 'name herald\'s repository and a tag or commit, for example --action herald-crm/herald@v0.1.0 or …@<40-hex commit>');
  }
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
