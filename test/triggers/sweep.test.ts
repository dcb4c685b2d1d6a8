import { describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/db.js';
import { exitPausedTrigger } from '../../src/triggers/sweep.js';
import { sweepSql } from '../../src/triggers/sweep-sql.js';
import { useCleanups } from '../support/cleanup.js';
import type { TestShop } from '../support/shop.js';
import { active, at, DAY, HOUR, keys, ledger, markSent, plus, preview, PROJECT, SEGMENTS, shopDb, sweep } from './support.js';

const cleanup = useCleanups();

const T0 = at('2026-06-10T12:00:00Z');
const iso = (d: Date) => d.toISOString();

/** Big orders (500) placed `hours` after T0, one per [order id, customer]. */
function orders(...list: [id: number, customer: number, hours: number][]): TestShop['orders'] {
  return list.map(([id, customer_id, hours]) => ({ id, customer_id, total: 500, created_at: iso(plus(T0, hours * HOUR)) }));
}

const bigOrder = active({ event: 'order_total_over', amount: 300 });

describe('classification', () => {
  it('queues recipients and records who cannot be written to, with why, as a launch does', async () => {
    const { db } = await shopDb(
      {
        customers: [
          { id: 1, email: 'anna@example.com' },
          { id: 2, email: 'boris@example.org', locale: 'ru' },
          { id: 3, email: 'dieter@example.net', locale: 'de' },
          { id: 4, email: null },
          { id: 5, email: 'not-an-address' },
          { id: 6, email: 'optout@example.com', email_opt_in: false },
          { id: 7, email: 'Gone@Example.com' },
        ],
        orders: orders([1, 1, 1], [2, 2, 1], [3, 3, 1], [4, 4, 1], [5, 5, 1], [6, 6, 1], [7, 7, 1]),
      },
      cleanup,
    );
    await db.query("INSERT INTO herald.suppressions (email, site, reason, source, created_by) VALUES ('gone@example.com', NULL, 'unsubscribed', 'cli', 'test')");
    await sweep(db, bigOrder, T0);
    const now = plus(T0, 2 * HOUR);
    expect(await sweep(db, bigOrder, now, { versions: { source: 4, template: 9 } })).toEqual({ inserted: 7, skippedByHorizon: 0 });
    const rows = await db.query(
      `SELECT customer_id::int, source_kind, source, channel, address, site, locale, status, reason, next_attempt_at, source_version, template_version
         FROM herald.messages ORDER BY customer_id`,
    );
    const base = { source_kind: 'trigger', source: 't', channel: 'email', site: 'shop-en', next_attempt_at: now, source_version: 4, template_version: 9 };
    expect(rows).toEqual([
      { ...base, customer_id: 1, address: 'anna@example.com', locale: 'en', status: 'queued', reason: null },
      { ...base, customer_id: 2, address: 'boris@example.org', locale: 'ru', status: 'queued', reason: null },
      // A locale the site does not write in: the site's default.
      { ...base, customer_id: 3, address: 'dieter@example.net', locale: 'en', status: 'queued', reason: null },
      { ...base, customer_id: 4, address: null, locale: 'en', status: 'suppressed', reason: 'no email' },
      { ...base, customer_id: 5, address: 'not-an-address', locale: 'en', status: 'suppressed', reason: 'invalid email' },
      { ...base, customer_id: 6, address: 'optout@example.com', locale: 'en', status: 'suppressed', reason: 'email_opt_in is false' },
      { ...base, customer_id: 7, address: 'Gone@Example.com', locale: 'en', status: 'suppressed', reason: 'suppressed: unsubscribed (all sites)' },
    ]);
  });

  it('sweeps onto the trigger\'s channels: first_reachable once per occurrence on any of them, all once on each', async () => {
    const { db } = await shopDb(
      {
        customers: [
          { id: 1, email: 'anna@example.com', phone: '+4915111111111', sms_opt_in: true, country: 'DE' },
          { id: 2, email: 'boris@example.org', phone: null },
        ],
        orders: orders([1, 1, 1], [2, 2, 1]),
      },
      cleanup,
    );
    const first = active({ event: 'order_total_over', amount: 300, channels: ['sms', 'email'], mode: 'first_reachable' });
    await sweep(db, first, T0);
    expect(await sweep(db, first, plus(T0, 2 * HOUR))).toEqual({ inserted: 2, skippedByHorizon: 0 });
    const rows = await db.query<{ customer_id: number; channel: string; address: string }>("SELECT customer_id::int, channel, address FROM herald.messages WHERE source = 't' ORDER BY customer_id, channel");
    expect(rows.map((r) => [r.customer_id, r.channel, r.address])).toEqual([
      [1, 'sms', '+4915111111111'],
      [2, 'email', 'boris@example.org'],
    ]);
    // The same occurrences again: nothing new, whichever channel they went on.
    expect(await sweep(db, first, plus(T0, 3 * HOUR))).toEqual({ inserted: 0, skippedByHorizon: 0 });

    const all = active({ event: 'order_total_over', amount: 300, channels: ['email', 'sms'], mode: 'all' });
    await sweep(db, all, T0, { name: 'both' });
    expect(await sweep(db, all, plus(T0, 2 * HOUR), { name: 'both' })).toEqual({ inserted: 4, skippedByHorizon: 0 });
    const both = await db.query<{ customer_id: number; channel: string; status: string }>("SELECT customer_id::int, channel, status FROM herald.messages WHERE source = 'both' ORDER BY customer_id, channel");
    expect(both.map((r) => [r.customer_id, r.channel, r.status])).toEqual([
      [1, 'email', 'queued'],
      [1, 'sms', 'queued'],
      [2, 'email', 'queued'],
      [2, 'sms', 'suppressed'],
    ]);
  });

  it("leaves out customers of other sites than the trigger's", async () => {
    const { db } = await shopDb(
      {
        customers: [
          { id: 1, email: 'c1@example.com' },
          // An American customer ordering from the English storefront.
          { id: 2, email: 'c2@example.com', site: 'shop-us' },
        ],
        orders: orders([1, 1, 1], [2, 2, 1]),
      },
      cleanup,
    );
    const spec = active({ event: 'order_total_over', amount: 300, sites: ['shop-en'] });
    await sweep(db, spec, T0);
    await sweep(db, spec, plus(T0, 2 * HOUR));
    expect(await keys(db)).toEqual([[1, 'order:1']]);
  });
});

describe('audience', () => {
  it('narrows the customers, through segments and conditions', async () => {
    const { db } = await shopDb(
      {
        customers: [
          { id: 1, email: 'c1@example.com', city: 'Berlin' },
          { id: 2, email: 'c2@example.com', city: 'Hamburg' },
          { id: 3, email: 'c3@example.com', city: 'Hamburg' },
        ],
        // Customers 1 and 2 are big spenders (1000 or more in all).
        orders: [...orders([1, 1, 1], [2, 2, 1], [3, 3, 1])!, { id: 10, customer_id: 1, total: 600, created_at: '2025-01-01T00:00:00Z' }, { id: 20, customer_id: 2, total: 600, created_at: '2025-01-01T00:00:00Z' }],
      },
      cleanup,
    );
    const spec = active({ event: 'order_total_over', amount: 300, audience: { all: [{ segment: 'big-spenders' }, { not: { city: 'Berlin' } }] } });
    await sweep(db, spec, T0);
    await sweep(db, spec, plus(T0, 2 * HOUR));
    expect(await keys(db)).toEqual([[2, 'order:2']]);
  });
});

describe("the sweep's audience", () => {
  type PlanNode = { 'Node Type': string; 'Group Key'?: string[]; 'Actual Rows'?: number; Plans?: PlanNode[] };

  it("groups the orders of the occurrences' customers alone for an aggregate condition, not the whole shop's", async () => {
    // The summary of a segment's aggregates grouped every order of the 1M-customer bench for a sweep of 4,000 occurrences (1.2 s of 2.8 s).
    const others = Array.from({ length: 40 }, (_, k) => 100 + k);
    const { db } = await shopDb(
      {
        customers: [{ id: 1, email: 'anna@example.com' }, { id: 2, email: 'boris@example.com' }, ...others.map((id) => ({ id, email: `c${id}@example.com` }))],
        // Customer 1 spent 1100 (a big spender), customer 2 500; the 40 others ordered long before the window.
        orders: [
          ...orders([1, 1, 1], [2, 2, 1])!,
          { id: 10, customer_id: 1, total: 600, created_at: '2025-01-01T00:00:00Z' },
          ...others.map((id) => ({ id: 1000 + id, customer_id: id, total: 50, created_at: '2025-01-01T00:00:00Z' })),
        ],
      },
      cleanup,
    );
    const spec = active({ event: 'order_total_over', amount: 300, audience: { not: { segment: 'big-spenders' } } });
    const sql = sweepSql({ name: 't', spec, project: PROJECT, segments: SEGMENTS }, { from: T0, horizon: T0, now: plus(T0, 2 * HOUR) }, 'count');
    const [row] = await db.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] | string }>(`EXPLAIN (ANALYZE, FORMAT JSON) ${sql.text}`, sql.values);
    const explained = row!['QUERY PLAN'];
    const all = (n: PlanNode): PlanNode[] => [n, ...(n.Plans ?? []).flatMap(all)];
    const grouped = all((typeof explained === 'string' ? JSON.parse(explained) : explained)[0].Plan).filter(
      (n) => n['Node Type'] === 'Aggregate' && (n['Group Key'] ?? []).some((k) => /customer_id/.test(k)),
    );
    expect(grouped.length).toBeGreaterThan(0);
    // One group per customer with an occurrence (2), where the whole shop has 42 customers with orders.
    for (const n of grouped) expect(n['Actual Rows']).toBeLessThanOrEqual(2);
    // And the audience is what it was: customer 1 is a big spender and left out.
    await sweep(db, spec, T0);
    await sweep(db, spec, plus(T0, 2 * HOUR));
    expect(await keys(db)).toEqual([[2, 'order:2']]);
  });
});

