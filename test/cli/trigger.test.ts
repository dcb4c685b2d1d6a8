import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDb, type Db } from '../../src/db/db.js';
import { migrate } from '../../src/db/migrate.js';
import { herald } from '../support/cli.js';
import { createTestDb } from '../support/db.js';
import { createShop, type TestShop } from '../support/shop.js';
import { exampleWorkspace } from '../support/workspace.js';
import { useCleanups } from '../support/cleanup.js';

/**
 * `herald trigger backtest` through the built CLI (dist/: `npm run build`
 * first), on the example workspace's triggers: abandoned-cart (4h, once a
 * week, quiet hours 22:00–08:00 of its own) and birthday (three days ahead),
 * both in Europe/Berlin.
 */
const cleanup = useCleanups();

const SHOP: TestShop = {
  customers: [
    { id: 1, email: 'anna@example.com', first_name: 'Anna' },
    { id: 2, email: 'bob@example.com', first_name: 'Bob', birthday: '1990-11-06' },
    { id: 3, email: 'carl@example.com', first_name: 'Carl' },
  ],
  products: ['OW-001', 'SH-001', 'BG-001', 'AC-002'].map((sku) => ({ sku, category: 'demo' })),
  carts: [
    { id: 10, customer_id: 1, updated_at: '2026-11-02T10:00:00Z' }, // due 14:00 UTC, 15:00 in Berlin
    { id: 11, customer_id: 3, updated_at: '2026-11-04T19:30:00Z' }, // due 23:30: the midnight tick is 01:00 in Berlin
  ],
  cart_items: [
    { cart_id: 10, sku: 'SH-001' },
    { cart_id: 11, sku: 'SH-001' },
  ],
};

/** A database with the shop, for the CLI (--db) and for counting what is in it. */
async function shopDatabase(): Promise<{ spec: string; use<T>(fn: (db: Db) => Promise<T>): Promise<T> }> {
  if (process.env.HERALD_TEST_DATABASE_URL) {
    const db = await createTestDb();
    cleanup(() => db.dispose());
    await createShop(db, SHOP);
    return { spec: db.url!, use: (fn) => fn(db) };
  }
  // Embedded: one process at a time, so opened only between CLI runs.
  const dir = mkdtempSync(join(tmpdir(), 'herald-pglite-'));
  cleanup(() => rmSync(dir, { recursive: true, force: true }));
  const use = async <T>(fn: (db: Db) => Promise<T>): Promise<T> => {
    const db = await openDb(dir);
    try {
      return await fn(db);
    } finally {
      await db.close();
    }
  };
  await use(async (db) => {
    await migrate(db);
    await createShop(db, SHOP);
  });
  return { spec: dir, use };
}

async function setup() {
  const ws = exampleWorkspace();
  cleanup(ws.remove);
  const db = await shopDatabase();
  return { db, args: ['--dir', ws.dir, '--db', db.spec] };
}

const counts = (db: Db) =>
  db.query<{ messages: number; runs: number; stock: number }>(
    'SELECT (SELECT count(*) FROM herald.messages)::int AS messages, (SELECT count(*) FROM herald.runs)::int AS runs, (SELECT count(*) FROM herald.stock_seen)::int AS stock',
  );

const WEEK = ['--from', '2026-11-01', '--to', '2026-11-08'];

