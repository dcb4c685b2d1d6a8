import type { Queryable } from '../../src/db/db.js';
import { recordApply, writeObject } from '../../src/state/queries.js';
import type { ObjectKind } from '../../src/state/objects.js';

/**
 * Fixtures for attribution, lift and reports: deployed objects written
 * straight to herald.objects (no workspace to load), ledger rows and their
 * events, each set-based.
 */

/** The smallest herald.yaml attribution reads: two sites and a tracking base, with `extra` merged in. */
export function project(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    sites: [
      { id: 'shop-en', name: 'EN', url: 'https://shop.example.com', locales: ['en'], default_locale: 'en', currency: 'EUR' },
      { id: 'shop-ru', name: 'RU', url: 'https://shop.example.ru', locales: ['ru'], default_locale: 'ru', currency: 'RUB' },
    ],
    tracking: { base_url: 'https://mail.example.com' },
    ...extra,
  };
}

/** Deploys objects as if applied: kind, name, spec. */
export async function deploy(db: Queryable, ...objects: { kind: ObjectKind; name: string; spec: Record<string, unknown> }[]): Promise<void> {
  const applyId = await recordApply(db, { gitCommit: null, appliedBy: 'test', environment: null, changes: [] });
  for (const o of objects) await writeObject(db, { ...o, hash: `${o.kind}:${o.name}` }, { gitCommit: null, gitAuthor: null, applyId });
}

export interface MessageRow {
  source: string;
  source_kind?: 'campaign' | 'trigger';
  customer_id: number;
  site?: string;
  status?: string;
  sent_at?: string | null;
  created_at?: string;
  variant?: string | null;
  occurrence?: string;
}

/** Ledger rows; returns their ids in the given order. */
export async function addMessages(db: Queryable, rows: MessageRow[]): Promise<number[]> {
  const out = await db.query<{ id: number }>(
    `INSERT INTO herald.messages (source, source_kind, customer_id, address, site, locale, status, sent_at, created_at, variant, occurrence)
     SELECT source, coalesce(source_kind, 'campaign'), customer_id, 'c' || customer_id || '@example.com', coalesce(site, 'shop-en'), 'en',
            coalesce(status, 'sent'), sent_at, coalesce(created_at, sent_at, now()), variant, coalesce(occurrence, '')
       FROM jsonb_to_recordset($1::jsonb) AS x(source text, source_kind text, customer_id bigint, site text, status text,
            sent_at timestamptz, created_at timestamptz, variant text, occurrence text, n int)
      ORDER BY n
     RETURNING id`,
    [JSON.stringify(rows.map((r, n) => ({ sent_at: r.status && r.status !== 'sent' ? null : r.created_at, ...r, n })))],
  );
  // Ids come from the sequence in the insert's order.
  return out.map((r) => Number(r.id)).sort((a, b) => a - b);
}

export interface EventRow {
  message_id: number;
  kind: 'open' | 'click' | 'order' | 'unsubscribe' | 'bounce' | 'soft_bounce' | 'complaint';
  class?: 'human' | 'mpp' | 'scanner' | null;
  at: string;
  order_id?: string;
  value?: number;
  /** An order's currency, as attribution records it (EUR unless said). */
  currency?: string;
}

export async function addEvents(db: Queryable, rows: EventRow[]): Promise<void> {
  await db.query(
    `INSERT INTO herald.message_events (message_id, kind, class, at, order_id, value, origin, detail)
     SELECT message_id, kind, class, at, order_id, value, 'test', CASE WHEN kind = 'order' THEN jsonb_build_object('currency', coalesce(currency, 'EUR')) END
       FROM jsonb_to_recordset($1::jsonb) AS x(message_id bigint, kind text, class text, at timestamptz, order_id text, value numeric, currency text)`,
    [JSON.stringify(rows.map((r) => ({ class: r.kind === 'open' || r.kind === 'click' ? 'human' : null, ...r })))],
  );
}

/** The attributed orders: order id → message id and value, ordered by order id. */
export async function attributed(db: Queryable): Promise<{ order_id: string; message_id: number; value: number; at: string }[]> {
  const rows = await db.query<{ order_id: string; message_id: string; value: string; at: Date }>(
    "SELECT order_id, message_id, value, at FROM herald.message_events WHERE kind = 'order' AND origin = 'attribution' ORDER BY order_id::bigint",
  );
  return rows.map((r) => ({ order_id: r.order_id, message_id: Number(r.message_id), value: Number(r.value), at: new Date(r.at).toISOString() }));
}
