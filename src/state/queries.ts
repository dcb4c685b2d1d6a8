import type { Queryable } from '../db/db.js';
import type { DeployObject, ObjectKind } from './objects.js';

/** Deployed state: named queries over herald.objects and herald.applies. */

export interface DeployedObject extends DeployObject {
  gitCommit: string | null;
  appliedAt: Date;
}

/** loadDeployed: every deployed object, for plan to diff against. */
export async function loadDeployed(db: Queryable): Promise<DeployedObject[]> {
  const rows = await db.query<{ kind: ObjectKind; name: string; spec: Record<string, unknown>; hash: string; git_commit: string | null; applied_at: Date }>(
    'SELECT kind, name, spec, hash, git_commit, applied_at FROM herald.objects ORDER BY kind, name',
  );
  return rows.map((r) => ({ kind: r.kind, name: r.name, spec: r.spec, hash: r.hash, gitCommit: r.git_commit, appliedAt: new Date(r.applied_at) }));
}

/** loadObject: one deployed object's spec, or undefined when it is not deployed. */
export async function loadObject<T>(db: Queryable, kind: ObjectKind, name: string): Promise<T | undefined> {
  const [row] = await db.query<{ spec: T }>('SELECT spec FROM herald.objects WHERE kind = $1 AND name = $2', [kind, name]);
  return row?.spec;
}

/** recordApply: the apply row first, so each object can point at the apply that wrote it. */
export async function recordApply(db: Queryable, gitCommit: string | null, appliedBy: string | null, changes: unknown): Promise<number> {
  const [row] = await db.query<{ id: number }>(
    'INSERT INTO herald.applies (git_commit, applied_by, changes) VALUES ($1, $2, $3::jsonb) RETURNING id',
    [gitCommit, appliedBy, JSON.stringify(changes)],
  );
  return row!.id;
}

/** upsertObject: create or replace one object's deployed spec. */
export async function upsertObject(db: Queryable, o: DeployObject, gitCommit: string | null, applyId: number): Promise<void> {
  await db.query(
    `INSERT INTO herald.objects (kind, name, spec, hash, git_commit, apply_id, applied_at)
     VALUES ($1, $2, $3::jsonb, $4, $5, $6, now())
     ON CONFLICT (kind, name) DO UPDATE
       SET spec = EXCLUDED.spec, hash = EXCLUDED.hash, git_commit = EXCLUDED.git_commit,
           apply_id = EXCLUDED.apply_id, applied_at = EXCLUDED.applied_at`,
    [o.kind, o.name, JSON.stringify(o.spec), o.hash, gitCommit, applyId],
  );
}

/** deleteObject: remove one deployed object. Ledger rows keep the campaign's name and survive. */
export async function deleteObject(db: Queryable, kind: ObjectKind, name: string): Promise<void> {
  await db.query('DELETE FROM herald.objects WHERE kind = $1 AND name = $2', [kind, name]);
}

/** lastApply: the most recent apply, to show which commit a database runs. */
export async function lastApply(db: Queryable): Promise<{ id: number; gitCommit: string | null; appliedAt: Date } | undefined> {
  const [row] = await db.query<{ id: number; git_commit: string | null; applied_at: Date }>(
    'SELECT id, git_commit, applied_at FROM herald.applies ORDER BY id DESC LIMIT 1',
  );
  return row ? { id: row.id, gitCommit: row.git_commit, appliedAt: new Date(row.applied_at) } : undefined;
}
