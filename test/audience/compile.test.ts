import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileSegment } from '../../src/audience/compile.js';
import type { Condition, Segment } from '../../src/workspace/model.js';
import { createTestDb, type TestDb } from '../support/db.js';
import { createShop } from '../support/shop.js';

const NOW = new Date('2026-06-01T00:00:00Z');
const days = (n: number) => new Date(NOW.getTime() - n * 86_400_000).toISOString();

let db: TestDb;
beforeAll(async () => {
  db = await createTestDb();
  await createShop(db, {
    customers: [
      { id: 1, email: 'a@example.com', site: 'en', locale: 'en', country: 'DE', city: 'Berlin', created_at: days(400) },
      { id: 2, email: 'b@example.com', site: 'en', locale: 'ru', country: 'DE', city: null, created_at: days(30) },
      { id: 3, email: 'c@example.com', site: 'ru', locale: 'ru', country: 'RU', city: 'Moscow', created_at: days(800) },
      { id: 4, email: 'd@example.com', site: 'ru', locale: 'ru', country: 'RU', city: 'Kazan', created_at: days(10) },
    ],
    orders: [
      { id: 10, customer_id: 1, created_at: days(200), total: 50 },
      { id: 11, customer_id: 1, created_at: days(100), total: 70 },
      { id: 12, customer_id: 1, created_at: days(5), total: 30, status: 'cancelled' },
      { id: 13, customer_id: 3, created_at: days(20), total: 500 },
      { id: 14, customer_id: 3, created_at: days(400), total: 10 },
      { id: 15, customer_id: 3, created_at: days(300), total: 10 },
      { id: 16, customer_id: 4, created_at: days(1), total: 5, status: 'cancelled' },
    ],
  });
});
afterAll(() => db.dispose());

async function members(where: Condition, segments: Record<string, Segment> = {}): Promise<number[]> {
  const sql = compileSegment(where, { schema: 'shop', segments: new Map(Object.entries(segments)), cancelled: ['cancelled'] }, NOW);
  const rows = await db.query<{ customer_id: number }>(`${sql.text} ORDER BY 1`, sql.values);
  return rows.map((r) => r.customer_id);
}

describe('compileSegment', () => {
  it('customer attributes: equals, in, not_in (NULL is "not in")', async () => {
    expect(await members({ site: 'en' })).toEqual([1, 2]);
    expect(await members({ locale: { in: ['ru'] } })).toEqual([2, 3, 4]);
    expect(await members({ city: { not_in: ['Berlin', 'Moscow'] } })).toEqual([2, 4]);
  });

  it('registered within / before', async () => {
    expect(await members({ registered: { within: '90d' } })).toEqual([2, 4]);
    expect(await members({ registered: { before: '2w', within: '60d' } })).toEqual([2]);
  });

  it('order aggregates ignore cancelled orders and respect the window', async () => {
    expect(await members({ order_count: { gte: 2 } })).toEqual([1, 3]);
    expect(await members({ order_count: { gte: 2, within: '365d' } })).toEqual([1, 3]);
    expect(await members({ order_count: { gte: 3, within: '365d' } })).toEqual([]);
    // Customers 2 and 4 have no (non-cancelled) orders: their count is 0.
    expect(await members({ order_count: { eq: 0 } })).toEqual([2, 4]);
    expect(await members({ total_spent: { gt: 100 } })).toEqual([1, 3]);
    expect(await members({ total_spent: { lt: 100, within: '365d' } })).toEqual([2, 4]);
  });

  it('last_order within / before / exists', async () => {
    expect(await members({ last_order: { within: '30d' } })).toEqual([3]);
    expect(await members({ last_order: { before: '90d' } })).toEqual([1]);
    expect(await members({ last_order: { exists: false } })).toEqual([2, 4]);
  });

  it('composes all, any, not and segment references in one statement', async () => {
    const segments = { russians: { where: { site: 'ru' } } };
    expect(await members({ all: [{ segment: 'russians' }, { order_count: { gte: 1 } }] }, segments)).toEqual([3]);
    expect(await members({ any: [{ city: 'Berlin' }, { city: 'Kazan' }] })).toEqual([1, 4]);
    // NULL city: "not Berlin" includes the customer whose city is unknown.
    expect(await members({ not: { city: 'Berlin' } })).toEqual([2, 3, 4]);
    expect(await members({ any: [{ site: 'en' }, { not: { site: 'en' } }] })).toEqual([1, 2, 3, 4]);
  });

  it('passes every value as a parameter', () => {
    const sql = compileSegment({ city: "O'Brien'; DROP TABLE shop.customers; --" }, { schema: 'shop', segments: new Map(), cancelled: ['cancelled'] }, NOW);
    expect(sql.text).not.toContain('DROP');
    expect(sql.values).toContain("O'Brien'; DROP TABLE shop.customers; --");
  });
});
