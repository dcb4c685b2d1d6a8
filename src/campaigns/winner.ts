import type { Db, Queryable } from '../db/db.js';
import { durationMs } from '../audience/duration.js';
import type { Campaign } from '../workspace/model.js';
import { launchedAtForUpdate } from '../ledger/runs.js';
import { releaseWaiting } from '../ledger/ledger.js';
import { decideWinner, type VariantResult, type WinnerDecision } from './ab.js';

/**
 * The A/B test's second half, in the database: once `winner.after` has
 * passed since launch, count what each variant of the test group achieved
 * (herald.message_events), decide (ab.ts), store the decision, and release
 * the rest of the audience (`waiting`) with the winning variant. One
 * transaction, under a row lock on the run, so two ticks never decide twice.
 */
const EVENT_KIND: Record<WinnerDecision['metric'], string> = { opens: 'open', clicks: 'click', orders: 'order', revenue: 'order' };

/**
 * variantResults: per variant of the test group, messages sent, those with at
 * least one event of the metric, and revenue (sum and sum of squares per
 * sent message) from orders. Opens and clicks count only when a person made
 * them (class 'human'): Apple Mail Privacy Protection opens every message and
 * security scanners click every link, for every variant alike, and would
 * drown the difference. Orders are the attributed ones (src/events/attribution.ts).
 */
export async function variantResults(db: Queryable, campaign: string, metric: WinnerDecision['metric']): Promise<VariantResult[]> {
  const rows = await db.query<{ variant: string; sent: number; converted: number; revenue_sum: number; revenue_sq: number }>(
    `SELECT m.variant,
            count(*)::int AS sent,
            count(*) FILTER (WHERE EXISTS (SELECT 1 FROM herald.message_events e
                                             WHERE e.message_id = m.id AND e.kind = $2 AND (e.kind = 'order' OR e.class = 'human')))::int AS converted,
            coalesce(sum(r.revenue), 0)::float8 AS revenue_sum,
            coalesce(sum(r.revenue * r.revenue), 0)::float8 AS revenue_sq
       FROM herald.messages m
       LEFT JOIN LATERAL (SELECT coalesce(sum(e.value), 0) AS revenue FROM herald.message_events e
                           WHERE e.message_id = m.id AND e.kind = 'order') r ON true
      WHERE m.source_kind = 'campaign' AND m.source = $1 AND m.variant IS NOT NULL AND m.status = 'sent'
      GROUP BY m.variant`,
    [campaign, EVENT_KIND[metric]],
  );
  return rows.map((r) => ({ variant: r.variant, sent: r.sent, converted: r.converted, ...(metric === 'revenue' ? { revenue: { sum: r.revenue_sum, sumSquares: r.revenue_sq } } : {}) }));
}

/**
 * decideIfDue: decides the campaign's winner when its time has come and no
 * decision exists yet. Returns the decision made now, if any.
 */
export async function decideIfDue(db: Db, name: string, campaign: Campaign, now: Date): Promise<WinnerDecision | undefined> {
  const ab = campaign.ab_test;
  if (!ab) return undefined;
  return db.transaction(async (tx) => {
    const launchedAt = await launchedAtForUpdate(tx, name);
    if (!launchedAt) return undefined;
    if (now.getTime() < launchedAt.getTime() + durationMs(ab.winner.after)) return undefined;
    const [done] = await tx.query('SELECT 1 FROM herald.ab_decisions WHERE campaign = $1', [name]);
    if (done) return undefined;
    // Every variant is in the decision, even one nothing was sent for yet.
    const counted = await variantResults(tx, name, ab.winner.metric);
    const results = ab.variants.map((v) => counted.find((c) => c.variant === v.name) ?? { variant: v.name, sent: 0, converted: 0, ...(ab.winner.metric === 'revenue' ? { revenue: { sum: 0, sumSquares: 0 } } : {}) });
    const d = decideWinner(results, { metric: ab.winner.metric, fallback: ab.winner.fallback });
    await tx.query(
      `INSERT INTO herald.ab_decisions (campaign, metric, winner, significant, p_value, figures, reason, decided_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [name, d.metric, d.winner, d.significant, d.pValue, JSON.stringify(d.figures), d.reason, now],
    );
    await releaseWaiting(tx, name, d.winner, now);
    return d;
  });
}

export interface StoredDecision {
  metric: string;
  winner: string;
  significant: boolean;
  p_value: number | null;
  figures: WinnerDecision['figures'];
  reason: string;
  decided_at: Date;
}

/** abDecision: the stored decision, for reports. */
export async function abDecision(db: Queryable, campaign: string): Promise<StoredDecision | undefined> {
  const [row] = await db.query<StoredDecision>('SELECT metric, winner, significant, p_value, figures, reason, decided_at FROM herald.ab_decisions WHERE campaign = $1', [campaign]);
  return row;
}
