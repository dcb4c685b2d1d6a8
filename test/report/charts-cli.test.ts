import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { openDb, type Db } from '../../src/db/db.js';
import { migrate } from '../../src/db/migrate.js';
import { herald } from '../support/cli.js';
import { createTestDb } from '../support/db.js';
import { createShop } from '../support/shop.js';
import { useCleanups } from '../support/cleanup.js';
import { addEvents, addMessages, deploy, project } from '../support/attribution.js';

/**
 * The report charts as `herald report` writes them, through the built CLI
 * (dist/: `npm run build` first): the same bytes under any TZ, the same
 * bytes when written again, and gone when the report has none.
 */
const cleanup = useCleanups();
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);
const HOSTILE = `<script>alert("x")</script> & 'Spring' ]]>`;

/** A database for the CLI (--db): a server database, or a PGlite folder opened only between CLI runs. */
async function database(): Promise<{ spec: string; use<T>(fn: (db: Db) => Promise<T>): Promise<T> }> {
  if (process.env.HERALD_TEST_DATABASE_URL) {
    const db = await createTestDb();
    cleanup(() => db.dispose());
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
  await use(migrate);
  return { spec: dir, use };
}

/** A campaign with a control group and a hostile title, and a trigger, each with sends, opens, clicks and orders around midnight UTC. */
async function fill(db: Db): Promise<void> {
  await createShop(db, {
    customers: [...range(1, 8), ...range(101, 104)].map((id) => ({ id, email: `c${id}@example.com` })),
    orders: [
      { id: 1, customer_id: 1, created_at: '2026-03-02T23:40:00Z' },
      { id: 2, customer_id: 2, created_at: '2026-03-03T00:20:00Z' },
      { id: 3, customer_id: 101, created_at: '2026-03-04T11:00:00Z' },
      { id: 4, customer_id: 7, created_at: '2026-03-05T23:59:00Z' },
    ],
  });
  await deploy(
    db,
    { kind: 'project', name: 'herald', spec: project() },
    { kind: 'campaign', name: 'spring', spec: { title: HOSTILE, status: 'ready' } },
    { kind: 'trigger', name: 'cart', spec: { description: 'Carts left behind', status: 'active', template: 't' } },
  );
  const sent = await addMessages(db, range(1, 6).map((c) => ({ source: 'spring', customer_id: c, created_at: `2026-03-02T2${c % 4}:30:00Z` })));
  await addMessages(db, range(101, 104).map((c) => ({ source: 'spring', customer_id: c, status: 'control', created_at: '2026-03-02T20:00:00Z' })));
  const cart = await addMessages(db, [
    { source: 'cart', source_kind: 'trigger', customer_id: 7, created_at: '2026-03-01T23:30:00Z', occurrence: 'a' },
    { source: 'cart', source_kind: 'trigger', customer_id: 8, created_at: '2026-03-05T00:30:00Z', occurrence: 'b' },
  ]);
  await addEvents(db, [
    ...sent.slice(0, 4).map((id, i) => ({ message_id: id, kind: 'open' as const, at: `2026-03-0${3 + i}T00:1${i}:00Z` })),
    { message_id: sent[0]!, kind: 'click', at: '2026-03-02T23:35:00Z' },
    { message_id: sent[4]!, kind: 'open', class: 'mpp', at: '2026-03-02T23:00:00Z' },
    { message_id: cart[0]!, kind: 'click', at: '2026-03-05T23:50:00Z' },
    { message_id: cart[0]!, kind: 'order', order_id: '4', value: 100, at: '2026-03-05T23:59:00Z' },
  ]);
}

/** Every file under reports/, by its path there, with its bytes. */
function reports(dir: string): Map<string, Buffer> {
  const root = join(dir, 'reports');
  const files = readdirSync(root, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
  return new Map(files.map((e) => [relative(root, join(e.parentPath, e.name)), readFileSync(join(e.parentPath, e.name))]));
}

function workspace(): string {
  const dir = mkdtempSync(join(tmpdir(), 'herald-charts-'));
  cleanup(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe('herald report charts', () => {
  it('writes the same chart bytes under any time zone, and again when nothing changed', async () => {
    const db = await database();
    await db.use(fill);
    const run = async (dir: string, TZ: string, ...args: string[]) => {
      const r = await herald(['report', ...args, '--dir', dir, '--db', db.spec], { TZ });
      expect(r.code, r.stderr).toBe(0);
      return r;
    };

    const utc = workspace();
    await run(utc, 'UTC', '--all');
    const first = reports(utc);
    const charts = [...first.keys()].filter((f) => f.endsWith('.svg')).sort();
    expect(charts).toEqual(['spring.activity.svg', 'spring.orders.svg', 'triggers/cart.activity.svg', 'triggers/cart.orders.svg']);
    for (const f of charts) {
      const svg = first.get(f)!.toString('utf8');
      expect(XMLValidator.validate(svg), f).toBe(true);
      expect(svg).not.toContain('<script');
    }
    expect(first.get('spring.orders.svg')!.toString('utf8')).toContain('Control group (4 customers)');
    expect(first.get('triggers/cart.orders.svg')!.toString('utf8')).toContain('Orders attributed');

    const md = first.get('spring.md')!.toString('utf8');
    expect(md).toContain('![Sends, opens and clicks per day](spring.activity.svg)');
    // The title is the campaign's own text in the report's heading, never markup.
    expect(md.split('\n')[0]).toBe('# &lt;script&gt;alert("x")&lt;/script&gt; &amp; \'Spring\' \\]\\]&gt;');
    expect(md).toContain('![Orders per day per 1,000 members, recipients and control group](spring.orders.svg)');
    expect(first.get('triggers/cart.md')!.toString('utf8')).toContain('![Orders attributed per day](cart.orders.svg)');

    // Elsewhere on the clock: not a byte differs, in the charts or anywhere under reports/.
    for (const TZ of ['Pacific/Chatham', 'America/St_Johns']) {
      const other = workspace();
      await run(other, TZ, '--all');
      const again = reports(other);
      expect([...again.keys()].sort()).toEqual([...first.keys()].sort());
      for (const [f, bytes] of first) expect(again.get(f)!.equals(bytes), `${f} under TZ=${TZ}`).toBe(true);
    }

    // Written again over itself, and one report alone: the same bytes.
    await run(utc, 'Pacific/Chatham', '--all');
    for (const [f, bytes] of reports(utc)) expect(bytes.equals(first.get(f)!), f).toBe(true);
    const one = await run(utc, 'America/St_Johns', 'campaign/spring');
    expect(one.stdout).toContain('Wrote reports/spring.json, reports/spring.md, reports/spring.activity.svg and reports/spring.orders.svg.');
    for (const [f, bytes] of reports(utc)) expect(bytes.equals(first.get(f)!), f).toBe(true);
    expect(readdirSync(join(utc, 'reports')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('removes the charts of a report that no longer has any', async () => {
    const db = await database();
    await db.use(fill);
    const dir = workspace();
    const args = ['report', 'campaign/spring', '--dir', dir, '--db', db.spec];
    expect((await herald(args)).code).toBe(0);
    expect(existsSync(join(dir, 'reports', 'spring.activity.svg'))).toBe(true);

    // Its sends gone (as after erasing the ledger): no chart, no stale one, no link.
    await db.use((d) => d.query("UPDATE herald.messages SET sent_at = NULL, status = 'queued' WHERE source = 'spring' AND status = 'sent'"));
    const r = await herald(args);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Wrote reports/spring.json and reports/spring.md.');
    expect(existsSync(join(dir, 'reports', 'spring.activity.svg'))).toBe(false);
    expect(existsSync(join(dir, 'reports', 'spring.orders.svg'))).toBe(false);
    expect(readFileSync(join(dir, 'reports', 'spring.md'), 'utf8')).not.toContain('## Over time');
  });
});
