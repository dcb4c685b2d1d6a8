import type { Queryable } from '../../db/db.js';
import { quoteIdent } from '../../db/ident.js';

/**
 * Push subscriptions: the one SQL home for the shop's `push_subscriptions`
 * (docs/shop-data-contract.md) and herald's own `herald.push_gone`. herald
 * never writes the shop's tables, so a subscription its push service said is
 * gone (web push 404/410, FCM UNREGISTERED) is remembered here, by the
 * SHA-256 of its endpoint or token, and left out from then on.
 */

/** One device of a customer, from the shop's push_subscriptions (docs/shop-data-contract.md). */
export type PushSubscription =
  | { id: number; kind: 'webpush'; endpoint: string; p256dh: string; auth: string }
  | { id: number; kind: 'fcm'; token: string };

/** What identifies a subscription to its push service: the web push endpoint or the FCM token. */
export function subscriptionAddress(s: PushSubscription): string {
  return s.kind === 'webpush' ? s.endpoint : s.token;
}

interface SubscriptionRow {
  id: string;
  customer_id: string;
  kind: 'webpush' | 'fcm';
  endpoint: string | null;
  p256dh: string | null;
  auth: string | null;
  token: string | null;
}

/** SQL: the address of subscription row `s` (a web push endpoint, an FCM token), what push_gone hashes. */
export function subscriptionAddressSql(s: string): string {
  return `CASE ${s}.kind WHEN 'webpush' THEN ${s}.endpoint WHEN 'fcm' THEN ${s}.token END`;
}

/**
 * SQL: whether subscription row `s` can be sent to: it has what its kind
 * needs, and no push service said it is gone. The one definition, for the
 * audience (who is reachable by push) and for the send (which devices get it).
 */
export function liveSubscriptionSql(s: string): string {
  return `CASE ${s}.kind
            WHEN 'webpush' THEN ${s}.endpoint IS NOT NULL AND ${s}.p256dh IS NOT NULL AND ${s}.auth IS NOT NULL
            WHEN 'fcm' THEN ${s}.token IS NOT NULL
            ELSE false
          END
          AND NOT EXISTS (SELECT 1 FROM herald.push_gone g
                           WHERE g.endpoint_sha256 = encode(sha256(convert_to(${subscriptionAddressSql(s)}, 'UTF8')), 'hex'))`;
}

/**
 * liveSubscriptions: every usable subscription of the given customers, in
 * one query for the whole batch. Left out: those in herald.push_gone, rows
 * missing what their kind needs (a web push subscription without its keys
 * cannot be encrypted for), unknown kinds, and repeats of the same endpoint
 * or token for a customer (a shop that stored a browser twice would
 * otherwise show the notification twice). Oldest first, so the order is
 * stable. Customers without any are absent from the map.
 */
export async function liveSubscriptions(db: Queryable, schema: string, customerIds: readonly number[]): Promise<Map<number, PushSubscription[]>> {
  const rows = await db.query<SubscriptionRow>(
    `SELECT id, customer_id, kind, endpoint, p256dh, auth, token
       FROM (SELECT DISTINCT ON (s.customer_id, a.address)
                    s.id, s.customer_id, s.kind, s.endpoint, s.p256dh, s.auth, s.token, s.created_at
               FROM ${quoteIdent(schema)}.push_subscriptions s
              CROSS JOIN LATERAL (SELECT ${subscriptionAddressSql('s')} AS address) a
              WHERE s.customer_id = ANY($1::bigint[])
                AND ${liveSubscriptionSql('s')}
              ORDER BY s.customer_id, a.address, s.created_at, s.id) live
      ORDER BY customer_id, created_at, id`,
    [customerIds],
  );
  const out = new Map<number, PushSubscription[]>();
  for (const r of rows) {
    const customer = Number(r.customer_id);
    const sub: PushSubscription =
      r.kind === 'webpush'
        ? { id: Number(r.id), kind: 'webpush', endpoint: r.endpoint!, p256dh: r.p256dh!, auth: r.auth! }
        : { id: Number(r.id), kind: 'fcm', token: r.token! };
    const list = out.get(customer);
    if (list) list.push(sub);
    else out.set(customer, [sub]);
  }
  return out;
}

/**
 * markGone: remembers subscriptions their push service answered `status`
 * for (404, 410, or FCM's UNREGISTERED as 404), by the SHA-256 hex of the
 * endpoint or token, the same expression liveSubscriptions compares. The
 * first answer stays: a subscription gone once is gone.
 */
export async function markGone(db: Queryable, endpointsOrTokens: readonly string[], status: number): Promise<void> {
  if (endpointsOrTokens.length === 0) return;
  await db.query(
    `INSERT INTO herald.push_gone (endpoint_sha256, status)
     SELECT DISTINCT encode(sha256(convert_to(x, 'UTF8')), 'hex'), $2::int FROM unnest($1::text[]) AS x
     ON CONFLICT (endpoint_sha256) DO NOTHING`,
    [endpointsOrTokens, status],
  );
}
