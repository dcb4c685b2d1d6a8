import { describe, expect, it } from 'vitest';
import { attributeOrders } from '../../src/events/attribution.js';
import { createTestDb } from '../support/db.js';
import { createShop, type TestOrder } from '../support/shop.js';
import { useCleanups } from '../support/cleanup.js';
import { addEvents, addMessages, attributed, deploy, project } from '../support/attribution.js';

/**
 * Attribution on a real database: the last human touch within its window
 * takes the order, across campaigns and triggers; machine touches, cancelled
 * orders and orders outside the window count for nobody.
 */
const cleanup = useCleanups();
const T0 = Date.parse('2026-03-02T10:00:00Z');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const at = (ms: number) => new Date(T0 + ms).toISOString();

async function setup(orders: TestOrder[], herald: Record<string, unknown> = {}, sources: { kind: 'campaign' | 'trigger'; name: string; spec: Record<string, unknown> }[] = []) {
  const db = await createTestDb();
  cleanup(() => db.dispose());
  await createShop(db, { customers: [1, 2, 3, 4].map((id) => ({ id, email: `c${id}@example.com` })), orders });
  await deploy(db, { kind: 'project', name: 'herald', spec: project(herald) }, ...sources);
  return db;
}

describe('attribution', () => {
  it('gives an order to the message clicked within the window, and none outside it', async () => {
    const db = await setup([
      { id: 101, customer_id: 1, total: 80, created_at: at(2 * DAY) },
      { id: 102, customer_id: 2, total: 50, created_at: at(6 * DAY) },
      { id: 103, customer_id: 3, total: 20, created_at: at(-HOUR) },
    ]);
    const [m1, m2, m3] = await addMessages(db, [1, 2, 3].map((c) => ({ source: 'spring', customer_id: c, created_at: at(-2 * HOUR) })));
    await addEvents(db, [
      { message_id: m1!, kind: 'click', at: at(0) },
      // Five days and a bit after the click: the default click window is 5d.
      { message_id: m2!, kind: 'click', at: at(HOUR) },
      // An order placed before the click is not the click's.
      { message_id: m3!, kind: 'click', at: at(0) },
    ]);
    const pass = await attributeOrders(db, new Date(T0 + 7 * DAY));
    expect(pass).toMatchObject({ attributed: 1, from: null });
    expect(await attributed(db)).toEqual([{ order_id: '101', message_id: m1, value: 80, at: at(2 * DAY) }]);
  });

  it('gives the order to a later click on another campaign, and only to it', async () => {
    const db = await setup([{ id: 201, customer_id: 1, total: 120, created_at: at(3 * DAY) }]);
    const [spring, summer, welcome] = await addMessages(db, [
      { source: 'spring', customer_id: 1, created_at: at(-HOUR) },
      { source: 'summer', customer_id: 1, created_at: at(DAY) },
      { source: 'welcome', source_kind: 'trigger', customer_id: 1, created_at: at(-2 * DAY) },
    ]);
    await addEvents(db, [
      { message_id: welcome!, kind: 'click', at: at(-DAY) },
      { message_id: spring!, kind: 'click', at: at(0) },
      { message_id: summer!, kind: 'click', at: at(2 * DAY) },
      // The spring message is clicked again, but after the order: it does not count.
      { message_id: spring!, kind: 'click', at: at(4 * DAY) },
    ]);
    await attributeOrders(db, new Date(T0 + 5 * DAY));
    expect(await attributed(db)).toEqual([{ order_id: '201', message_id: summer, value: 120, at: at(3 * DAY) }]);
    // Exactly one event for the order, whatever the number of candidate messages.
    const [n] = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM herald.message_events WHERE kind = 'order'");
    expect(n!.n).toBe(1);
  });

  it('counts people only: scanner and MPP clicks and opens never take an order, human opens only where opens count', async () => {
    const orders = [
      { id: 301, customer_id: 1, total: 10, created_at: at(2 * HOUR) },
      { id: 302, customer_id: 2, total: 10, created_at: at(2 * HOUR) },
      { id: 303, customer_id: 3, total: 10, created_at: at(2 * HOUR) },
      { id: 304, customer_id: 4, total: 10, created_at: at(2 * DAY) },
    ];
    const events = (ids: number[]) =>
      addEvents(db, [
        { message_id: ids[0]!, kind: 'click', class: 'scanner', at: at(0) },
        { message_id: ids[1]!, kind: 'open', class: 'mpp', at: at(0) },
        { message_id: ids[2]!, kind: 'open', at: at(0) },
        // A human open two days before the order: outside the 1d open window.
        { message_id: ids[3]!, kind: 'open', at: at(0) },
      ]);
    let db = await setup(orders);
    await events(await addMessages(db, [1, 2, 3, 4].map((c) => ({ source: 'spring', customer_id: c, created_at: at(-HOUR) }))));
    await attributeOrders(db, new Date(T0 + 3 * DAY));
    expect(await attributed(db)).toEqual([]);

    db = await setup(orders, { tracking: { base_url: 'https://mail.example.com', attribution: { opens: true } } });
    const ids = await addMessages(db, [1, 2, 3, 4].map((c) => ({ source: 'spring', customer_id: c, created_at: at(-HOUR) })));
    await events(ids);
    await attributeOrders(db, new Date(T0 + 3 * DAY));
    expect(await attributed(db)).toEqual([{ order_id: '303', message_id: ids[2], value: 10, at: at(2 * HOUR) }]);
  });

  it('leaves cancelled orders out (source.cancelled_statuses)', async () => {
    const db = await setup(
      [
        { id: 401, customer_id: 1, status: 'cancelled', created_at: at(HOUR) },
        { id: 402, customer_id: 1, status: 'refunded', created_at: at(2 * HOUR) },
        { id: 403, customer_id: 1, status: 'paid', total: 9.5, created_at: at(3 * HOUR) },
      ],
      { source: { cancelled_statuses: ['cancelled', 'refunded'] } },
    );
    const [m] = await addMessages(db, [{ source: 'spring', customer_id: 1, created_at: at(-HOUR) }]);
    await addEvents(db, [{ message_id: m!, kind: 'click', at: at(0) }]);
    await attributeOrders(db, new Date(T0 + DAY));
    expect((await attributed(db)).map((a) => a.order_id)).toEqual(['403']);
  });

  it('takes each window from the campaign or trigger, else the site, else herald.yaml', async () => {
    const db = await setup(
      [
        // 8 days after clicks: only the campaign with a 10d window reaches it.
        { id: 501, customer_id: 1, created_at: at(8 * DAY) },
        { id: 502, customer_id: 2, created_at: at(8 * DAY) },
        // 3 days after a click on shop-ru, whose window is 2d; shop-en's is the project's 4d.
        { id: 503, customer_id: 3, site: 'shop-ru', created_at: at(3 * DAY) },
        { id: 504, customer_id: 4, created_at: at(3 * DAY) },
      ],
      {
        tracking: { base_url: 'https://mail.example.com', attribution: { click_window: '4d' } },
        sites: [
          { id: 'shop-en', name: 'EN', url: 'https://shop.example.com', locales: ['en'], default_locale: 'en', currency: 'EUR' },
          { id: 'shop-ru', name: 'RU', url: 'https://shop.example.ru', locales: ['ru'], default_locale: 'ru', currency: 'RUB', attribution: { click_window: '2d' } },
        ],
      },
      [{ kind: 'campaign', name: 'long', spec: { title: 'Long', tracking: { attribution: { click_window: '10d' } } } }],
    );
    const ids = await addMessages(db, [
      { source: 'long', customer_id: 1, created_at: at(-HOUR) },
      { source: 'short', customer_id: 2, created_at: at(-HOUR) },
      { source: 'short', customer_id: 3, site: 'shop-ru', created_at: at(-HOUR) },
      { source: 'short', customer_id: 4, created_at: at(-HOUR) },
    ]);
    await addEvents(db, ids.map((id) => ({ message_id: id, kind: 'click' as const, at: at(0) })));
    await attributeOrders(db, new Date(T0 + 9 * DAY));
    expect((await attributed(db)).map((a) => [a.order_id, a.message_id])).toEqual([
      ['501', ids[0]],
      ['504', ids[3]],
    ]);
  });

  it("counts a person's open for a campaign whose own window counts opens, and for no other", async () => {
    const db = await setup(
      [
        { id: 701, customer_id: 1, created_at: at(HOUR) },
        { id: 702, customer_id: 2, created_at: at(HOUR) },
      ],
      {},
      [{ kind: 'campaign', name: 'opens', spec: { title: 'Opens', tracking: { attribution: { opens: true, open_window: '2h' } } } }],
    );
    const ids = await addMessages(db, [
      { source: 'opens', customer_id: 1, created_at: at(-HOUR) },
      { source: 'clicks', customer_id: 2, created_at: at(-HOUR) },
    ]);
    await addEvents(db, ids.map((id) => ({ message_id: id, kind: 'open' as const, at: at(0) })));
    await attributeOrders(db, new Date(T0 + DAY));
    expect((await attributed(db)).map((a) => [a.order_id, a.message_id])).toEqual([['701', ids[0]]]);
  });

  it('reads only new orders after the first pass, less a two-day lookback, and never attributes an order twice', async () => {
    const db = await setup([{ id: 601, customer_id: 1, created_at: at(HOUR) }]);
    const [a, b] = await addMessages(db, [
      { source: 'spring', customer_id: 1, created_at: at(-HOUR) },
      { source: 'summer', customer_id: 1, created_at: at(-HOUR) },
    ]);
    await addEvents(db, [{ message_id: a!, kind: 'click', at: at(0) }]);
    expect(await attributeOrders(db, new Date(T0 + 3 * DAY))).toMatchObject({ attributed: 1, from: null });

    // Orders that reach the shop's tables late: one placed inside the lookback
    // (the watermark, T0 + 3d, less 2d), one placed before it, never read again.
    await db.query(
      `INSERT INTO shop.orders (id, customer_id, site, status, total, currency, created_at) VALUES
         (602, 1, 'shop-en', 'paid', 7, 'EUR', $1), (603, 1, 'shop-en', 'paid', 7, 'EUR', $2)`,
      [at(1.5 * DAY), at(3 * HOUR)],
    );
    // A click on another message that, read afresh, would be the last touch before 601: the first attribution stands.
    await addEvents(db, [{ message_id: b!, kind: 'click', at: at(HOUR / 2) }]);
    const second = await attributeOrders(db, new Date(T0 + 4 * DAY));
    expect(second).toMatchObject({ attributed: 1, from: new Date(T0 + DAY) });
    expect((await attributed(db)).map((x) => [x.order_id, x.message_id])).toEqual([
      ['601', a],
      ['602', b],
    ]);
    expect(await attributeOrders(db, new Date(T0 + 5 * DAY))).toMatchObject({ attributed: 0, from: new Date(T0 + 2 * DAY) });
    expect((await attributed(db)).map((x) => x.order_id)).toEqual(['601', '602']);
    const [w] = await db.query<{ watermark: Date; attributed: number }>('SELECT watermark, attributed FROM herald.attribution_passes');
    expect(w).toEqual({ watermark: new Date(T0 + 5 * DAY), attributed: 0 });
  });
});
