import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { inTheWay } from '../workspace/files.js';
import { readYaml } from '../workspace/source.js';
import type { Project } from '../workspace/model.js';
import { checkDbSpec, isServerUrl, openDb, redactSpec, sqlState, type Db } from '../db/db.js';
import { migrate } from '../db/migrate.js';
import { UserError } from '../errors.js';
import { defaultCacheDir, setCacheDir } from '../workspace/cache.js';
import { validateWorkspace } from '../workspace/validate.js';
import type { Workspace } from '../workspace/model.js';

/** Options every command understands. */
export interface GlobalOptions {
  dir?: string;
  db?: string;
  /** An environment from herald.yaml, whose variable holds the database URL. */
  env?: string;
}

export function workspaceDir(opts: GlobalOptions): string {
  return resolve(opts.dir ?? process.cwd());
}

/** Where the database spec comes from, for messages: --db, an environment's variable, HERALD_DATABASE_URL, or the default. */
interface DbChoice {
  spec: string;
  what: string;
}

/**
 * `.herald/<part>` in the workspace: herald's own state (the embedded
 * database, the outbox, the preview). A pull request can commit a link
 * there, and herald would write through it, or replace what it leads to:
 * a `.herald` or `.herald/<part>` that is a link is refused, wherever it
 * leads. With neither a link, the path cannot lead out of the workspace.
 */
export function heraldPath(opts: GlobalOptions, part: 'db' | 'outbox' | 'preview'): string {
  const dir = workspaceDir(opts);
  const target = join(dir, '.herald', part);
  const blocked = inTheWay(dir, target);
  if (blocked?.link) {
    throw new UserError(
      `${relative(dir, blocked.path)} in the workspace is a symbolic link (${blocked.path}); herald keeps its own state there and follows no link out of it`,
      `remove the link (rm '${blocked.path.replaceAll("'", "'\\''")}') and run again; for a database elsewhere give --db`,
    );
  }
  // `.herald/<part>` as a file is left to what opens it (PGlite, the outbox's writers) to name.
  if (blocked && blocked.path !== target) throw new UserError(`.herald in the workspace is not a folder (${blocked.path})`, 'herald keeps its own state in the .herald folder: move or remove the file, and run again');
  return target;
}

function defaultDb(opts: GlobalOptions): string {
  return heraldPath(opts, 'db');
}

/** `--db`, else `--env`'s variable, else HERALD_DATABASE_URL, else the embedded database in `.herald/db`. */
function chooseDb(opts: GlobalOptions): DbChoice {
  // `--db ''` is a mistake to report, not a reason to fall back to the default.
  if (opts.db !== undefined) return { spec: opts.db, what: '--db' };
  if (opts.env) return environmentUrl(opts);
  // An empty variable counts as unset, as in a CI step that clears it with `VAR=`.
  if (process.env.HERALD_DATABASE_URL) return { spec: process.env.HERALD_DATABASE_URL, what: '$HERALD_DATABASE_URL' };
  return { spec: defaultDb(opts), what: 'the default database' };
}

/** The database spec, refused when it is empty or a URL herald cannot open. */
export function dbSpec(opts: GlobalOptions): string {
  const c = chooseDb(opts);
  checkDbSpec(c.spec, c.what);
  return c.spec;
}

/**
 * Whether a database was chosen (--db, --env, HERALD_DATABASE_URL) or the
 * embedded one exists: commands that can work without one (preview) use it then.
 */
export function dbConfigured(opts: GlobalOptions): boolean {
  return !!(opts.db !== undefined || opts.env || process.env.HERALD_DATABASE_URL || existsSync(defaultDb(opts)));
}

type Environment = NonNullable<Project['environments']>[string];

/** herald.yaml as written (unvalidated: the CLI reads it before the workspace is checked), or undefined. */
function projectFile(opts: GlobalOptions): Project | undefined {
  const file = join(workspaceDir(opts), 'herald.yaml');
  return existsSync(file) ? (readYaml(workspaceDir(opts), 'herald.yaml').source?.value as Project | undefined) : undefined;
}

