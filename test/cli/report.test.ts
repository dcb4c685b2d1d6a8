import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
 * `herald report` for campaigns and triggers through the built CLI (dist/:
 * `npm run build` first), on the example workspace with a trigger named
 * like its campaign, winback.
 */
const cleanup = useCleanups();

const SHOP: TestShop = {
  customers: [{ id: 1, email: 'anna@example.com' }],
  products: ['OW-001', 'SH-001', 'BG-001', 'AC-002'].map((sku) => ({ sku, category: 'demo' })),
};

/** A database with the shop, for the CLI (--db) and for writing ledger rows in between. */
async function shopDatabase(): Promise<{ spec: string; use<T>(fn: (db: Db) => Promise<T>): Promise<T> }> {
  if (process.env.HERALD_TEST_DATABASE_URL) {
    const db = await createTestDb();
    cleanup(() => db.dispose());
    await createShop(db, SHOP);
    return { spec: db.url!, use: (fn) => fn(db) };
  }
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
  ws.write('triggers/winback.yaml', 'description: A second birthday greeting.\nevent: birthday\ntemplate: birthday\nonce: per_year\n');
  const db = await shopDatabase();
  const args = ['--dir', ws.dir, '--db', db.spec];
  const apply = await herald(['apply', '--auto-approve', ...args]);
  expect(apply.code, apply.stderr).toBe(0);
  // What the abandoned-cart trigger did: one sent, one ordered before the claim, one put off by quiet hours then sent.
  await db.use((d) =>
    d.query(
      `INSERT INTO herald.messages (source_kind, source, customer_id, address, site, locale, occurrence, status, reason, worker, deferrals, deferred_reason, due_at, sent_at)
       VALUES ('trigger', 'abandoned-cart', 1, 'anna@example.com', 'shop-en', 'en', 'cart:1@1', 'sent', NULL, 'w', 0, NULL, '2026-11-20T10:00:00Z', '2026-11-20T10:01:00Z'),
              ('trigger', 'abandoned-cart', 1, 'anna@example.com', 'shop-en', 'en', 'cart:1@2', 'exited', 'ordered', 'w', 0, NULL, '2026-11-20T15:00:00Z', NULL),
              ('trigger', 'abandoned-cart', 1, 'anna@example.com', 'shop-en', 'en', 'cart:1@3', 'sent', NULL, 'w', 1, 'quiet hours', '2026-11-21T22:00:00Z', '2026-11-22T07:00:00Z')`,
    ),
  );
  return { ws, args };
}

