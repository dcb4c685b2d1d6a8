import type { Queryable } from '../db/db.js';
import type { DeployObject, ObjectKind } from './objects.js';

/** Deployed state: named queries over herald.objects, herald.object_versions and herald.applies. */

export interface DeployedObject extends DeployObject {
  version: number;
  gitCommit: string | null;
  appliedAt: Date;
  archivedAt: Date | null;
}

interface ObjectRow {
  kind: ObjectKind;
  name: string;
  spec: Record<string, unknown>;
  hash: string;
  version: number;
  git_commit: string | null;
  applied_at: Date;
  archived_at: Date | null;
}

const toDeployed = (r: ObjectRow): DeployedObject => ({
  kind: r.kind,
  name: r.name,
  spec: r.spec,
  hash: r.hash,
  version: r.version,
  gitCommit: r.git_commit,
  appliedAt: new Date(r.applied_at),
  archivedAt: r.archived_at ? new Date(r.archived_at) : null,
});

/** loadDeployed: every deployed object, archived ones included, for plan to diff against. */
export async function loadDeployed(db: Queryable): Promise<DeployedObject[]> {
  const rows = await db.query<ObjectRow>(
    'SELECT kind, name, spec, hash, version, git_commit, applied_at, archived_at FROM herald.objects ORDER BY kind, name',
  );
  return rows.map(toDeployed);
}

/** loadObject: one deployed, unarchived object's spec, or undefined. */
export async function loadObject<T>(db: Queryable, kind: ObjectKind, name: string): Promise<T | undefined> {
  const [row] = await db.query<{ spec: T }>(
    'SELECT spec FROM herald.objects WHERE kind = $1 AND name = $2 AND archived_at IS NULL',
    [kind, name],
  );
  return row?.spec;
}

/** recordApply: the apply row first, so each version can point at the apply that wrote it. */
export async function recordApply(
  db: Queryable,
  a: { gitCommit: string | null; appliedBy: string | null; environment: string | null; changes: unknown },
): Promise<number> {
  const [row] = await db.query<{ id: number }>(
    'INSERT INTO herald.applies (git_commit, applied_by, environment, changes) VALUES ($1, $2, $3, $4::jsonb) RETURNING id',
    [a.gitCommit, a.appliedBy, a.environment, JSON.stringify(a.changes)],
  );
  return row!.id;
}

export interface VersionMeta {
  gitCommit: string | null;
  gitAuthor: string | null;
  applyId: number;
  audience?: number | null;
}

/**
 * writeObject: create or replace one object's deployed spec, bump its version
 * and keep the new version in the history, in two statements.
 */
export async function writeObject(db: Queryable, o: DeployObject, m: VersionMeta): Promise<number> {
  const [row] = await db.query<{ version: number; created: boolean }>(
    `INSERT INTO herald.objects (kind, name, spec, hash, git_commit, apply_id, applied_at, version)
     -- A name deleted and created again continues its history's numbering.
     VALUES ($1, $2, $3::jsonb, $4, $5, $6, now(),
             coalesce((SELECT max(version) FROM herald.object_versions WHERE kind = $1 AND name = $2), 0) + 1)
     ON CONFLICT (kind, name) DO UPDATE
       SET spec = EXCLUDED.spec, hash = EXCLUDED.hash, git_commit = EXCLUDED.git_commit,
           apply_id = EXCLUDED.apply_id, applied_at = EXCLUDED.applied_at,
           version = herald.objects.version + 1, archived_at = NULL
     RETURNING version, (xmax = 0) AS created`,
    [o.kind, o.name, JSON.stringify(o.spec), o.hash, m.gitCommit, m.applyId],
  );
  await recordVersion(db, o.kind, o.name, row!.version, row!.created ? 'create' : 'update', o, m);
  return row!.version;
}

/** deleteObject: remove one deployed object; its history stays. */
export async function deleteObject(db: Queryable, kind: ObjectKind, name: string, m: VersionMeta): Promise<void> {
  const [row] = await db.query<{ version: number }>(
    'DELETE FROM herald.objects WHERE kind = $1 AND name = $2 RETURNING version',
    [kind, name],
  );
  if (row) await recordVersion(db, kind, name, row.version + 1, 'delete', undefined, m);
}