describe('once', () => {
  const shop = { customers: [{ id: 1, email: 'c1@example.com' }], orders: orders([1, 1, 1], [2, 1, 2], [3, 1, 30], [4, 1, 24 * 400]) };

  it('per_event: every occurrence', async () => {
    const { db } = await shopDb(shop, cleanup);
    await sweep(db, bigOrder, T0);
    await sweep(db, bigOrder, plus(T0, 3 * HOUR));
    expect(await keys(db)).toEqual([
      [1, 'order:1'],
      [1, 'order:2'],
    ]);
  });

  it('per_customer: the earliest occurrence, and never another, pending or sent', async () => {
    const { db } = await shopDb(shop, cleanup);
    const spec = { ...bigOrder, once: 'per_customer' };
    await sweep(db, spec, T0);
    expect((await sweep(db, spec, plus(T0, 3 * HOUR))).inserted).toBe(1);
    expect(await keys(db)).toEqual([[1, 'order:1']]);
    expect((await sweep(db, spec, plus(T0, 31 * HOUR))).inserted).toBe(0);
    await markSent(db, plus(T0, 31 * HOUR));
    expect((await sweep(db, spec, plus(T0, 401 * DAY))).inserted).toBe(0);
  });

  it('a customer recorded as suppressed was never sent anything: once they can be written to, a new occurrence reaches them', async () => {
    const { db } = await shopDb({ ...shop, customers: [{ id: 1, email: 'c1@example.com', email_opt_in: false }] }, cleanup);
    const spec = { ...bigOrder, once: 'per_customer' };
    await sweep(db, spec, T0);
    await sweep(db, spec, plus(T0, 3 * HOUR));
    await db.query('UPDATE shop.customers SET email_opt_in = true');
    await sweep(db, spec, plus(T0, 31 * HOUR));
    // Order 2, held back by once at the first sweep, is still in the window: the earliest new one.
    expect((await ledger(db)).map((r) => [r.occurrence, r.status])).toEqual([
      ['order:1', 'suppressed'],
      ['order:2', 'queued'],
    ]);
  });

  /** Sweeps every 12 hours from `from` to `to`, as a tick would (more often, in truth). */
  async function sweepEvery12h(db: Db, spec: typeof bigOrder, name: string, from: number, to: number) {
    for (let h = from; h <= to; h += 12) await sweep(db, spec, plus(T0, h * HOUR), { name });
  }

  it('a duration: nothing within it of a message sent, the next occurrence after it', async () => {
    const { db } = await shopDb({ customers: [{ id: 1, email: 'c1@example.com' }], orders: orders([1, 1, 1], [2, 1, 2], [3, 1, 24 * 4]) }, cleanup);
    const spec = { ...bigOrder, once: '3d' };
    await sweep(db, spec, T0, { name: 'd' });
    await sweep(db, spec, plus(T0, 3 * HOUR), { name: 'd' });
    await markSent(db, plus(T0, 3 * HOUR), 'd');
    await sweepEvery12h(db, spec, 'd', 12, 24 * 5);
    expect(await keys(db, 'd')).toEqual([
      [1, 'order:1'],
      [1, 'order:3'],
    ]);
  });

  it('per_year: nothing within 365 days of a message sent', async () => {
    const { db } = await shopDb({ customers: [{ id: 1, email: 'c1@example.com' }], orders: orders([1, 1, 1], [2, 1, 2], [3, 1, 30], [4, 1, 24 * 366]) }, cleanup);
    const spec = { ...bigOrder, once: 'per_year' };
    await sweep(db, spec, T0, { name: 'y' });
    await sweep(db, spec, plus(T0, 3 * HOUR), { name: 'y' });
    await markSent(db, plus(T0, 3 * HOUR), 'y');
    await sweepEvery12h(db, spec, 'y', 12, 24 * 5);
    await sweepEvery12h(db, spec, 'y', 24 * 364, 24 * 367);
    expect(await keys(db, 'y')).toEqual([
      [1, 'order:1'],
      [1, 'order:4'],
    ]);
  });
});

