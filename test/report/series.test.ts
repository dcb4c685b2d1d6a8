import { describe, expect, it } from 'vitest';
import { openDb, type Db } from '../../src/db/db.js';
import { campaignReport, triggerReport } from '../../src/report/write.js';
import { createTestDb, type TestDb } from '../support/db.js';
import { createShop } from '../support/shop.js';
import { useCleanups } from '../support/cleanup.js';
import { addEvents, addMessages, deploy, project } from '../support/attribution.js';

/**
 * The charts' series as the reports read them (src/report/series.ts), on a
 * database whose session time zone is Pacific/Chatham (UTC+13:45): a day
 * or hour is the UTC one all the same.
 */
const cleanup = useCleanups();
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

/** The test's database, its sessions in Chatham's time zone: set for the database (new connections) on a server, for the one session on PGlite. */
async function chathamDb(): Promise<{ db: Db; test: TestDb }> {
  const test = await createTestDb();
  cleanup(() => test.dispose());
  if (!test.url) {
    await test.query("SET TimeZone = 'Pacific/Chatham'");
    return { db: test, test };
  }
  const [{ name } = { name: '' }] = await test.query<{ name: string }>('SELECT current_database() AS name');
  await test.exec(`ALTER DATABASE "${name}" SET TimeZone = 'Pacific/Chatham'`);
  const db = await openDb(test.url);
  cleanup(() => db.close());
  return { db, test };
}

