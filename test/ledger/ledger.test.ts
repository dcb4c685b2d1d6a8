import { describe, expect, it } from 'vitest';
import { claimBatch, pickSql, pickValues } from '../../src/ledger/claim.js';
import pg from 'pg';
import { createTestDb, serverUrl } from '../support/db.js';
import { createShop } from '../support/shop.js';
import { useCleanups } from '../support/cleanup.js';
import { retrying } from '../../src/db/retry.js';
import { silentLog } from '../../src/log.js';

const cleanup = useCleanups();

interface PlanNode {
  'Node Type': string;
  'Plan Rows': number;
  'Function Name'?: string;
  Plans?: PlanNode[];
}

describe('the claim statement', () => {
  it('is planned for one batch, not for a share of the ledger, however big the campaign', async () => {
    // A LIMIT computed from another CTE is planned as 10% of the table: on a
    // million-row campaign that chose merge joins over every customer and a
    // second of JIT compilation for each claim of 100.
    const db = await createTestDb();
    cleanup(() => db.dispose());
    await createShop(db, { customers: [] });
    await db.query(
      `INSERT INTO herald.messages (source, customer_id, address, site, locale, status, next_attempt_at)
       SELECT 'big', g, 'c' || g || '@example.com', 'shop-en', 'en', CASE WHEN g % 4 = 0 THEN 'sent' ELSE 'queued' END, now()
         FROM generate_series(1, 40000) AS g`,
    );
    // Claims of other workers, live and gone, for the claim to look at.
    await db.query(
      `UPDATE herald.messages SET status = 'claimed', worker = 'other' || (id % 4), session_key = id % 4, session_epoch = pg_postmaster_start_time(), lease_until = now() + interval '1 hour'
        WHERE id IN (SELECT id FROM herald.messages WHERE status = 'queued' ORDER BY id LIMIT 400)`,
    );
    await db.exec('ANALYZE herald.messages');
    const values = [...pickValues({ source: { kind: 'campaign', name: 'big' }, limit: 100, now: new Date(Date.now() + 60_000), policy: { timezones: {} } }), 'w', 7, db.kind === 'postgres', []];
    const [row] = await db.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] | string }>(`EXPLAIN (FORMAT JSON) ${pickSql('taken_back')}`, values);
    const explained = row!['QUERY PLAN'];
    const plan = (typeof explained === 'string' ? JSON.parse(explained) : explained)[0].Plan as PlanNode;
    expect(plan['Plan Rows']).toBeLessThanOrEqual(100);
    const nodes = (n: PlanNode): PlanNode[] => [n, ...(n.Plans ?? []).flatMap(nodes)];
    expect(nodes(plan).map((n) => n['Node Type'])).not.toContain('Merge Join');
    // The live sessions' locks are read once per claim, not once per row.
    expect(nodes(plan).filter((n) => n['Function Name'] === 'pg_lock_status')).toHaveLength(1);
  });

  it.skipIf(!serverUrl)('reads a batch’s worth of the queue from its cursor, however many sent rows lie before it with a snapshot holding them', async () => {
    // Each claimed → sent update leaves a dead entry in messages_due that
    // PostgreSQL may not even mark dead while an older snapshot is open: a
    // scan from the start walks them all (what slowed a 816k send sixfold).
    const db = await createTestDb();
    cleanup(() => db.dispose());
    await createShop(db, { customers: [] });
    await db.query(`INSERT INTO herald.objects (kind, name, spec, hash, apply_id) VALUES ('campaign', 'big', '{"status": "ready"}', 'h', 1)`);
    await db.query(
      `INSERT INTO herald.messages (source, customer_id, address, site, locale, status, next_attempt_at)
       SELECT 'big', g, 'c' || g || '@example.com', 'shop-en', 'en', 'queued', '2026-01-01T00:00:00Z' FROM generate_series(1, 30000) AS g`,
    );
    await db.exec('ANALYZE herald.messages');
    const holder = new pg.Client({ connectionString: (db as { url?: string }).url });
    await holder.connect();
    cleanup(() => holder.end());
    await holder.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    await holder.query('SELECT count(*) FROM herald.messages');
    await db.query(`UPDATE herald.messages SET status = 'sent', sent_at = now() WHERE id <= 29900`);
    // The pages the scan of messages_due read (its index and the heap behind it), and the rows it found.
    const dueScan = async (part: 'cursor' | 'start', extra: unknown[]) => {
      const values = [...pickValues({ source: { kind: 'campaign', name: 'big' }, limit: 50, now: new Date('2026-02-01T00:00:00Z'), policy: { timezones: {} } }), ...extra];
      const rows = await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${pickSql(part)}`, values);
      const explained = rows[0]!['QUERY PLAN'];
      type Node = PlanNode & { 'Index Name'?: string; 'Shared Hit Blocks': number; 'Shared Read Blocks': number; 'Actual Rows': number };
      const all = (n: Node): Node[] => [n, ...((n.Plans ?? []) as Node[]).flatMap(all)];
      const scan = all((typeof explained === 'string' ? JSON.parse(explained) : explained)[0].Plan).find((n) => n['Index Name'] === 'messages_due')!;
      return { pages: scan['Shared Hit Blocks'] + scan['Shared Read Blocks'], rows: scan['Actual Rows'] };
    };
    const fromCursor = await dueScan('cursor', [new Date('2026-01-01T00:00:00Z'), 29900]);
    const fromStart = await dueScan('start', [[]]);
    expect(fromCursor.rows).toBe(50);
    expect(fromStart.rows).toBe(50);
    // The batch's 50 rows lie in a few pages; from the start, the scan walks 29,900 dead entries first.
    expect(fromCursor.pages).toBeLessThan(20);
    expect(fromStart.pages).toBeGreaterThan(100);
    await holder.query('ROLLBACK');
  });

  it.skipIf(!serverUrl)('settles every batch with one statement prepared per connection, planned generically from the first claim', async () => {
    // Planning the settle cost more than running it; prepared, the server
    // parses it once per connection and plans it once. The claims run one
    // after another, so the pool hands each the same connection, whose
    // prepared statements the last query reads.
    const db = await createTestDb();
    cleanup(() => db.dispose());
    await createShop(db, { customers: Array.from({ length: 40 }, (_, i) => ({ id: i + 1, email: `c${i + 1}@example.com` })) });
    await db.query(`INSERT INTO herald.objects (kind, name, spec, hash, apply_id) VALUES ('campaign', 'gen', '{"status": "ready"}', 'h', 1)`);
    await db.query(
      `INSERT INTO herald.messages (source, customer_id, address, site, locale, status, next_attempt_at)
       SELECT 'gen', g, 'c' || g || '@example.com', 'shop-en', 'en', 'queued', '2026-01-01T00:00:00Z' FROM generate_series(1, 40) AS g`,
    );
    const claimed: number[] = [];
    const claim = async () => {
      const batch = await claimBatch(db, {
        source: { kind: 'campaign', name: 'gen' },
        schema: 'shop',
        policy: { timezones: {}, cap: { max: 3, perSeconds: 604_800, whenCapped: 'defer' } },
        worker: 'w',
        limit: 10,
        leaseSeconds: 60,
        now: new Date('2026-02-01T00:00:00Z'),
        session: { key: 1, outlivesServer: true },
      });
      claimed.push(...batch.messages.map((m) => m.id));
    };
    for (let i = 0; i < 3; i++) await claim();
    expect(new Set(claimed).size).toBe(30);
    const prepared = await db.query<{ generic_plans: number; custom_plans: number }>(
      "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name LIKE 'herald\\_%' AND statement LIKE '%settled AS (%'",
    );
    expect(prepared).toEqual([{ generic_plans: 3, custom_plans: 0 }]);

    // The shop migrates mid-send: a column the claim returns changes type.
    // The prepared settle no longer fits; the worker's retry (retrying, as
    // around every claim) claims again on a connection that prepares it anew.
    await db.exec('ALTER TABLE shop.customers ALTER COLUMN city TYPE varchar(300)');
    await retrying(silentLog, claim);
    expect(new Set(claimed).size).toBe(40);
  });
});
