import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileSegment, type CompileContext } from '../../src/audience/compile.js';
import { upcomingBirthdays } from '../../src/audience/predicates.js';
import { evaluateSqlConditions, withSqlSession } from '../../src/audience/sql-sandbox.js';
import { UserError } from '../../src/errors.js';
import type { Condition, Segment } from '../../src/workspace/model.js';
import { createTestDb, type TestDb } from '../support/db.js';
import { createShop } from '../support/shop.js';

const NOW = new Date('2026-06-01T00:00:00Z');
const days = (n: number) => new Date(NOW.getTime() - n * 86_400_000).toISOString();
const EVERYONE = [1, 2, 3, 4, 5, 6, 7, 8, 9];

/*
 * The hand-made shop. Per customer, with its counted (not cancelled) orders:
 *
 * id site locale country city    registered        birthday    orders (counted)         count total  avg     max   last
 *  1 en   en     DE      Berlin  400d ago          1990-06-01  50@200d 70@100d          2     120    60      70    100d
 *  2 en   ru     DE      NULL    30d ago           1985-06-07  –                        0     0      –       –     –
 *  3 ru   ru     RU      Moscow  800d ago          1970-06-08  500@20d 10@400d 10@300d  3     520    173.33  500   20d
 *  4 ru   ru     RU      Kazan   10d ago           NULL        – (one cancelled)        0     0      –       –     –
 *  5 en   en     de      BERLIN  exactly 90d ago   2000-02-29  40@90d (paid, open)      1     40     40      40    90d
 *  6 ru   ru     NULL    москва  91d ago           1999-05-31  1000@30d (new, open)     1     1000   1000    1000  30d
 *  7 en   en     FR      Paris   2026-01-01 00:00Z 1980-12-31  200@60d (shipped, open)  1     200    200     200   60d
 *  8 en   en     FR      Lyon    2025-12-31 23:30Z 1981-01-04  –                        0     0      –       –     –
 *  9 ru   ru     RU      МОСКВА  5d ago            1982-01-05  –                        0     0      –       –     –
 *
 * Cancelled: 1's 30@5d (hats), 4's 5@1d (bags), 7's 300@50d (shoes).
 */