describe('herald report', () => {
  it("prints a trigger's report and writes it under reports/triggers/", async () => {
    const { ws, args } = await setup();
    const text = await herald(['report', 'abandoned-cart', ...args]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain('abandoned-cart (trigger): active, not yet swept as active');
    expect(text.stdout).toContain('  occurrences 3\n  sent        2\n  exited      1\n  deferred    1\n  pending     0');
    expect(text.stdout).toContain('    2026-11-20            2     1       0       1         0           0       0        0');
    expect(text.stdout).toMatch(/ {4}deferred {3}quiet hours {2}1\n {4}exited {5}ordered {6}1/);
    expect(text.stdout).toContain(
      'Wrote reports/triggers/abandoned-cart.json, reports/triggers/abandoned-cart.md, reports/triggers/abandoned-cart.activity.svg and reports/triggers/abandoned-cart.orders.svg.',
    );

    const json = await herald(['report', 'abandoned-cart', '--json', ...args]);
    expect(json.code, json.stderr).toBe(0);
    const r = JSON.parse(json.stdout);
    expect(r).toMatchObject({ kind: 'trigger', name: 'abandoned-cart', status: 'active', totals: { occurrences: 3, sent: 2, exited: 1, deferred: 1 } });
    expect(r.days.map((d: { day: string }) => d.day)).toEqual(['2026-11-20', '2026-11-21']);
    expect(JSON.parse(readFileSync(join(ws.dir, 'reports', 'triggers', 'abandoned-cart.json'), 'utf8'))).toEqual(r);
    expect(readFileSync(join(ws.dir, 'reports', 'triggers', 'abandoned-cart.md'), 'utf8')).toContain('| 2026-11-21 | 1 | 1 | 0 | 0 | 1 | 0 | 0 | 0 |');
    expect(existsSync(join(ws.dir, 'reports', 'abandoned-cart.json'))).toBe(false);
  });

  it('asks which when a name is both a campaign and a trigger, and keeps their reports apart', async () => {
    const { ws, args } = await setup();
    const both = await herald(['report', 'winback', ...args]);
    expect(both.code).toBe(1);
    expect(both.stderr).toContain('herald: "winback" is both a campaign and a trigger\n  hint: say which: herald report campaign/winback or herald report trigger/winback');
    expect(both.stdout).toBe('');

    const trigger = await herald(['report', 'trigger/winback', '--json', ...args]);
    expect(trigger.code, trigger.stderr).toBe(0);
    expect(JSON.parse(trigger.stdout)).toMatchObject({ kind: 'trigger', name: 'winback', description: 'A second birthday greeting.', status: 'paused' });
    const campaign = await herald(['report', 'campaign/winback', '--json', ...args]);
    expect(campaign.code, campaign.stderr).toBe(0);
    expect(JSON.parse(campaign.stdout)).toMatchObject({ campaign: 'winback', status: 'not started', capped: 0, deferred: 0, reasons: [] });
    expect(JSON.parse(readFileSync(join(ws.dir, 'reports', 'triggers', 'winback.json'), 'utf8'))).toMatchObject({ kind: 'trigger' });
    expect(JSON.parse(readFileSync(join(ws.dir, 'reports', 'winback.json'), 'utf8'))).toMatchObject({ campaign: 'winback' });

    const unknown = await herald(['report', 'nope', ...args]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('herald: no campaign or trigger "nope" is deployed or has messages');
  });

  it('--all writes every report and the overview of all mailings, newest first, the same bytes twice', async () => {
    const { ws, args } = await setup();
    const all = await herald(['report', '--all', ...args]);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toContain('1 mailing: 2 sent, 2 delivered, 0 opened and 0 clicked by people, 0 orders worth 0.00.');
    const index = JSON.parse(readFileSync(join(ws.dir, 'reports', 'index.json'), 'utf8'));
    // The trigger that sent comes first; the rest (never sent) after it, by kind and name.
    expect(index.rows[0]).toMatchObject({ kind: 'trigger', name: 'abandoned-cart', sent: 2, first_sent: '2026-11-20T10:01:00.000Z', last_sent: '2026-11-22T07:00:00.000Z' });
    expect(index.rows[0].subject).toEqual(expect.any(String));
    expect(index.rows.map((r: { kind: string; name: string }) => `${r.kind}/${r.name}`)).toContain('campaign/winback');
    expect(index.totals).toMatchObject({ mailings: 1, sent: 2, orders: 0, order_value: {} });
    const md = readFileSync(join(ws.dir, 'reports', 'index.md'), 'utf8');
    expect(md).toContain('| trigger | [abandoned-cart](triggers/abandoned-cart.md) |');
    expect(md).toContain('| 2026-11-20 – 2026-11-22 | 2 | 2 | 2 | 0 (0.0%) | 0 (0.0%) | 0 | 0.00 | – |');
    // Each source's own report is written too.
    expect(existsSync(join(ws.dir, 'reports', 'triggers', 'abandoned-cart.md'))).toBe(true);
    expect(existsSync(join(ws.dir, 'reports', 'winback.md'))).toBe(true);
    // Nothing in it depends on when it was written.
    expect((await herald(['report', '--all', ...args])).code).toBe(0);
    expect(readFileSync(join(ws.dir, 'reports', 'index.md'), 'utf8')).toBe(md);

    const neither = await herald(['report', ...args]);
    expect(neither.code).toBe(1);
    expect(neither.stderr).toContain('herald: herald report needs a campaign or trigger, or --all');
  });

  it('says which path is in the way when reports, or reports/triggers, is a file, and leaves it', async () => {
    const { ws, args } = await setup();
    writeFileSync(join(ws.dir, 'reports'), 'a file of notes');
    for (const cmd of [['report', '--all'], ['report', 'campaign/winback'], ['report', 'abandoned-cart']]) {
      const r = await herald([...cmd, ...args]);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toContain(`herald: cannot write the reports: ${join(ws.dir, 'reports')} is a file, not a folder`);
      expect(r.stderr).toContain('hint: move or remove it');
      expect(r.stderr).not.toMatch(/internal error|EEXIST|\n\s+at /);
    }
    expect(readFileSync(join(ws.dir, 'reports'), 'utf8')).toBe('a file of notes');
    rmSync(join(ws.dir, 'reports'));
    mkdirSync(join(ws.dir, 'reports'));
    writeFileSync(join(ws.dir, 'reports', 'triggers'), '');
    const r = await herald(['report', 'abandoned-cart', ...args]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`herald: cannot write the reports: ${join(ws.dir, 'reports', 'triggers')} is a file, not a folder`);
  });
});