describe('the window', () => {
  it('records enabling once and each sweep; data arriving later than the lookback is not looked for', async () => {
    const { db } = await shopDb({ customers: [{ id: 1, email: 'c1@example.com' }] }, cleanup);
    await sweep(db, bigOrder, T0);
    await sweep(db, bigOrder, plus(T0, 3 * DAY));
    const [run] = await db.query<{ enabled_at: Date; swept_at: Date; phase: string }>("SELECT enabled_at, swept_at, phase FROM herald.runs WHERE source_kind = 'trigger' AND source = 't'");
    expect(run).toEqual({ enabled_at: T0, swept_at: plus(T0, 3 * DAY), phase: 'sending' });
    // Orders that appear only now: placed a day before the last sweep (inside its two-day lookback) and three days before it (outside).
    await db.query(
      `INSERT INTO shop.orders (id, customer_id, site, status, total, currency, created_at)
       VALUES (1, 1, 'shop-en', 'paid', 500, 'EUR', $1), (2, 1, 'shop-en', 'paid', 500, 'EUR', $2)`,
      [plus(T0, 2 * DAY), plus(T0, 1 * HOUR)],
    );
    await sweep(db, bigOrder, plus(T0, 3 * DAY + HOUR));
    expect(await keys(db)).toEqual([[1, 'order:1']]);
  });
});