let db: TestDb;
beforeAll(async () => {
  db = await createTestDb();
  await createShop(db, {
    customers: [
      { id: 1, email: 'a@example.com', site: 'en', locale: 'en', country: 'DE', city: 'Berlin', created_at: days(400), birthday: '1990-06-01' },
      { id: 2, email: 'b@example.com', site: 'en', locale: 'ru', country: 'DE', city: null, created_at: days(30), birthday: '1985-06-07' },
      { id: 3, email: 'c@example.com', site: 'ru', locale: 'ru', country: 'RU', city: 'Moscow', created_at: days(800), birthday: '1970-06-08' },
      { id: 4, email: 'd@example.com', site: 'ru', locale: 'ru', country: 'RU', city: 'Kazan', created_at: days(10), birthday: null },
      { id: 5, email: 'e@example.com', site: 'en', locale: 'en', country: 'de', city: 'BERLIN', created_at: days(90), birthday: '2000-02-29' },
      { id: 6, email: 'f@example.com', site: 'ru', locale: 'ru', country: null, city: 'москва', created_at: days(91), birthday: '1999-05-31' },
      { id: 7, email: 'g@example.com', site: 'en', locale: 'en', country: 'FR', city: 'Paris', created_at: '2026-01-01T00:00:00Z', birthday: '1980-12-31' },
      { id: 8, email: 'h@example.com', site: 'en', locale: 'en', country: 'FR', city: 'Lyon', created_at: '2025-12-31T23:30:00Z', birthday: '1981-01-04' },
      { id: 9, email: 'i@example.com', site: 'ru', locale: 'ru', country: 'RU', city: 'МОСКВА', created_at: days(5), birthday: '1982-01-05' },
    ],
    orders: [
      { id: 10, customer_id: 1, created_at: days(200), total: 50 },
      { id: 11, customer_id: 1, created_at: days(100), total: 70 },
      { id: 12, customer_id: 1, created_at: days(5), total: 30, status: 'cancelled' },
      { id: 13, customer_id: 3, created_at: days(20), total: 500 },
      { id: 14, customer_id: 3, created_at: days(400), total: 10 },
      { id: 15, customer_id: 3, created_at: days(300), total: 10 },
      { id: 16, customer_id: 4, created_at: days(1), total: 5, status: 'cancelled' },
      { id: 17, customer_id: 5, created_at: days(90), total: 40, status: 'paid' },
      { id: 18, customer_id: 6, created_at: days(30), total: 1000, status: 'new' },
      { id: 19, customer_id: 7, created_at: days(60), total: 200, status: 'shipped' },
      { id: 20, customer_id: 7, created_at: days(50), total: 300, status: 'cancelled' },
    ],
    products: [
      { sku: 'BOOT-42', category: 'shoes' },
      { sku: 'SNEAK-1', category: 'shoes' },
      { sku: 'BAG-1', category: 'bags' },
      { sku: 'HAT-1', category: 'hats' },
      // GHOST is sold but not in the catalogue: it matches by SKU only.
    ],
    order_items: [
      { order_id: 10, sku: 'BOOT-42' },
      { order_id: 11, sku: 'BAG-1' },
      { order_id: 12, sku: 'HAT-1' },
      { order_id: 13, sku: 'SNEAK-1' },
      { order_id: 14, sku: 'HAT-1' },
      { order_id: 16, sku: 'BAG-1' },
      { order_id: 17, sku: 'BAG-1' },
      { order_id: 18, sku: 'BOOT-42' },
      { order_id: 19, sku: 'GHOST' },
      { order_id: 20, sku: 'SNEAK-1' },
    ],
    carts: [
      { id: 100, customer_id: 8, updated_at: new Date(NOW.getTime() - 12 * 3_600_000).toISOString() },
      { id: 101, customer_id: 2, updated_at: days(10) },
      { id: 102, customer_id: 4, updated_at: days(1) }, // empty
      { id: 103, customer_id: 9, updated_at: days(3) },
    ],
    cart_items: [
      { cart_id: 100, sku: 'SNEAK-1' },
      { cart_id: 101, sku: 'HAT-1' },
      { cart_id: 103, sku: 'GHOST' },
    ],
    preorders: [
      { customer_id: 3, sku: 'BOOT-42' },
      { customer_id: 9, sku: 'HAT-1' },
    ],
  });
});
afterAll(() => db.dispose());

interface Options {
  segments?: Record<string, Segment>;
  now?: Date;
  timezone?: string;
  open?: string[];
}

function context(o: Options = {}): CompileContext {
  return {
    schema: 'shop',
    segments: new Map(Object.entries(o.segments ?? {})),
    cancelled: ['cancelled'],
    open: o.open ?? ['new', 'paid', 'shipped'],
    ...(o.timezone ? { timezone: o.timezone } : {}),
  };
}

/** Runs the compiled statement as every stage does: its sql: conditions evaluated first, confined. */
async function members(where: Condition, o: Options = {}): Promise<number[]> {
  const sql = compileSegment(where, context(o), o.now ?? NOW);
  const sandbox = { schema: 'shop', timeoutSeconds: 30 };
  const rows = await withSqlSession(db, sandbox, !!sql.sqlConditions, (s) =>
    s.transaction(async (tx) => {
      await evaluateSqlConditions(tx, sql.sqlConditions ?? [], sandbox);
      return tx.query<{ customer_id: number | string }>(`${sql.text} ORDER BY 1`, sql.values);
    }),
  );
  return rows.map((r) => Number(r.customer_id));
}

