import type { Queryable } from '../db/db.js';

/**
 * Emergency changes to a campaign's status made outside git, and their log.
 * plan shows them as drift; apply clears one only when the campaign's file
 * has changed since it was set.
 */
export async function setOverride(
  db: Queryable,
  o: { campaign: string; status: 'ready' | 'paused' | 'cancelled'; reason: string; actor: string; specHash: string; action: string },
): Promise<void> {
  await db.query(
    `INSERT INTO herald.campaign_overrides (campaign, status, reason, set_by, spec_hash)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (campaign) DO UPDATE
       SET status = EXCLUDED.status, reason = EXCLUDED.reason, set_by = EXCLUDED.set_by,
           set_at = now(), spec_hash = EXCLUDED.spec_hash`,
    [o.campaign, o.status, o.reason, o.actor, o.specHash],
  );
  await logCampaignEvent(db, o.campaign, o.action, o.reason, o.actor);
}

/** clearOverride: apply restores the workspace's status; the event log keeps what happened. */
export async function clearOverride(db: Queryable, campaign: string, actor: string | null): Promise<void> {
  const rows = await db.query('DELETE FROM herald.campaign_overrides WHERE campaign = $1 RETURNING campaign', [campaign]);
  if (rows.length) await logCampaignEvent(db, campaign, 'override cleared by apply', null, actor);
}

export async function logCampaignEvent(db: Queryable, campaign: string, action: string, reason: string | null, actor: string | null): Promise<void> {
  await db.query('INSERT INTO herald.campaign_events (campaign, action, reason, actor) VALUES ($1, $2, $3, $4)', [campaign, action, reason, actor]);
}

/** The status in force for a campaign: an override when there is one, else its deployed spec's. */
export async function effectiveStatus(db: Queryable, campaign: string, specStatus: string): Promise<{ status: string; override?: { reason: string; setBy: string } }> {
  const [row] = await db.query<{ status: string; reason: string; set_by: string }>(
    'SELECT status, reason, set_by FROM herald.campaign_overrides WHERE campaign = $1',
    [campaign],
  );
  return row ? { status: row.status, override: { reason: row.reason, setBy: row.set_by } } : { status: specStatus };
}