describe('preview', () => {
  it('counts what the sweep then does, writing nothing', async () => {
    const { db } = await shopDb(
      {
        customers: [
          { id: 1, email: 'c1@example.com' },
          { id: 2, email: null },
          { id: 3, email: 'c3@example.com' },
        ],
        orders: orders([1, 1, -1], [2, 1, 1], [3, 2, 1], [4, 3, 1]),
      },
      cleanup,
    );
    // Not yet enabled: as if enabled now.
    expect(await preview(db, bigOrder, T0)).toEqual({ wouldSend: 0, skippedByHorizon: 1 });
    expect(await db.query('SELECT 1 FROM herald.runs')).toEqual([]);
    expect(await sweep(db, bigOrder, T0)).toEqual({ inserted: 0, skippedByHorizon: 1 });
    // Customer 2 has no address: recorded, not sent.
    expect(await preview(db, bigOrder, plus(T0, 2 * HOUR))).toEqual({ wouldSend: 2, skippedByHorizon: 1 });
    expect(await db.query('SELECT 1 FROM herald.messages')).toEqual([]);
    expect(await sweep(db, bigOrder, plus(T0, 2 * HOUR))).toEqual({ inserted: 3, skippedByHorizon: 1 });
    expect(await preview(db, bigOrder, plus(T0, 3 * HOUR))).toEqual({ wouldSend: 0, skippedByHorizon: 1 });
  });

  it('sees a product back in stock without recording it', async () => {
    const { db } = await shopDb(
      {
        customers: [{ id: 1, email: 'c1@example.com' }],
        products: [{ sku: 'A', category: 'x', in_stock: false }],
        preorders: [{ customer_id: 1, sku: 'A' }],
      },
      cleanup,
    );
    const spec = active({ event: 'back_in_stock' });
    await sweep(db, spec, T0);
    await db.query("UPDATE shop.products SET in_stock = true WHERE sku = 'A'");
    const before = await db.query('SELECT * FROM herald.stock_seen');
    expect(await preview(db, spec, plus(T0, 2 * DAY))).toEqual({ wouldSend: 1, skippedByHorizon: 0 });
    expect(await db.query('SELECT * FROM herald.stock_seen')).toEqual(before);
  });
});