/** `--env NAME` as herald.yaml defines it. */
function environment(opts: GlobalOptions, project = projectFile(opts)): Environment {
  const envs = (project?.environments ?? {}) as Record<string, Environment>;
  const env = envs[opts.env!];
  if (!env || typeof env !== 'object') {
    const names = Object.keys(envs);
    throw new UserError(
      `environment "${opts.env}" is not defined in herald.yaml`,
      names.length ? `defined environments: ${names.join(', ')}` : 'add it under environments: in herald.yaml',
    );
  }
  return env;
}

/**
 * With `--env NAME`, the environment's own SMTP URL and link-signing secret
 * take the place of the defaults, for this process: $HERALD_SMTP_URL and the
 * variable tracking.secret_env names. When the environment names a variable
 * that is unset, the default is cleared rather than kept, so a production
 * run never sends through staging's server or signs with staging's secret.
 */
export function useEnvironment(opts: GlobalOptions): void {
  if (!opts.env) return;
  const project = projectFile(opts);
  const env = environment(opts, project);
  const take = (target: string, source: string | undefined) => {
    if (!source) return;
    const value = process.env[source];
    if (value) process.env[target] = value;
    else delete process.env[target];
  };
  take('HERALD_SMTP_URL', env.smtp_url_env);
  take(project?.tracking?.secret_env ?? 'HERALD_SECRET', env.secret_env);
}

/** The database URL of `--env NAME`, from the variable herald.yaml names for it. */
function environmentUrl(opts: GlobalOptions): DbChoice {
  const env = environment(opts);
  const url = process.env[env.database_url_env];
  if (!url) throw new UserError(`environment "${opts.env}" reads its database URL from $${env.database_url_env}, which is not set`, `export ${env.database_url_env}=postgres://…`);
  return { spec: url, what: `$${env.database_url_env} (environment ${opts.env})` };
}

/**
 * An embedded database's folder must hold a database already or be empty.
 * Only the default folder is created: a mistyped path must not become a new,
 * empty database that plan and apply then work against, nor may herald
 * write a database into a folder that holds something else.
 */
function checkEmbeddedFolder(c: DbChoice, opts: GlobalOptions): void {
  const dir = resolve(c.spec);
  const shown = redactSpec(dir);
  let st;
  try {
    st = statSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new UserError(`cannot use ${c.what} ${shown}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    if (dir === resolve(defaultDb(opts))) return;
    throw new UserError(
      `${c.what} names the folder ${shown}, which does not exist; herald creates only the default embedded database (.herald/db in the workspace)`,
      `for a new embedded database there, create the folder first (mkdir -p '${shown.replaceAll("'", "'\\''")}'); for a server give postgres://user@host/db`,
    );
  }
  if (!st.isDirectory()) throw new UserError(`${c.what} names ${shown}, which is not a folder`, 'give the folder of an embedded database, or postgres://user@host/db');
  if (existsSync(join(dir, 'PG_VERSION')) || readdirSync(dir).length === 0) return;
  throw new UserError(
    `${c.what} names the folder ${shown}, which is not an embedded database (it has no PG_VERSION) and is not empty`,
    'give an empty folder for a new embedded database, or the folder of an existing one',
  );
}

/** Opens the database and brings it up to the latest migration; the caller closes it. */
export async function openMigratedDb(opts: GlobalOptions): Promise<Db> {
  // A command on the database may render deployed templates (send, run,
  // deliver, trigger, serve): it keeps compiled MJML in the user's cache
  // folder as validate and plan do, so no send compiles its templates again.
  setCacheDir(defaultCacheDir());
  const c = chooseDb(opts);
  checkDbSpec(c.spec, c.what);
  if (!isServerUrl(c.spec)) checkEmbeddedFolder(c, opts);
  const spec = c.spec;
  let db: Db;
  try {
    db = await openDb(spec);
  } catch (err) {
    throw unreachable(redactSpec(spec), err);
  }
  try {
    await migrate(db);
  } catch (err) {
    await db.close().catch(() => {});
    throw err instanceof UserError ? err : unreachable(redactSpec(db.where), err);
  }
  return db;
}

/** Opens the migrated database, runs `fn`, and always closes it. */
export async function withDb<T>(opts: GlobalOptions, fn: (db: Db) => Promise<T>): Promise<T> {
  const db = await openMigratedDb(opts);
  try {
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
  const { workspace, problems } = await validateWorkspace(workspaceDir(opts), { cache: true });
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