describe('customer attributes', () => {
  it('site and locale: equals, in, not_in', async () => {
    expect(await members({ site: 'en' })).toEqual([1, 2, 5, 7, 8]);
    expect(await members({ locale: { in: ['ru'] } })).toEqual([2, 3, 4, 6, 9]);
    expect(await members({ site: { not_in: ['en'] } })).toEqual([3, 4, 6, 9]);
    // Identifiers from herald.yaml are exact.
    expect(await members({ site: 'EN' })).toEqual([]);
  });

  it('city ignores case, in Latin and Cyrillic', async () => {
    expect(await members({ city: 'berlin' })).toEqual([1, 5]);
    expect(await members({ city: 'Москва' })).toEqual([6, 9]);
    expect(await members({ city: { in: ['BERLIN', 'kazan'] } })).toEqual([1, 4, 5]);
  });

  it('a NULL city equals nothing, is in no list, and is "not in" every list', async () => {
    expect(await members({ city: { in: ['Berlin', 'Moscow', 'Kazan', 'москва', 'Paris', 'Lyon'] } })).toEqual([1, 3, 4, 5, 6, 7, 8, 9]);
    expect(await members({ city: { not_in: ['Berlin', 'Moscow'] } })).toEqual([2, 4, 6, 7, 8, 9]);
    expect(await members({ not: { city: 'Berlin' } })).toEqual([2, 3, 4, 6, 7, 8, 9]);
  });

  it('country ignores case too; NULL country only in not_in', async () => {
    expect(await members({ country: 'DE' })).toEqual([1, 2, 5]);
    expect(await members({ country: { not_in: ['de', 'ru'] } })).toEqual([6, 7, 8]);
  });
});

describe('registered', () => {
  it('within / before: within includes the boundary, before excludes it', async () => {
    expect(await members({ registered: { within: '90d' } })).toEqual([2, 4, 5, 9]);
    expect(await members({ registered: { before: '90d' } })).toEqual([1, 3, 6, 7, 8]);
    expect(await members({ registered: { before: '2w', within: '60d' } })).toEqual([2]);
  });

  it('since / until as dates, in the workspace timezone (UTC by default)', async () => {
    expect(await members({ registered: { since: '2026-01-01' } })).toEqual([2, 4, 5, 6, 7, 9]);
    // until a date includes that whole day: 8 registered at 23:30 on Dec 31.
    expect(await members({ registered: { until: '2025-12-31' } })).toEqual([1, 3, 8]);
    // In Berlin, 8 registered at 00:30 on Jan 1.
    expect(await members({ registered: { since: '2026-01-01' } }, { timezone: 'Europe/Berlin' })).toEqual([2, 4, 5, 6, 7, 8, 9]);
    expect(await members({ registered: { until: '2025-12-31' } }, { timezone: 'Europe/Berlin' })).toEqual([1, 3]);
  });

  it('since / until with a time and an offset are instants', async () => {
    expect(await members({ registered: { since: '2026-01-01T00:00:00+01:00', until: '2026-01-01T00:00:00Z' } })).toEqual([7, 8]);
    expect(await members({ registered: { since: '2025-12-31T23:45:00Z', until: '2026-01-01T00:00:00Z' } })).toEqual([7]);
  });
});

