import { openDb, type Db } from '../../src/db/db.js';
import { previewSweep, sweepTrigger, type SweepResult } from '../../src/triggers/sweep.js';
import type { Project, Segment, Trigger } from '../../src/workspace/model.js';
import { createTestDb, type TestDb } from '../support/db.js';
import { createShop, type TestShop } from '../support/shop.js';

/**
 * Two sites in two time zones and currencies: shop-en takes the project's
 * default zone (Europe/Berlin), shop-us has its own (America/New_York).
 */
export const PROJECT: Project = {
  sites: [
    { id: 'shop-en', name: 'EN', url: 'https://shop.example.com', locales: ['en', 'ru'], default_locale: 'en', currency: 'EUR', sender: { from: 'news@shop.example.com' } },
    { id: 'shop-us', name: 'US', url: 'https://shop.example.us', locales: ['en'], default_locale: 'en', currency: 'USD', timezone: 'America/New_York', sender: { from: 'news@shop.example.us' } },
  ],
  source: { schema: 'shop', cancelled_statuses: ['cancelled'] },
  tracking: { base_url: 'https://mail.example.com' },
  defaults: { timezone: 'Europe/Berlin' },
};

export const SEGMENTS = new Map<string, Segment>([['big-spenders', { where: { total_spent: { gte: 1000 } } }]]);

/** An active trigger named `t`, with `spec` on top. */
export function active(spec: Partial<Trigger> & Pick<Trigger, 'event'>): Trigger {
  return { template: 'hello', status: 'active', ...spec } as Trigger;
}

export const at = (iso: string) => new Date(iso);
export const plus = (d: Date, ms: number) => new Date(d.getTime() + ms);
export const MINUTE = 60_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;

/** A test database with the shop in it, and a second handle on it (its own pool) for concurrent sweeps. */
export async function shopDb(shop: TestShop, cleanup: (...f: (() => Promise<void> | void)[]) => void): Promise<{ db: TestDb; other: Db }> {
  const db = await createTestDb();
  cleanup(() => db.dispose());
  await createShop(db, shop);
  // Embedded PGlite has one connection: there the "other" handle is the same one.
  const other = db.url ? await openDb(db.url) : db;
  if (other !== db) cleanup(() => other.close());
  return { db, other };
}

export interface SweepOptions {
  name?: string;
  project?: Project;
  versions?: { source: number | null; template: number | null };
}

export function sweep(db: Db, spec: Trigger, now: Date, o: SweepOptions = {}): Promise<SweepResult> {
  return sweepTrigger(db, {
    name: o.name ?? 't',
    spec,
    project: o.project ?? PROJECT,
    segments: SEGMENTS,
    now,
    versions: o.versions ?? { source: 1, template: 1 },
  });
}

export function preview(db: Db, spec: Trigger, now: Date, o: SweepOptions = {}) {
  return previewSweep(db, { name: o.name ?? 't', spec, project: o.project ?? PROJECT, segments: SEGMENTS, now });
}

export interface LedgerRow {
  customer_id: number;
  occurrence: string;
  status: string;
  reason: string | null;
  payload: unknown;
  due_at: string;
}

/** The trigger's ledger rows, in customer and occurrence order, times as ISO strings. */
export async function ledger(db: Db, name = 't'): Promise<LedgerRow[]> {
  const rows = await db.query<LedgerRow & { due_at: Date; customer_id: string | number }>(
    `SELECT customer_id, occurrence, status, reason, payload, due_at FROM herald.messages
      WHERE source_kind = 'trigger' AND source = $1 ORDER BY customer_id, occurrence`,
    [name],
  );
  return rows.map((r) => ({ ...r, customer_id: Number(r.customer_id), due_at: r.due_at.toISOString() }));
}

/** [customer, occurrence] of the trigger's ledger rows. */
export async function keys(db: Db, name = 't'): Promise<[number, string][]> {
  return (await ledger(db, name)).map((r) => [r.customer_id, r.occurrence]);
}

/** Marks the trigger's queued rows sent at `at`, as a worker would. */
export async function markSent(db: Db, at: Date, name = 't'): Promise<void> {
  await db.query("UPDATE herald.messages SET status = 'sent', sent_at = $2 WHERE source_kind = 'trigger' AND source = $1 AND status = 'queued'", [name, at]);
}
