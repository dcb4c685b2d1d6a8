import type { Queryable } from '../db/db.js';

/**
 * Throttling that holds across every worker on every machine: a token bucket
 * per key (`global`, `campaign:<name>`) in herald.throttle_buckets. A worker
 * takes tokens in one UPDATE before it claims a batch, so the rate is shared
 * however many workers there are. A bucket holds at most one second's worth
 * (or one token), so an idle period never turns into a burst.
 */
export interface Rate {
  perSecond: number;
}

/** "50/s", "600/m", "3600/h" → messages per second. */
export function parseRate(text: string): Rate {
  const [n, unit] = text.split('/');
  const per = unit === 's' ? 1 : unit === 'm' ? 60 : 3600;
  return { perSecond: Number(n) / per };
}

/**
 * takeTokens: up to `want` tokens from the bucket, refilled for the time since
 * it was last used. Returns how many were granted (possibly 0).
 */
export async function takeTokens(db: Queryable, key: string, rate: Rate, want: number, now: Date): Promise<number> {
  const capacity = Math.max(1, rate.perSecond);
  await db.query('INSERT INTO herald.throttle_buckets (key, tokens, updated_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING', [key, capacity, now]);
  const [row] = await db.query<{ granted: number }>(
    `WITH b AS (
       SELECT key, least($2::float8, tokens + $3::float8 * greatest(0, extract(epoch FROM ($5::timestamptz - updated_at)))) AS available
         FROM herald.throttle_buckets WHERE key = $1 FOR UPDATE)
     UPDATE herald.throttle_buckets t
        SET tokens = b.available - least($4, floor(b.available)), updated_at = greatest(t.updated_at, $5::timestamptz)
       FROM b WHERE t.key = b.key
     RETURNING least($4, floor(b.available))::int AS granted`,
    [key, capacity, rate.perSecond, want, now],
  );
  return row?.granted ?? 0;
}

/** giveBack: tokens taken for a batch that turned out smaller. */
export async function giveBack(db: Queryable, key: string, rate: Rate, n: number): Promise<void> {
  if (n <= 0) return;
  await db.query('UPDATE herald.throttle_buckets SET tokens = least($3::float8, tokens + $2) WHERE key = $1', [key, n, Math.max(1, rate.perSecond)]);
}

/** How long until one token is back: what a throttled worker waits. */
export function tokenWaitMs(rate: Rate): number {
  return Math.ceil(1000 / rate.perSecond);
}