describe('paused', () => {
  async function withQueued(): Promise<Db> {
    const { db } = await shopDb({ customers: [1, 2].map((id) => ({ id, email: `c${id}@example.com` })), orders: orders([1, 1, 1], [2, 2, 1], [3, 1, 5]) }, cleanup);
    await sweep(db, bigOrder, T0);
    await sweep(db, bigOrder, plus(T0, 2 * HOUR));
    await db.query("UPDATE herald.messages SET status = 'sent', sent_at = $1 WHERE customer_id = 1", [plus(T0, 2 * HOUR)]);
    return db;
  }

  const statuses = async (db: Db) => (await ledger(db)).map((r) => [r.occurrence, r.status, r.reason]);

  it('a paused trigger sweeps nothing, and its queued rows exit', async () => {
    const db = await withQueued();
    expect(await sweep(db, { ...bigOrder, status: 'paused' }, plus(T0, 6 * HOUR))).toEqual({ inserted: 0, skippedByHorizon: 0 });
    expect(await statuses(db)).toEqual([
      ['order:1', 'sent', null],
      ['order:2', 'exited', 'trigger paused'],
    ]);
    // Paused, the trigger is no longer enabled: resuming it will be enabling it again.
    expect(await db.query('SELECT enabled_at, swept_at FROM herald.runs')).toEqual([{ enabled_at: null, swept_at: null }]);
  });

  it('so is one paused by an override, whatever its file says; a resume override makes a paused one active', async () => {
    const db = await withQueued();
    const override = (status: string) =>
      db.query(
        `INSERT INTO herald.overrides (kind, name, status, reason, set_by, spec_hash) VALUES ('trigger', 't', $1, 'test', 'test', 'x')
         ON CONFLICT (kind, name) DO UPDATE SET status = EXCLUDED.status`,
        [status],
      );
    await override('paused');
    expect((await sweep(db, bigOrder, plus(T0, 6 * HOUR))).inserted).toBe(0);
    expect(await statuses(db)).toEqual([
      ['order:1', 'sent', null],
      ['order:2', 'exited', 'trigger paused'],
    ]);
    await override('active');
    // Resuming is enabling again: order 3 fell due during the pause, behind the new back-fill horizon, and is not
    // sent (the count of the window before the horizon includes the two orders the ledger already has).
    expect(await sweep(db, { ...bigOrder, status: 'paused' }, plus(T0, 7 * HOUR))).toEqual({ inserted: 0, skippedByHorizon: 3 });
    expect(await statuses(db)).toEqual([
      ['order:1', 'sent', null],
      ['order:2', 'exited', 'trigger paused'],
    ]);
    // What falls due after the resume is sent.
    await db.query("INSERT INTO shop.orders (id, customer_id, site, status, total, currency, created_at) VALUES (4, 2, 'shop-en', 'paid', 500, 'EUR', $1)", [plus(T0, 8 * HOUR)]);
    expect((await sweep(db, { ...bigOrder, status: 'paused' }, plus(T0, 9 * HOUR))).inserted).toBe(1);
    expect(await exitPausedTrigger(db, 't')).toBe(1);
    expect(await exitPausedTrigger(db, 't')).toBe(0);
  });

  it('a trigger deployed paused is not enabled until its first active sweep', async () => {
    const { db } = await shopDb({ customers: [{ id: 1, email: 'c1@example.com' }], orders: orders([1, 1, 1]) }, cleanup);
    await sweep(db, { ...bigOrder, status: 'paused' }, T0);
    expect(await db.query('SELECT 1 FROM herald.runs')).toEqual([]);
    // Enabled at T0 + 2h: the order placed at T0 + 1h is behind the horizon.
    expect(await sweep(db, bigOrder, plus(T0, 2 * HOUR))).toEqual({ inserted: 0, skippedByHorizon: 1 });
  });
});