describe('birthday', () => {
  it('within: today and the days after it; hours round up to whole days', async () => {
    expect(await members({ birthday: { within: '7d' } })).toEqual([1, 2]); // 06-01 … 06-07; 3 (06-08) and 6 (yesterday) are out
    expect(await members({ birthday: { within: '1d' } })).toEqual([1]);
    expect(await members({ birthday: { within: '25h' } })).toEqual([1]);
    expect(await members({ birthday: { within: '1w' } })).toEqual([1, 2]);
  });

  it('within wraps over New Year', async () => {
    const now = new Date('2026-12-29T10:00:00Z');
    expect(await members({ birthday: { within: '7d' } }, { now })).toEqual([7, 8]); // 12-29 … 01-04; 9 (01-05) is out
  });

  it('Feb 29 birthdays fall on Feb 28 in other years', async () => {
    expect(await members({ birthday: { within: '7d' } }, { now: new Date('2027-02-25T00:00:00Z') })).toEqual([5]);
    expect(await members({ birthday: { within: '7d' } }, { now: new Date('2027-03-01T00:00:00Z') })).toEqual([]);
    expect(await members({ birthday: { within: '1d' } }, { now: new Date('2027-02-28T00:00:00Z') })).toEqual([5]);
    expect(await members({ birthday: { within: '1d' } }, { now: new Date('2028-02-28T00:00:00Z') })).toEqual([]);
    expect(await members({ birthday: { within: '1d' } }, { now: new Date('2028-02-29T00:00:00Z') })).toEqual([5]);
  });

  it('"today" is the date at now in the workspace timezone', async () => {
    const now = new Date('2026-05-31T13:00:00Z'); // June 1, 01:00 in Auckland
    expect(await members({ birthday: { within: '1d' } }, { now })).toEqual([6]);
    expect(await members({ birthday: { within: '1d' } }, { now, timezone: 'Pacific/Auckland' })).toEqual([1]);
  });

  it('since / until are days in the year, wrapping over New Year', async () => {
    expect(await members({ birthday: { since: '2026-05-31', until: '2026-06-07' } })).toEqual([1, 2, 6]);
    expect(await members({ birthday: { since: '2026-12-30', until: '2027-01-04' } })).toEqual([7, 8]);
    expect(await members({ birthday: { since: '2000-12-01' } })).toEqual([7]);
    expect(await members({ birthday: { until: '2000-01-05' } })).toEqual([8, 9]);
  });

  it('before is refused; no birthday matches nothing', async () => {
    expect(() => compileSegment({ birthday: { before: '7d' } }, context(), NOW)).toThrow(UserError);
    expect(await members({ birthday: { since: '2000-01-01', until: '2000-12-31' } })).toEqual([1, 2, 3, 5, 6, 7, 8, 9]);
  });

  it('upcomingBirthdays lists the month-days', () => {
    expect(upcomingBirthdays(new Date('2026-12-30T12:00:00Z'), 'UTC', '3d')).toEqual(['12-30', '12-31', '01-01']);
    expect(upcomingBirthdays(new Date('2027-02-28T12:00:00Z'), 'UTC', '2d')).toEqual(['02-28', '02-29', '03-01']);
    expect(upcomingBirthdays(new Date('2028-02-28T12:00:00Z'), 'UTC', '2d')).toEqual(['02-28', '02-29']);
    expect(upcomingBirthdays(NOW, 'UTC', '0d')).toEqual([]);
    expect(upcomingBirthdays(NOW, 'UTC', '1000d')).toHaveLength(366);
    expect(() => upcomingBirthdays(NOW, 'Mars/Olympus', '1d')).toThrow(UserError);
  });
});

describe('order aggregates', () => {
  it('order_count counts orders that are not cancelled; no orders is 0', async () => {
    expect(await members({ order_count: { gte: 2 } })).toEqual([1, 3]);
    expect(await members({ order_count: { gte: 3 } })).toEqual([3]);
    // 4's only order and 7's second are cancelled.
    expect(await members({ order_count: { eq: 1 } })).toEqual([5, 6, 7]);
    expect(await members({ order_count: { eq: 0 } })).toEqual([2, 4, 8, 9]);
    expect(await members({ order_count: { lt: 1 } })).toEqual([2, 4, 8, 9]);
  });

  it('order_count respects the window, boundary included', async () => {
    expect(await members({ order_count: { gte: 2, within: '365d' } })).toEqual([1, 3]);
    expect(await members({ order_count: { gte: 3, within: '365d' } })).toEqual([]);
    expect(await members({ order_count: { eq: 1, within: '90d' } })).toEqual([3, 5, 6, 7]);
    expect(await members({ order_count: { gte: 1, within: '89d' } })).toEqual([3, 6, 7]);
    expect(await members({ order_count: { eq: 0, within: '90d' } })).toEqual([1, 2, 4, 8, 9]);
  });

  it('total_spent: no orders is 0', async () => {
    expect(await members({ total_spent: { gt: 100 } })).toEqual([1, 3, 6, 7]);
    expect(await members({ total_spent: { eq: 0 } })).toEqual([2, 4, 8, 9]);
    expect(await members({ total_spent: { lt: 100, within: '365d' } })).toEqual([2, 4, 5, 8, 9]);
    expect(await members({ total_spent: { gte: 120, lte: 520 } })).toEqual([1, 3, 7]);
  });

  it('avg_order_value: customers without orders have none, so no comparison matches them', async () => {
    expect(await members({ avg_order_value: { lt: 1000 } })).toEqual([1, 3, 5, 7]);
    expect(await members({ not: { avg_order_value: { lt: 1000 } } })).toEqual([2, 4, 6, 8, 9]);
    expect(await members({ avg_order_value: { gte: 100, lte: 1000 } })).toEqual([3, 6, 7]);
    expect(await members({ avg_order_value: { gt: 200, within: '365d' } })).toEqual([3, 6]);
  });

  it('max_order_value: the same, over the largest order', async () => {
    expect(await members({ max_order_value: { gte: 500 } })).toEqual([3, 6]);
    expect(await members({ max_order_value: { lt: 100 } })).toEqual([1, 5]);
    expect(await members({ max_order_value: { gte: 500, within: '30d' } })).toEqual([3, 6]);
    expect(await members({ max_order_value: { gte: 500, within: '29d' } })).toEqual([3]);
  });
});

