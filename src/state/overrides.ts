import type { Queryable } from '../db/db.js';
import { objectHash } from './queries.js';

/**
 * Emergency changes to a campaign's or trigger's status made outside git
 * (pause, resume, cancel), and their log: every query on herald.overrides and
 * herald.override_events. plan shows them as drift; apply clears one only
 * when the source's file has changed since it was set.
 */
export type OverrideKind = 'campaign' | 'trigger';
export type OverrideStatus = 'ready' | 'active' | 'paused' | 'cancelled';

export interface OverrideRow {
  kind: OverrideKind;
  name: string;
  status: OverrideStatus;
  reason: string;
  setBy: string;
  setAt: Date;
  specHash: string;
}

export async function setOverride(
  db: Queryable,
  o: { kind?: OverrideKind; name: string; status: OverrideStatus; reason: string; actor: string; specHash: string; action: string },
): Promise<void> {
  const kind = o.kind ?? 'campaign';
  await db.query(
    `INSERT INTO herald.overrides (kind, name, status, reason, set_by, spec_hash)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (kind, name) DO UPDATE
       SET status = EXCLUDED.status, reason = EXCLUDED.reason, set_by = EXCLUDED.set_by,
           set_at = now(), spec_hash = EXCLUDED.spec_hash`,
    [kind, o.name, o.status, o.reason, o.actor, o.specHash],
  );
  await logOverrideEvent(db, kind, o.name, o.action, o.reason, o.actor);
}

/**
 * pauseByHerald: herald pauses a source itself (the circuit breaker, the
 * complaint rate), with the reason, as `herald pause` would. One already
 * paused or cancelled is left as it is: a late report must not overwrite a
 * person's reason, nor turn a cancel into a pause that `herald resume`
 * could undo. True when it paused the source now.
 */
export async function pauseByHerald(db: Queryable, o: { kind: OverrideKind; name: string; reason: string; action: string }): Promise<boolean> {
  const [held] = await db.query<{ status: OverrideStatus }>('SELECT status FROM herald.overrides WHERE kind = $1 AND name = $2', [o.kind, o.name]);
  if (held?.status === 'paused' || held?.status === 'cancelled') return false;
  const specHash = (await objectHash(db, o.kind, o.name)) ?? '';
  await setOverride(db, { kind: o.kind, name: o.name, status: 'paused', reason: o.reason, actor: 'herald', specHash, action: o.action });
  return true;
}

/** clearOverride: apply restores the workspace's status; the event log keeps what happened. */
export async function clearOverride(db: Queryable, kind: OverrideKind, name: string, actor: string | null): Promise<void> {
  const rows = await db.query('DELETE FROM herald.overrides WHERE kind = $1 AND name = $2 RETURNING name', [kind, name]);
  if (rows.length) await logOverrideEvent(db, kind, name, 'override cleared by apply', null, actor);
}

export async function logOverrideEvent(db: Queryable, kind: OverrideKind, name: string, action: string, reason: string | null, actor: string | null): Promise<void> {
  await db.query('INSERT INTO herald.override_events (kind, name, action, reason, actor) VALUES ($1, $2, $3, $4, $5)', [kind, name, action, reason, actor]);
}

/** allOverrides: every override in force. */
export async function allOverrides(db: Queryable): Promise<OverrideRow[]> {
  const rows = await db.query<{ kind: OverrideKind; name: string; status: OverrideStatus; reason: string; set_by: string; set_at: Date; spec_hash: string }>(
    'SELECT kind, name, status, reason, set_by, set_at, spec_hash FROM herald.overrides ORDER BY kind, name',
  );
  return rows.map((r) => ({ kind: r.kind, name: r.name, status: r.status, reason: r.reason, setBy: r.set_by, setAt: new Date(r.set_at), specHash: r.spec_hash }));
}

/** The status in force for a source: an override when there is one, else its deployed spec's. */
export async function effectiveStatus(
  db: Queryable,
  name: string,
  specStatus: string,
  kind: OverrideKind = 'campaign',
): Promise<{ status: string; override?: { reason: string; setBy: string } }> {
  const [row] = await db.query<{ status: string; reason: string; set_by: string }>(
    'SELECT status, reason, set_by FROM herald.overrides WHERE kind = $1 AND name = $2',
    [kind, name],
  );
  return row ? { status: row.status, override: { reason: row.reason, setBy: row.set_by } } : { status: specStatus };
}
