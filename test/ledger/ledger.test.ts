import { describe, expect, it } from 'vitest';
import { pickSql, pickValues } from '../../src/ledger/claim.js';
import { createTestDb } from '../support/db.js';
import { createShop } from '../support/shop.js';
import { useCleanups } from '../support/cleanup.js';

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
    const values = pickValues({ source: { kind: 'campaign', name: 'big' }, worker: 'w', limit: 100, now: new Date(Date.now() + 60_000), session: { key: 7, outlivesServer: db.kind === 'postgres' }, policy: { timezones: {} } });
    const [row] = await db.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] | string }>(`EXPLAIN (FORMAT JSON) ${pickSql()}`, values);
    const explained = row!['QUERY PLAN'];
    const plan = (typeof explained === 'string' ? JSON.parse(explained) : explained)[0].Plan as PlanNode;
    expect(plan['Plan Rows']).toBeLessThanOrEqual(100);
    const nodes = (n: PlanNode): PlanNode[] => [n, ...(n.Plans ?? []).flatMap(nodes)];
    expect(nodes(plan).map((n) => n['Node Type'])).not.toContain('Merge Join');
    // The live sessions' locks are read once per claim, not once per row.
    expect(nodes(plan).filter((n) => n['Function Name'] === 'pg_lock_status')).toHaveLength(1);
  });
});