describe('last_order', () => {
  it('within: an order in the window, boundary included', async () => {
    expect(await members({ last_order: { within: '30d' } })).toEqual([3, 6]);
    expect(await members({ last_order: { within: '29d' } })).toEqual([3]);
  });

  it('before: has ordered, but not since; never-ordered customers are out', async () => {
    expect(await members({ last_order: { before: '90d' } })).toEqual([1]);
    expect(await members({ last_order: { before: '89d' } })).toEqual([1, 5]);
    expect(await members({ last_order: { within: '120d', before: '60d' } })).toEqual([1, 5]);
  });

  it('exists', async () => {
    expect(await members({ last_order: { exists: false } })).toEqual([2, 4, 8, 9]);
    expect(await members({ last_order: { exists: true } })).toEqual([1, 3, 5, 6, 7]);
  });
});

describe('items', () => {
  it('purchased: by SKU or category, in orders that are not cancelled', async () => {
    expect(await members({ purchased: { skus: ['BOOT-42'] } })).toEqual([1, 6]);
    // 1's hat was in a cancelled order.
    expect(await members({ purchased: { categories: ['hats'] } })).toEqual([3]);
    // GHOST is not in the catalogue; bags: 4's was cancelled.
    expect(await members({ purchased: { skus: ['GHOST'], categories: ['bags'] } })).toEqual([1, 5, 7]);
  });

  it('purchased respects the window', async () => {
    expect(await members({ purchased: { categories: ['hats'], within: '365d' } })).toEqual([]);
    expect(await members({ purchased: { categories: ['shoes'], within: '30d' } })).toEqual([3, 6]);
    expect(await members({ purchased: { within: '90d' } })).toEqual([3, 5, 6, 7]);
  });

  it('open_order: orders in an open status', async () => {
    expect(await members({ open_order: { categories: ['bags'] } })).toEqual([5]);
    expect(await members({ open_order: { skus: ['BOOT-42', 'GHOST'] } })).toEqual([6, 7]);
    // 7's shoes were cancelled; 1's and 3's were delivered.
    expect(await members({ open_order: { categories: ['shoes'] } })).toEqual([6]);
    expect(await members({ open_order: { within: '45d' } })).toEqual([6]);
    // The open statuses come from the context.
    expect(await members({ open_order: { skus: ['BOOT-42', 'GHOST'] } }, { open: ['new'] })).toEqual([6]);
  });

  it('in_cart: a cart holding the item; an empty cart holds nothing', async () => {
    expect(await members({ in_cart: { categories: ['shoes'] } })).toEqual([8]);
    expect(await members({ in_cart: { skus: ['HAT-1', 'GHOST'] } })).toEqual([2, 9]);
    expect(await members({ in_cart: { categories: ['hats'], within: '7d' } })).toEqual([]);
    expect(await members({ in_cart: { skus: ['GHOST', 'SNEAK-1'], within: '3d' } })).toEqual([8, 9]);
    expect(await members({ in_cart: { within: '2d' } })).toEqual([8]);
  });
});