describe('chart series', () => {
  it("counts a campaign's messages per hour as sent, first opened and first clicked by a person, and each group's orders per day", async () => {
    const { db } = await chathamDb();
    const [{ tz } = { tz: '' }] = await db.query<{ tz: string }>("SELECT current_setting('TimeZone') AS tz");
    expect(tz).toBe('Pacific/Chatham');
    await createShop(db, {
      customers: [...range(1, 6), ...range(101, 104)].map((id) => ({ id, email: `c${id}@example.com` })),
      orders: [
        { id: 1, customer_id: 1, created_at: '2026-03-03T12:00:00Z' },
        // 23:50 UTC: the 4th in Chatham, the 3rd in UTC.
        { id: 2, customer_id: 2, created_at: '2026-03-03T23:50:00Z' },
        // Not counted: cancelled, before the send, after the 5-day window.
        { id: 3, customer_id: 3, created_at: '2026-03-04T10:00:00Z', status: 'cancelled' },
        { id: 4, customer_id: 4, created_at: '2026-03-01T10:00:00Z' },
        { id: 5, customer_id: 5, created_at: '2026-03-09T10:00:00Z' },
        { id: 6, customer_id: 101, created_at: '2026-03-04T01:00:00Z' },
        { id: 7, customer_id: 102, created_at: '2026-03-03T05:00:00Z' },
      ],
    });
    await deploy(db, { kind: 'project', name: 'herald', spec: project() }, { kind: 'campaign', name: 'spring', spec: { title: 'Spring', status: 'ready' } });
    const sent = await addMessages(db, [
      ...range(1, 4).map((c) => ({ source: 'spring', customer_id: c, created_at: '2026-03-02T22:00:00Z' })),
      ...range(5, 6).map((c) => ({ source: 'spring', customer_id: c, created_at: '2026-03-02T23:05:00Z' })),
    ]);
    await addMessages(db, range(101, 104).map((c) => ({ source: 'spring', customer_id: c, status: 'control', created_at: '2026-03-02T22:00:00Z' })));
    await addEvents(db, [
      // Opened twice: once, at the first.
      { message_id: sent[0]!, kind: 'open', at: '2026-03-02T22:10:00Z' },
      { message_id: sent[0]!, kind: 'open', at: '2026-03-02T23:30:00Z' },
      { message_id: sent[0]!, kind: 'click', at: '2026-03-02T22:20:00Z' },
      // Machines: not counted.
      { message_id: sent[1]!, kind: 'open', class: 'mpp', at: '2026-03-02T22:05:00Z' },
      { message_id: sent[2]!, kind: 'click', class: 'scanner', at: '2026-03-02T22:01:00Z' },
      { message_id: sent[1]!, kind: 'open', at: '2026-03-03T00:30:00Z' },
      { message_id: sent[4]!, kind: 'open', at: '2026-03-02T23:15:00Z' },
      { message_id: sent[4]!, kind: 'click', at: '2026-03-02T23:16:00Z' },
    ]);

    const r = await campaignReport(db, 'spring', new Date('2026-03-20T00:00:00Z'));
    expect(r.series).toEqual({
      step: 'hour',
      activity: [
        { at: '2026-03-02T22:00:00Z', sent: 4, opened: 1, clicked: 1 },
        { at: '2026-03-02T23:00:00Z', sent: 2, opened: 1, clicked: 1 },
        { at: '2026-03-03T00:00:00Z', sent: 0, opened: 1, clicked: 0 },
      ],
      orders: {
        by: 'group',
        recipients: 6,
        control: 4,
        days: [
          { day: '2026-03-03', recipients: 2, control: 1 },
          { day: '2026-03-04', recipients: 0, control: 1 },
        ],
      },
    });
    // The sums are the report's figures.
    expect(r.engagement).toMatchObject({ sent: 6, opened: { human: 3 }, clicked: { human: 2 } });
    expect(r.lift).toMatchObject({ recipients: { n: 6, converted: 2 }, control: { n: 4, converted: 2 } });

    // Three days or more from the first send to the last moment: per day.
    await addEvents(db, [{ message_id: sent[5]!, kind: 'open', at: '2026-03-07T10:00:00Z' }]);
    expect((await campaignReport(db, 'spring')).series).toMatchObject({
      step: 'day',
      activity: [
        { at: '2026-03-02T00:00:00Z', sent: 6, opened: 2, clicked: 2 },
        { at: '2026-03-03T00:00:00Z', sent: 0, opened: 1, clicked: 0 },
        { at: '2026-03-07T00:00:00Z', sent: 0, opened: 1, clicked: 0 },
      ],
    });
  });

  it("shows a trigger's attributed orders per day, and nothing before a message was sent", async () => {
    const { db } = await chathamDb();
    await createShop(db, { customers: [{ id: 1, email: 'c1@example.com' }] });
    await deploy(
      db,
      { kind: 'project', name: 'herald', spec: project() },
      { kind: 'trigger', name: 'cart', spec: { description: 'Carts', status: 'active', template: 't' } },
      { kind: 'trigger', name: 'quiet', spec: { description: 'Nothing yet', status: 'active', template: 't' } },
    );
    const ids = await addMessages(db, [
      { source: 'cart', source_kind: 'trigger', customer_id: 1, created_at: '2026-03-03T20:00:00Z', occurrence: 'a' },
      { source: 'cart', source_kind: 'trigger', customer_id: 1, created_at: '2026-03-03T21:00:00Z', occurrence: 'b' },
    ]);
    await addEvents(db, [
      { message_id: ids[0]!, kind: 'order', order_id: '1', value: 10, at: '2026-03-03T23:30:00Z' },
      { message_id: ids[1]!, kind: 'order', order_id: '2', value: 10, at: '2026-03-04T00:30:00Z' },
    ]);
    const t = await triggerReport(db, 'cart');
    expect(t.series).toEqual({
      step: 'hour',
      activity: [
        { at: '2026-03-03T20:00:00Z', sent: 1, opened: 0, clicked: 0 },
        { at: '2026-03-03T21:00:00Z', sent: 1, opened: 0, clicked: 0 },
      ],
      orders: {
        by: 'attributed',
        days: [
          { day: '2026-03-03', orders: 1 },
          { day: '2026-03-04', orders: 1 },
        ],
      },
    });
    await addMessages(db, [{ source: 'quiet', source_kind: 'trigger', customer_id: 1, status: 'queued', created_at: '2026-03-03T20:00:00Z', occurrence: 'q' }]);
    expect((await triggerReport(db, 'quiet')).series).toEqual({ step: 'day', activity: [], orders: { by: 'attributed', days: [] } });
  });
});
