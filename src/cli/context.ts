import { join, resolve } from 'node:path';
import { openDb, sqlState, type Db } from '../db/db.js';
import { migrate } from '../db/migrate.js';
import { UserError } from '../errors.js';
import { validateWorkspace } from '../workspace/validate.js';
import type { Workspace } from '../workspace/model.js';

/** Options every command understands. */
export interface GlobalOptions {
  dir?: string;
  db?: string;
}

export function workspaceDir(opts: GlobalOptions): string {
  return resolve(opts.dir ?? process.cwd());
}

/** `--db`, else HERALD_DATABASE_URL, else the embedded database in `.herald/db`. */
export function dbSpec(opts: GlobalOptions): string {
  // An empty variable counts as unset, as in a CI step that clears it with `VAR=`.
  return opts.db || process.env.HERALD_DATABASE_URL || join(workspaceDir(opts), '.herald', 'db');
}

/** Opens the database, brings it up to the latest migration, runs `fn`, and always closes it. */
export async function withDb<T>(opts: GlobalOptions, fn: (db: Db) => Promise<T>): Promise<T> {
  const spec = dbSpec(opts);
  let db: Db;
  try {
    db = await openDb(spec);
  } catch (err) {
    throw unreachable(spec, err);
  }
  try {
    try {
      await migrate(db);
    } catch (err) {
      throw err instanceof UserError ? err : unreachable(db.where, err);
    }
    return await fn(db);
  } finally {
    await db.close().catch(() => {});
  }
}

/** The first statement is where a wrong URL, a stopped server or bad credentials show up. */
function unreachable(where: string, err: unknown): UserError {
  return new UserError(
    `cannot use the database ${where}: ${(err as Error).message || sqlState(err) || String(err)}`,
    'check --db or HERALD_DATABASE_URL, and that the server is running',
  );
}

/** The workspace, or a UserError carrying every problem when it has errors. */
export async function validWorkspace(opts: GlobalOptions): Promise<Workspace> {
  const { workspace, problems } = await validateWorkspace(workspaceDir(opts));
  const errors = problems.filter((p) => p.severity === 'error');
  if (!workspace || errors.length > 0) {
    throw new UserError(`the workspace has ${errors.length} error${errors.length === 1 ? '' : 's'}`, 'fix them and run `herald validate`', errors);
  }
  return workspace;
}

/** Colour on a TTY unless NO_COLOR is set (https://no-color.org). */
export function useColor(): boolean {
  return !!process.stdout.isTTY && !process.env.NO_COLOR;
}

export function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

export function printJson(value: unknown): void {
  print(JSON.stringify(value, null, 2));
}