describe("the sweep's look at the ledger", () => {
  type PlanNode = { 'Index Name'?: string; 'Index Cond'?: string; Filter?: string; Plans?: PlanNode[] };
  const probes = async (db: Db, spec: Parameters<typeof active>[0] & ReturnType<typeof active>): Promise<PlanNode[]> => {
    const sql = sweepSql({ name: 't', spec, project: PROJECT, segments: SEGMENTS }, { from: T0, horizon: T0, now: plus(T0, 2 * HOUR) }, { insert: { source: 1, template: 1 } });
    const [row] = await db.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] | string }>(`EXPLAIN (FORMAT JSON) ${sql.text}`, sql.values);
    const explained = row!['QUERY PLAN'];
    const all = (n: PlanNode): PlanNode[] => [n, ...(n.Plans ?? []).flatMap(all)];
    return all((typeof explained === 'string' ? JSON.parse(explained) : explained)[0].Plan).filter((n) => n['Index Name'] === 'messages_customer_key');
  };

  it("probes each occurrence by the ledger's whole key, its channel included, however many rows the trigger has", async () => {
    // With `channel = ANY(…)` PostgreSQL kept the channel as a filter on the sweep bench's ledger, and each probe walked all of the trigger's rows (five minutes for a sweep at 120,000).
    const { db } = await shopDb({ customers: [{ id: 1, email: 'anna@example.com' }], orders: orders([1, 1, 1]) }, cleanup);
    await db.query(
      `INSERT INTO herald.messages (source_kind, source, channel, customer_id, address, site, locale, occurrence, status, next_attempt_at)
       SELECT 'trigger', 't', 'email', 1000 + g, 'c' || g || '@example.com', 'shop-en', 'en', 'order:' || g, 'sent', now()
         FROM generate_series(1, 20000) AS g`,
    );
    await db.exec('ANALYZE herald.messages');
    for (const spec of [
      { ...bigOrder, once: 'per_customer' as const },
      active({ event: 'order_total_over', amount: 300, channels: ['sms', 'email'] }),
      active({ event: 'order_total_over', amount: 300, channels: ['sms', 'email'], mode: 'all', once: 'per_customer' }),
    ]) {
      const found = await probes(db, spec);
      expect(found.length).toBeGreaterThan(0);
      for (const p of found) {
        // An equality PostgreSQL always descends the index by; `channel = ANY (…)` it may keep as a filter on the bench's ledger.
        expect(p['Index Cond'], JSON.stringify(spec)).toMatch(/\(channel = (d\.channel|'(email|sms)'::text)\)/);
        expect(p['Index Cond'], JSON.stringify(spec)).not.toMatch(/ANY/);
        expect(p.Filter ?? '', JSON.stringify(spec)).not.toMatch(/channel/);
      }
    }
    // And the sweep still finds what the ledger has: a new order is swept once.
    await sweep(db, bigOrder, T0);
    expect(await sweep(db, bigOrder, plus(T0, 2 * HOUR))).toEqual({ inserted: 1, skippedByHorizon: 0 });
    expect(await sweep(db, bigOrder, plus(T0, 3 * HOUR))).toEqual({ inserted: 0, skippedByHorizon: 0 });
  });
});