/** archiveObject: keep the object and its ledger, but take it out of the workspace's view. */
export async function archiveObject(db: Queryable, kind: ObjectKind, name: string, m: VersionMeta): Promise<void> {
  const [row] = await db.query<{ version: number }>(
    `UPDATE herald.objects SET archived_at = now(), version = version + 1, apply_id = $3
      WHERE kind = $1 AND name = $2 AND archived_at IS NULL RETURNING version`,
    [kind, name, m.applyId],
  );
  if (row) await recordVersion(db, kind, name, row.version, 'archive', undefined, m);
}

async function recordVersion(
  db: Queryable,
  kind: ObjectKind,
  name: string,
  version: number,
  action: 'create' | 'update' | 'delete' | 'archive',
  o: DeployObject | undefined,
  m: VersionMeta,
): Promise<void> {
  await db.query(
    `INSERT INTO herald.object_versions (kind, name, version, action, hash, spec, git_commit, git_author, audience, apply_id)
     VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10)`,
    [kind, name, version, action, o?.hash ?? null, o ? JSON.stringify(o.spec) : null, m.gitCommit, m.gitAuthor, m.audience ?? null, m.applyId],
  );
}

export interface VersionRow {
  version: number;
  action: string;
  hash: string | null;
  gitCommit: string | null;
  gitAuthor: string | null;
  appliedAt: Date;
  applyId: number;
}

/** history: every version of one object, newest first. */
export async function history(db: Queryable, kind: string, name: string): Promise<VersionRow[]> {
  const rows = await db.query<{ version: number; action: string; hash: string | null; git_commit: string | null; git_author: string | null; applied_at: Date; apply_id: number }>(
    `SELECT version, action, hash, git_commit, git_author, applied_at, apply_id
       FROM herald.object_versions WHERE kind = $1 AND name = $2 ORDER BY version DESC`,
    [kind, name],
  );
  return rows.map((r) => ({ version: r.version, action: r.action, hash: r.hash, gitCommit: r.git_commit, gitAuthor: r.git_author, appliedAt: new Date(r.applied_at), applyId: r.apply_id }));
}

/** lastApply: the most recent apply, to show which commit a database runs. */
export async function lastApply(db: Queryable): Promise<{ id: number; gitCommit: string | null; appliedAt: Date; appliedBy: string | null } | undefined> {
  const [row] = await db.query<{ id: number; git_commit: string | null; applied_at: Date; applied_by: string | null }>(
    'SELECT id, git_commit, applied_at, applied_by FROM herald.applies ORDER BY id DESC LIMIT 1',
  );
  return row ? { id: row.id, gitCommit: row.git_commit, appliedAt: new Date(row.applied_at), appliedBy: row.applied_by } : undefined;
}

/** objectVersion: the deployed version number of an object, recorded with each ledger row. */
export async function objectVersion(db: Queryable, kind: string, name: string): Promise<number | null> {
  const [row] = await db.query<{ v: number | null }>('SELECT max(version)::int AS v FROM herald.object_versions WHERE kind = $1 AND name = $2', [kind, name]);
  return row?.v ?? null;
}

/** objectHash: the hash of an object's deployed spec (an override records the spec it was set against). */
export async function objectHash(db: Queryable, kind: string, name: string): Promise<string | undefined> {
  const [row] = await db.query<{ hash: string }>('SELECT hash FROM herald.objects WHERE kind = $1 AND name = $2', [kind, name]);
  return row?.hash;
}

/** lastAudiences: the audience size each campaign's last applied version recorded, for plan's "since the last apply". */
export async function lastAudiences(db: Queryable): Promise<Map<string, number>> {
  const rows = await db.query<{ name: string; n: number }>(
    `SELECT DISTINCT ON (name) name, audience AS n
       FROM herald.object_versions WHERE kind = 'campaign' AND audience IS NOT NULL
      ORDER BY name, version DESC`,
  );
  return new Map(rows.map((r) => [r.name, r.n]));
}