describe('composition', () => {
  const segments: Record<string, Segment> = {
    russians: { where: { site: 'ru' } },
    big: { where: { all: [{ segment: 'russians' }, { total_spent: { gte: 500 } }] } },
  };

  it('all, any, not and segment references in one statement', async () => {
    expect(await members({ all: [{ segment: 'russians' }, { order_count: { gte: 1 } }] }, { segments })).toEqual([3, 6]);
    expect(await members({ segment: 'big' }, { segments })).toEqual([3, 6]);
    expect(await members({ not: { segment: 'big' } }, { segments })).toEqual([1, 2, 4, 5, 7, 8, 9]);
    expect(await members({ any: [{ city: 'Berlin' }, { city: 'Kazan' }] })).toEqual([1, 4, 5]);
    expect(await members({ not: { not: { city: 'Berlin' } } })).toEqual([1, 5]);
    const sql = compileSegment({ segment: 'big' }, context({ segments }), NOW);
    expect(sql.text.match(/SELECT c\.id/g)).toHaveLength(1);
  });

  it('refuses a segment that refers to itself, and an unknown one', () => {
    const loop: Record<string, Segment> = { a: { where: { segment: 'b' } }, b: { where: { any: [{ site: 'en' }, { segment: 'a' }] } } };
    expect(() => compileSegment({ segment: 'a' }, context({ segments: loop }), NOW)).toThrow(/segment a → b → a refers to itself/);
    expect(() => compileSegment({ segment: 'nope' }, context(), NOW)).toThrow(UserError);
  });

  it('sql: the customers the user SELECT returns, evaluated before the statement and never part of it', async () => {
    const sql = compileSegment({ all: [{ site: 'en' }, { segment: 'waiting' }] }, context({ segments: { waiting: { where: { sql: "SELECT customer_id FROM shop.preorders WHERE sku = 'BOOT-42'" } } } }), NOW);
    expect(sql.text).not.toContain('preorders');
    expect(sql.sqlConditions).toEqual([{ key: expect.stringMatching(/^[0-9a-f]{32}$/), text: "SELECT customer_id FROM shop.preorders WHERE sku = 'BOOT-42'", origin: 'segment/waiting' }]);
    expect(sql.text).toContain(`pg_temp.herald_sql_results r WHERE r.condition = '${sql.sqlConditions![0]!.key}'`);
    expect(await members({ sql: "SELECT customer_id FROM shop.preorders WHERE sku = 'BOOT-42'" })).toEqual([3]);
    expect(await members({ sql: 'SELECT customer_id FROM shop.preorders;\n' })).toEqual([3, 9]);
    expect(await members({ sql: 'SELECT customer_id FROM shop.preorders -- everyone waiting' })).toEqual([3, 9]);
    expect(await members({ all: [{ site: 'en' }, { sql: 'SELECT customer_id FROM shop.preorders' }] })).toEqual([]);
    // A NULL customer_id makes IN unknown for everyone else; not still means "everyone else".
    expect(await members({ not: { sql: 'SELECT NULL::bigint AS customer_id UNION ALL SELECT 3' } })).toEqual([1, 2, 4, 5, 6, 7, 8, 9]);
  });

  it('list: members of an imported list who are shop customers, as one parameterised subquery', () => {
    const sql = compileSegment({ list: 'vip' }, context(), NOW);
    expect(sql.text).toContain('herald.list_members m WHERE m.list = $1 AND m.customer_id IS NOT NULL');
    expect(sql.values).toEqual(['vip']);
  });

  it('passes every value as a parameter, each shared value once', () => {
    const evil = "O'Brien'; DROP TABLE shop.customers; --";
    const sql = compileSegment(
      { all: [{ city: evil }, { purchased: { skus: ['BOOT-42'], within: '30d' } }, { order_count: { gte: 1, within: '30d' } }] },
      context(),
      NOW,
    );
    expect(sql.text).not.toContain('DROP');
    expect(sql.text).not.toContain('BOOT-42');
    expect(sql.values).toContain(evil);
    // The 30-day cutoff and the cancelled statuses are one parameter each.
    expect(sql.values.filter((v) => v === days(30))).toHaveLength(1);
    expect(sql.values.filter((v) => Array.isArray(v) && v[0] === 'cancelled')).toHaveLength(1);
  });

  it('continues the numbering of an enclosing query', () => {
    const sql = compileSegment({ site: 'en' }, context(), NOW, ['outer']);
    expect(sql.text).toContain('$2');
    expect(sql.values).toEqual(['outer', 'en']);
  });
});

/*
 * Algebra, on conditions fast-check builds from a leaf of every kind of
 * predicate (a NULL city and a NULL customer_id from sql: among them).
 */