describe('herald trigger backtest', () => {
  it('prints per day what a cart trigger would have done, as JSON and as text, and writes nothing', async () => {
    const { db, args } = await setup();
    const before = await db.use(counts);

    const json = await herald(['trigger', 'backtest', 'abandoned-cart', ...WEEK, '--json', ...args]);
    expect(json.code, json.stderr).toBe(0);
    const b = JSON.parse(json.stdout);
    expect(b).toMatchObject({ trigger: 'abandoned-cart', from: '2026-11-01T00:00:00.000Z', to: '2026-11-08T00:00:00.000Z', every: '1h', horizon: '2026-11-01T00:00:00.000Z' });
    expect(b.days).toHaveLength(8);
    expect(b.days[1]).toEqual({ day: '2026-11-02', occurrences: 1, fired: 1, capped: 0, deferred: 0, left_out: 0, skipped_by_horizon: 0, skipped_by_once: 0 });
    expect(b.days[4]).toEqual({ day: '2026-11-05', occurrences: 1, fired: 1, capped: 0, deferred: 1, left_out: 0, skipped_by_horizon: 0, skipped_by_once: 0 });
    expect(b.totals).toEqual({ occurrences: 2, fired: 2, capped: 0, deferred: 1, left_out: 0, skipped_by_horizon: 0, skipped_by_once: 0 });
    expect(b.cannot_rebuild).toEqual(expect.arrayContaining([expect.stringMatching(/^past cart contents and which carts existed then/)]));
    expect(b.approximations).toEqual(expect.arrayContaining([expect.stringMatching(/^quiet hours \(22:00–08:00/)]));

    const text = await herald(['trigger', 'backtest', 'abandoned-cart', ...WEEK, ...args]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain('Backtest of trigger abandoned-cart from 2026-11-01T00:00:00.000Z to 2026-11-08T00:00:00.000Z, a tick every 1h: nothing was written.');
    expect(text.stdout).toContain('  day         occurrences  fired  capped  deferred  left_out  skipped_by_horizon  skipped_by_once');
    expect(text.stdout).toContain('  2026-11-05            1      1       0         1         0                   0                0');
    expect(text.stdout).toContain('  total                 2      2       0         1         0                   0                0');
    expect(text.stdout).toContain('What it cannot rebuild:\n  - ');

    expect(await db.use(counts)).toEqual(before);
  });

  it('ticks at --every: a birthday due at 23:00 UTC waits for the next midnight with a daily tick', async () => {
    const { args } = await setup();
    const hourly = JSON.parse((await herald(['trigger', 'backtest', 'birthday', ...WEEK, '--json', ...args])).stdout);
    expect(hourly.days.filter((d: { fired: number }) => d.fired).map((d: { day: string }) => d.day)).toEqual(['2026-11-02']);
    const daily = await herald(['trigger', 'backtest', 'birthday', ...WEEK, '--every', '24h', '--json', ...args]);
    expect(daily.code, daily.stderr).toBe(0);
    const b = JSON.parse(daily.stdout);
    expect(b.every).toBe('24h');
    expect(b.days.filter((d: { fired: number }) => d.fired).map((d: { day: string }) => d.day)).toEqual(['2026-11-03']);
  });

  it('refuses bad dates, a bad interval, an unknown trigger and an sql trigger with a message, never a stack trace', async () => {
    const { args } = await setup();
    const cases: [string[], string, string][] = [
      [['abandoned-cart', '--from', 'yesterday', '--to', '2026-11-08'], 'herald: --from "yesterday" is not an ISO date or time', 'hint: write it as 2026-11-20'],
      [['abandoned-cart', '--from', '2026-11-01', '--to', '2026-02-30'], 'herald: --to "2026-02-30" is not an ISO date or time', 'hint: write it as'],
      [['abandoned-cart', '--from', '2026-11-08', '--to', '2026-11-01'], 'herald: --from 2026-11-08 is not before --to 2026-11-01', 'hint: give the start of the replay first'],
      [['abandoned-cart', ...WEEK, '--every', '1d'], 'herald: --every "1d" is not a duration', 'hint: write it as 90s, 8m or 1h'],
      [['abandonned-cart', ...WEEK], 'herald: trigger "abandonned-cart" is not in the workspace', 'hint: check triggers/abandonned-cart.yaml'],
      [['review-request', ...WEEK], 'herald: trigger "review-request" has event: sql, whose query reads the shop as it is now', 'hint: run its query by hand'],
    ];
    for (const [argv, message, hint] of cases) {
      const r = await herald(['trigger', 'backtest', ...argv, ...args]);
      expect(r.code, argv.join(' ')).toBe(1);
      expect(r.stderr).toContain(message);
      expect(r.stderr).toContain(hint);
      expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
      expect(r.stdout).toBe('');
    }
  });
});
