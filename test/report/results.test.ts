import { describe, expect, it } from 'vitest';
import { campaignReport, triggerReport } from '../../src/report/write.js';
import { reportMarkdown, reportText } from '../../src/report/report.js';
import { triggerReportMarkdown } from '../../src/report/trigger.js';
import { createTestDb } from '../support/db.js';
import { createShop, type TestOrder } from '../support/shop.js';
import { useCleanups } from '../support/cleanup.js';
import { addEvents, addMessages, deploy, project } from '../support/attribution.js';

/**
 * A report's results on a fixture whose answer is known: Newcombe 1998's
 * first worked example (56/70 against 48/80: 0.0524 to 0.3339) as recipients
 * and control group, with revenue whose Welch interval scipy computed.
 */
const cleanup = useCleanups();
const T0 = Date.parse('2026-03-02T10:00:00Z');
const DAY = 86_400_000;
const at = (ms: number) => new Date(T0 + ms).toISOString();
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

describe('report results', () => {
  it('measures lift from the shop orders within the window, recipients from their send, control from the launch', async () => {
    const db = await createTestDb();
    cleanup(() => db.dispose());
    const orders: TestOrder[] = [
      // 56 of the 70 recipients ordered within the 5-day window.
      ...range(1, 56).map((c) => ({ id: c, customer_id: c, total: c % 2 === 0 ? 50 : 30, created_at: at(DAY) })),
      // Not counted: before the send, after the window, cancelled.
      { id: 1001, customer_id: 1, total: 999, created_at: at(-DAY) },
      { id: 1002, customer_id: 57, total: 999, created_at: at(6 * DAY) },
      { id: 1003, customer_id: 58, total: 999, status: 'cancelled', created_at: at(DAY) },
      // 48 of the 80 held out ordered, from the launch on.
      ...range(101, 148).map((c) => ({ id: c, customer_id: c, total: c % 3 === 0 ? 40 : 20, created_at: at(2 * DAY) })),
      { id: 1004, customer_id: 149, total: 999, created_at: at(-DAY) },
    ];
    await createShop(db, { customers: [...range(1, 70), ...range(101, 180)].map((id) => ({ id, email: `c${id}@example.com` })), orders });
    await deploy(db, { kind: 'project', name: 'herald', spec: project() }, { kind: 'campaign', name: 'spring', spec: { title: 'Spring', status: 'ready' } });
    const sent = await addMessages(db, range(1, 70).map((c) => ({ source: 'spring', customer_id: c, created_at: at(0) })));
    await addMessages(db, range(101, 180).map((c) => ({ source: 'spring', customer_id: c, status: 'control', created_at: at(0) })));
    await addEvents(db, [
      ...sent.slice(0, 30).map((id) => ({ message_id: id, kind: 'open' as const, at: at(1000) })),
      ...sent.slice(0, 50).map((id) => ({ message_id: id, kind: 'open' as const, class: 'mpp' as const, at: at(500) })),
      ...sent.slice(0, 10).map((id) => ({ message_id: id, kind: 'click' as const, at: at(2000) })),
      ...sent.slice(0, 40).map((id) => ({ message_id: id, kind: 'click' as const, class: 'scanner' as const, at: at(600) })),
      { message_id: sent[69]!, kind: 'bounce', at: at(3000) },
      { message_id: sent[68]!, kind: 'unsubscribe', at: at(3000) },
      { message_id: sent[67]!, kind: 'complaint', at: at(3000) },
      { message_id: sent[0]!, kind: 'order', at: at(DAY), order_id: '1', value: 30 },
      { message_id: sent[1]!, kind: 'order', at: at(DAY), order_id: '2', value: 50 },
    ]);

    const r = await campaignReport(db, 'spring', new Date(T0 + 10 * DAY));
    expect(r.engagement).toEqual({
      sent: 70,
      delivered: 69,
      bounced_after_send: 1,
      opened: { human: 30, total: 50 },
      clicked: { human: 10, total: 40 },
      unsubscribed: 1,
      complained: 1,
      orders: 2,
      order_value: { EUR: 80 },
    });
    const l = r.lift!;
    expect(l.recipients).toMatchObject({ n: 70, converted: 56, revenue: 2240 });
    expect(l.control).toMatchObject({ n: 80, converted: 48, revenue: 1280 });
    expect(l.conversion.difference).toBeCloseTo(0.2, 12);
    expect([l.conversion.interval!.low.toFixed(4), l.conversion.interval!.high.toFixed(4)]).toEqual(['0.0524', '0.3339']);
    expect(l.conversion.significant).toBe(true);
    // scipy.stats.ttest_ind(r, c, equal_var=False) on the same revenues: df 133.28035046154955, CI (10.50970159282517, 21.49029840717483).
    expect(l.revenue_per_recipient!.df).toBeCloseTo(133.28035046154955, 8);
    expect(l.revenue_per_recipient!.interval!.low).toBeCloseTo(10.50970159282517, 8);
    expect(l.revenue_per_recipient!.interval!.high).toBeCloseTo(21.49029840717483, 8);
    expect(l).toMatchObject({ complete: true, window_closes_at: at(5 * DAY), currency: 'EUR' });

    const md = reportMarkdown(r);
    expect(md).toContain('| Opened by a person | 30 (43.5%) |');
    // Wilson 56/70 and 48/80, and the MDE at p = 0.6, as computed with scipy.stats.norm.
    expect(md).toContain('| Ordered | 56 of 70, 80.00% (69.18–87.70%) | 48 of 80, 60.00% (49.05–70.04%) | +20.00 pp | +5.24 pp to +33.39 pp | 22.46 pp |');
    expect(reportText(r)).toContain('lift       conversion +20.00 pp vs control (95% CI +5.24 pp to +33.39 pp)');

    // Within the window the report says so.
    const early = await campaignReport(db, 'spring', new Date(T0 + 2 * DAY));
    expect(early.lift).toMatchObject({ complete: false });
    expect(reportMarkdown(early)).toContain(`The attribution window is still open until ${at(5 * DAY)}`);

    // Orders in two currencies: conversion still compares, revenue does not add EUR to RUB.
    await db.query("UPDATE shop.orders SET currency = 'RUB' WHERE customer_id > 100");
    await db.query("UPDATE herald.message_events SET detail = '{\"currency\": \"RUB\"}' WHERE order_id = '2'");
    const mixed = await campaignReport(db, 'spring', new Date(T0 + 10 * DAY));
    expect(mixed.engagement!.order_value).toEqual({ EUR: 30, RUB: 50 });
    expect(mixed.lift).toMatchObject({ revenue_per_recipient: null, currency: null, recipients: { revenue: null }, control: { revenue: null }, conversion: { significant: true } });
    expect(mixed.lift!.summary).toContain('revenue not compared: orders in EUR and RUB');
    expect(reportMarkdown(mixed)).toContain('| Order value | 30.00 EUR + 50.00 RUB |');
    expect(reportMarkdown(mixed)).toContain('| Revenue per member | not compared: orders in several currencies |');
  });

  it("a trigger's report has engagement, and no lift without a control group", async () => {
    const db = await createTestDb();
    cleanup(() => db.dispose());
    await createShop(db, { customers: [{ id: 1, email: 'c1@example.com' }], orders: [{ id: 1, customer_id: 1, total: 12, created_at: at(DAY) }] });
    await deploy(db, { kind: 'project', name: 'herald', spec: project() }, { kind: 'trigger', name: 'cart', spec: { description: 'Carts', status: 'active', template: 't' } });
    const [m] = await addMessages(db, [{ source: 'cart', source_kind: 'trigger', customer_id: 1, created_at: at(0), occurrence: 'c1' }]);
    await addEvents(db, [{ message_id: m!, kind: 'click', at: at(1000) }, { message_id: m!, kind: 'order', order_id: '1', value: 12, at: at(DAY) }]);
    const t = await triggerReport(db, 'cart', new Date(T0 + 10 * DAY));
    expect(t.engagement).toMatchObject({ sent: 1, delivered: 1, clicked: { human: 1, total: 1 }, orders: 1, order_value: { EUR: 12 } });
    expect(t.lift).toBeNull();
    expect(triggerReportMarkdown(t)).toContain('No lift: no control group was held out.');
  });
});