describe('algebra', () => {
  const leaves: Condition[] = [
    { site: 'en' },
    { city: { not_in: ['Berlin'] } },
    { city: 'berlin' },
    { country: { in: ['de'] } },
    { registered: { within: '90d' } },
    { birthday: { within: '7d' } },
    { order_count: { eq: 0 } },
    { total_spent: { gt: 100, within: '365d' } },
    { avg_order_value: { lt: 1000 } },
    { max_order_value: { gte: 500 } },
    { last_order: { before: '90d' } },
    { purchased: { categories: ['shoes'] } },
    { open_order: { skus: ['BAG-1'] } },
    { in_cart: { within: '2d' } },
    { sql: 'SELECT NULL::bigint AS customer_id UNION ALL SELECT 3' },
  ];
  const { condition } = fc.letrec<{ condition: Condition }>((tie) => ({
    condition: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.constantFrom(...leaves),
      fc.record({ not: tie('condition') }),
      fc.record({ all: fc.tuple(tie('condition'), tie('condition')) }),
      fc.record({ any: fc.tuple(tie('condition'), tie('condition')) }),
    ),
  }));
  const RUNS = { numRuns: 40 };

  it('any[X, not X] is everyone; all[X, not X] is no one', async () => {
    await fc.assert(
      fc.asyncProperty(condition, async (x) => {
        expect(await members({ any: [x, { not: x }] })).toEqual(EVERYONE);
        expect(await members({ all: [x, { not: x }] })).toEqual([]);
      }),
      RUNS,
    );
  });

  it('order and nesting do not change results', async () => {
    await fc.assert(
      fc.asyncProperty(condition, condition, condition, async (a, b, c) => {
        const both = await members({ all: [a, b, c] });
        expect(await members({ all: [c, a, b] })).toEqual(both);
        expect(await members({ all: [a, { all: [b, c] }] })).toEqual(both);
        const either = await members({ any: [a, b, c] });
        expect(await members({ any: [{ any: [c, b] }, a] })).toEqual(either);
        // De Morgan.
        expect(await members({ not: { any: [a, b] } })).toEqual(await members({ all: [{ not: a }, { not: b }] }));
      }),
      RUNS,
    );
  });
});

/*
 * Aggregates share one per-customer summary of the counted orders, each
 * window a FILTER of it; "at least one" and "none" are plain existence.
 */
describe('the order summary', () => {
  it('combines aggregates with and without windows, in one grouped pass', async () => {
    const both: Condition = { all: [{ order_count: { gte: 2, within: '365d' } }, { avg_order_value: { gte: 100 } }] };
    expect(await members(both)).toEqual([3]);
    expect(await members({ all: [{ order_count: { eq: 1, within: '90d' } }, { total_spent: { gte: 500, within: '365d' } }] })).toEqual([3, 6]);
    expect(await members({ all: [{ max_order_value: { gte: 500, within: '29d' } }, { total_spent: { lt: 600 } }] })).toEqual([3]);
    const sql = compileSegment({ all: [both, { last_order: { before: '90d' } }, { total_spent: { gt: 1 } }] }, context(), NOW);
    expect(sql.text.match(/GROUP BY/g)).toHaveLength(1);
  });

  it('keeps customers without orders right under any and not', async () => {
    expect(await members({ any: [{ total_spent: { eq: 0 } }, { avg_order_value: { gte: 1000 } }] })).toEqual([2, 4, 6, 8, 9]);
    expect(await members({ not: { last_order: { before: '90d' } } })).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
    expect(await members({ not: { total_spent: { gt: 100 } } })).toEqual([2, 4, 5, 8, 9]);
    expect(await members({ not: { order_count: { lt: 3, within: '365d' } } })).toEqual([]);
  });

  it('answers "at least one" and "none" without aggregating', async () => {
    expect(await members({ order_count: { gte: 1 } })).toEqual([1, 3, 5, 6, 7]);
    expect(await members({ order_count: { gt: 0, within: '30d' } })).toEqual([3, 6]);
    expect(await members({ order_count: { lte: 0 } })).toEqual([2, 4, 8, 9]);
    for (const where of [{ order_count: { gte: 1 } }, { order_count: { eq: 0 } }, { last_order: { exists: false } }]) {
      expect(compileSegment(where, context(), NOW).text).not.toContain('GROUP BY');
    }
  });
});
