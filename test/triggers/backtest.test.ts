import { describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/db.js';
import { backtestPlan, backtestTrigger, replay, type BacktestDay } from '../../src/triggers/backtest.js';
import type { ReplayRow } from '../../src/triggers/backtest-sql.js';
import { contactPolicy } from '../../src/ledger/source.js';
import type { Project, Trigger } from '../../src/workspace/model.js';
import { useCleanups } from '../support/cleanup.js';
import type { TestShop } from '../support/shop.js';
import { HOUR, PROJECT, SEGMENTS, active, at, shopDb } from './support.js';

/**
 * Backtests over the week of 1–8 November 2026 (UTC), a tick every hour,
 * against hand-made shops: each row says which day and column it lands in.
 */
const cleanup = useCleanups();
const FROM = at('2026-11-01T00:00:00Z');
const TO = at('2026-11-08T00:00:00Z');
const DAYS = ['2026-11-01', '2026-11-02', '2026-11-03', '2026-11-04', '2026-11-05', '2026-11-06', '2026-11-07', '2026-11-08'];

function backtest(db: Db, spec: Trigger, o: { project?: Project; from?: Date; to?: Date; everyMs?: number } = {}) {
  return backtestTrigger(db, { name: 't', spec, project: o.project ?? PROJECT, segments: SEGMENTS, from: o.from ?? FROM, to: o.to ?? TO, everyMs: o.everyMs ?? HOUR }, '1h');
}

/** The expected days: every day of the week, zero but for those given. */
function week(given: Record<string, Partial<BacktestDay>>): BacktestDay[] {
  return DAYS.map((day) => ({ day, occurrences: 0, fired: 0, capped: 0, deferred: 0, left_out: 0, skipped_by_horizon: 0, skipped_by_once: 0, ...given[day] }));
}

/** What the backtest must never change. */
async function written(db: Db): Promise<Record<string, number>> {
  const [row] = await db.query<Record<string, number>>(
    `SELECT (SELECT count(*) FROM herald.messages)::int AS messages, (SELECT count(*) FROM herald.runs)::int AS runs,
            (SELECT count(*) FROM herald.stock_seen)::int AS stock_seen,
            (SELECT coalesce(sum(hashtext(m::text)), 0) FROM herald.messages m)::bigint::text AS digest`,
  );
  return row!;
}

const CARTS: TestShop = {
  customers: [
    { id: 1, email: 'c1@example.com' },
    { id: 2, email: 'c2@example.com' },
    { id: 3, email: 'c3@example.com' },
    { id: 4, email: 'c4@example.com' },
    { id: 5, email: 'c5@example.com', email_opt_in: false },
    { id: 6, email: 'c6@example.com' },
    { id: 7, email: 'c7@example.com' },
    { id: 8, email: 'c8@example.com' },
  ],
  orders: [{ id: 70, customer_id: 7, created_at: '2026-11-05T12:00:00Z' }],
  products: [{ sku: 'SH-001', category: 'shoes' }],
  carts: [
    { id: 101, customer_id: 1, updated_at: '2026-11-01T10:30:00Z' }, // due 14:30, fired at the 15:00 tick
    { id: 110, customer_id: 1, updated_at: '2026-11-06T10:00:00Z' }, // once: 7d, five days after the first
    { id: 102, customer_id: 2, updated_at: '2026-11-02T08:00:00Z' }, // due 12:00 exactly: fired at that tick
    { id: 103, customer_id: 2, updated_at: '2026-11-04T09:00:00Z' }, // once: 7d
    { id: 104, customer_id: 3, updated_at: '2026-10-31T22:00:00Z' }, // due 02:00 on the 1st: after --from
    { id: 105, customer_id: 4, updated_at: '2026-10-30T10:00:00Z' }, // due before --from: the horizon
    { id: 106, customer_id: 5, updated_at: '2026-11-03T10:00:00Z' }, // no consent: left out
    { id: 107, customer_id: 6, updated_at: '2026-11-03T10:00:00Z' }, // no lines: no occurrence
    { id: 108, customer_id: 7, updated_at: '2026-11-05T10:00:00Z' }, // ordered since: the event leaves it out
    { id: 109, customer_id: 8, updated_at: '2026-11-07T22:00:00Z' }, // due after --to
  ],
  cart_items: [101, 110, 102, 103, 104, 105, 106, 108, 109].map((cart_id) => ({ cart_id, sku: 'SH-001' })),
};

const CART_TRIGGER = active({ event: 'cart_abandoned', after: '4h', once: '7d' });

describe('trigger backtest', () => {
  it('replays a week of a cart trigger: per day, fired, left out, and skipped by the horizon and by once; writes nothing', async () => {
    const { db } = await shopDb(CARTS, cleanup);
    const before = await written(db);
    const b = await backtest(db, CART_TRIGGER);
    expect(b.days).toEqual(
      week({
        '2026-11-01': { occurrences: 3, fired: 2, skipped_by_horizon: 1 },
        '2026-11-02': { occurrences: 1, fired: 1 },
        '2026-11-03': { occurrences: 1, left_out: 1 },
        '2026-11-04': { occurrences: 1, skipped_by_once: 1 },
        '2026-11-06': { occurrences: 1, skipped_by_once: 1 },
      }),
    );
    expect(b.totals).toEqual({ occurrences: 7, fired: 3, capped: 0, deferred: 0, left_out: 1, skipped_by_horizon: 1, skipped_by_once: 2 });
    expect(b).toMatchObject({ trigger: 't', from: FROM.toISOString(), to: TO.toISOString(), every: '1h', horizon: FROM.toISOString() });
    expect(b.cannot_rebuild.join('\n')).toMatch(/a cart keeps only its latest updated_at/);
    expect(b.cannot_rebuild.join('\n')).toMatch(/orders placed after a cart's last change hide that cart/);
    expect(await written(db)).toEqual(before);
  });

  it('back-fills what became due within backfill of --from', async () => {
    const { db } = await shopDb(CARTS, cleanup);
    const b = await backtest(db, { ...CART_TRIGGER, backfill: '2d' });
    expect(b.horizon).toBe('2026-10-30T00:00:00.000Z');
    expect(b.days[0]).toEqual({ day: '2026-11-01', occurrences: 3, fired: 3, capped: 0, deferred: 0, left_out: 0, skipped_by_horizon: 0, skipped_by_once: 0 });
  });

  it('puts off what fires in quiet hours, and counts the frequency cap over real sends and its own', async () => {
    const { db } = await shopDb(CARTS, cleanup);
    // c2 had a campaign message on 30 October: the cap of one a week leaves no room on the 2nd or the 4th.
    await db.query(
      `INSERT INTO herald.messages (source_kind, source, customer_id, address, site, locale, status, sent_at)
       VALUES ('campaign', 'news', 2, 'c2@example.com', 'shop-en', 'en', 'sent', '2026-10-30T12:00:00Z')`,
    );
    const project: Project = { ...PROJECT, defaults: { ...PROJECT.defaults, quiet_hours: { start: '21:00', end: '09:00' } } };
    const spec = { ...CART_TRIGGER, once: 'per_event', frequency_cap: { max: 1, per: '7d', when_capped: 'skip' } } as Trigger;
    const before = await written(db);
    const b = await backtest(db, spec, { project });
    expect(b.days).toEqual(
      week({
        // c3's tick at 02:00 UTC is 03:00 in Berlin: put off to 09:00. c1 fires at 15:00.
        '2026-11-01': { occurrences: 3, fired: 2, deferred: 1, skipped_by_horizon: 1 },
        '2026-11-02': { occurrences: 1, capped: 1 },
        '2026-11-03': { occurrences: 1, left_out: 1 },
        '2026-11-04': { occurrences: 1, capped: 1 },
        // c1's second cart: the backtest's own message of the 1st is within the week.
        '2026-11-06': { occurrences: 1, capped: 1 },
      }),
    );
    expect(b.approximations.join('\n')).toMatch(/other triggers' and campaigns' would-be sends are not simulated/);
    expect(b.approximations.join('\n')).toMatch(/quiet hours \(21:00–09:00/);
    expect(await written(db)).toEqual(before);
  });

  it('defers over the cap (a trigger’s default) instead of skipping', async () => {
    const { db } = await shopDb(CARTS, cleanup);
    const spec = { ...CART_TRIGGER, once: 'per_event', frequency_cap: { max: 1, per: '7d' } } as Trigger;
    const b = await backtest(db, spec);
    // The second cart of c1 and of c2 wait for the week to pass since the first.
    expect(b.totals).toMatchObject({ fired: 5, capped: 0, deferred: 2 });
    expect(b.days[3]).toMatchObject({ day: '2026-11-04', fired: 1, deferred: 1 });
    expect(b.days[5]).toMatchObject({ day: '2026-11-06', fired: 1, deferred: 1 });
  });

  it('replays a birthday trigger by each site’s zone, with per_year against what the trigger really sent before', async () => {
    const { db } = await shopDb(
      {
        customers: [
          { id: 1, email: 'b1@example.com', birthday: '1990-11-05' }, // Berlin: due 2 Nov 00:00 local, 1 Nov 23:00 UTC
          { id: 2, email: 'b2@example.com', birthday: '1985-11-07', site: 'shop-us' }, // New York: due 4 Nov 05:00 UTC
          { id: 3, email: 'b3@example.com', birthday: '2000-11-30' }, // due the 27th: after --to
          { id: 4, email: 'b4@example.com', birthday: '1970-11-03' }, // due 30 Oct 23:00 UTC: before the horizon
          { id: 5, email: 'b5@example.com', birthday: '1995-11-06' }, // due 2 Nov 23:00 UTC; greeted in March already
          { id: 6, email: null, birthday: '1999-11-06' }, // no address
        ],
      },
      cleanup,
    );
    await db.query(
      `INSERT INTO herald.messages (source_kind, source, customer_id, address, site, locale, occurrence, status, sent_at)
       VALUES ('trigger', 't', 5, 'b5@example.com', 'shop-en', 'en', '2025', 'sent', '2026-03-01T10:00:00Z')`,
    );
    const before = await written(db);
    const b = await backtest(db, active({ event: 'birthday', days_before: 3, once: 'per_year' }));
    expect(b.days).toEqual(
      week({
        '2026-11-01': { occurrences: 2, fired: 1, skipped_by_horizon: 1 },
        '2026-11-02': { occurrences: 2, left_out: 1, skipped_by_once: 1 },
        '2026-11-04': { occurrences: 1, fired: 1 },
      }),
    );
    expect(await written(db)).toEqual(before);
  });

  it('replays back in stock from the episodes herald saw, never one it would make up from today’s stock', async () => {
    const { db } = await shopDb(
      {
        customers: [
          { id: 1, email: 'p1@example.com' },
          { id: 2, email: 'p2@example.com' },
        ],
        products: [
          { sku: 'SEEN', category: 'bags' },
          { sku: 'UNSEEN', category: 'bags' },
        ],
        preorders: [
          { customer_id: 1, sku: 'SEEN', created_at: '2026-10-20T00:00:00Z' },
          { customer_id: 2, sku: 'UNSEEN', created_at: '2026-10-20T00:00:00Z' },
        ],
      },
      cleanup,
    );
    // SEEN came back on the 3rd after three days out; UNSEEN was last seen out of stock and is in stock now.
    await db.query(
      `INSERT INTO herald.stock_seen (sku, in_stock, out_since, back_at, was_out, seen_at) VALUES
         ('SEEN', true, NULL, '2026-11-03T10:00:00Z', '3 days', '2026-11-03T10:00:00Z'),
         ('UNSEEN', false, '2026-10-01T00:00:00Z', NULL, NULL, '2026-10-01T00:00:00Z')`,
    );
    const before = await written(db);
    const b = await backtest(db, active({ event: 'back_in_stock' }));
    expect(b.totals).toMatchObject({ occurrences: 1, fired: 1 });
    expect(b.days[2]).toMatchObject({ day: '2026-11-03', fired: 1 });
    expect(b.cannot_rebuild.join('\n')).toMatch(/only herald.stock_seen's episodes are replayed/);
    expect(await written(db)).toEqual(before);
  });

  it('refuses an sql trigger, whose query only knows now', async () => {
    const { db } = await shopDb({ customers: [] }, cleanup);
    await expect(backtest(db, active({ event: 'sql', sql: 'SELECT 1 AS customer_id, $$x$$ AS event_key' }))).rejects.toThrow(
      'trigger "t" has event: sql, whose query reads the shop as it is now, so herald cannot replay it over history',
    );
  });

  it('takes ticks every --every from --from, and only those up to --to', async () => {
    const { db } = await shopDb(CARTS, cleanup);
    // Every 6 hours: c1's reminder due at 14:30 waits for 18:00, c3's due at 02:00 for 06:00; c2's, due at
    // 12:00 on the 2nd, comes after the last tick (06:00).
    const b = await backtest(db, CART_TRIGGER, { everyMs: 6 * HOUR, to: at('2026-11-02T11:00:00Z') });
    expect(b.days.map((d) => [d.day, d.fired])).toEqual([
      ['2026-11-01', 2],
      ['2026-11-02', 0],
    ]);
  });
});

describe('backtest plan and replay (pure)', () => {
  it('ends at the last whole tick and reads from the horizon less the lookback', () => {
    const plan = backtestPlan(active({ event: 'cart_abandoned', after: '4h', backfill: '1d' }), FROM, at('2026-11-01T10:30:00Z'), 4 * HOUR);
    expect(plan).toEqual({ horizon: at('2026-10-31T00:00:00Z'), readFrom: at('2026-10-29T00:00:00Z'), lastTick: at('2026-11-01T08:00:00Z'), everyMs: 4 * HOUR });
  });

  it('holds back a second occurrence while the first is pending, and a per_customer one for good', () => {
    const row = (customer: string, tick: string, o: Partial<ReplayRow> = {}): ReplayRow => ({
      customer, occurrence: tick, due_at: at(tick), tick: at(tick), recipient: true, before_horizon: false,
      quiet_until: null, sent_in_window: null, oldest_in_window: null, sent_before: false, ...o,
    });
    const rows = [
      // Put off by quiet hours to the 3rd: still pending at the tick of the 2nd.
      row('1', '2026-11-01T22:00:00Z', { quiet_until: at('2026-11-03T08:00:00Z') }),
      row('1', '2026-11-02T10:00:00Z'),
      row('2', '2026-11-01T10:00:00Z', { sent_before: true }),
      row('3', '2026-11-01T10:00:00Z'),
      row('3', '2026-11-07T10:00:00Z'),
    ];
    const policy = contactPolicy('trigger', {}, PROJECT);
    const oneHour = replay(rows, active({ event: 'cart_abandoned', once: '1h' }), policy, FROM, TO);
    expect(oneHour.totals).toMatchObject({ occurrences: 5, fired: 3, deferred: 1, skipped_by_once: 2 });
    const perCustomer = replay(rows, active({ event: 'cart_abandoned', once: 'per_customer' }), policy, FROM, TO);
    expect(perCustomer.totals).toMatchObject({ fired: 2, skipped_by_once: 3 });
    const perEvent = replay(rows, active({ event: 'cart_abandoned' }), policy, FROM, TO);
    expect(perEvent.totals).toMatchObject({ fired: 5, skipped_by_once: 0 });
  });
});
