import { describe, expect, it } from 'vitest';
import { formatPlan } from '../../src/plan/format.js';
import { createTestDb } from '../support/db.js';
import { createShop } from '../support/shop.js';
import { planDir } from '../support/apply.js';
import { exampleWorkspace } from '../support/workspace.js';
import { useCleanups } from '../support/cleanup.js';

/** plan says what enabling a trigger would send at once, from the sweep's own SQL, and writes nothing. */
const cleanup = useCleanups();
const NOW = new Date('2026-11-20T10:00:00Z');

async function setup(backfill?: string) {
  const db = await createTestDb();
  const ws = exampleWorkspace();
  cleanup(() => db.dispose(), ws.remove);
  if (backfill) ws.write('triggers/abandoned-cart.yaml', `event: cart_abandoned\nafter: 4h\ntemplate: abandoned-cart\nbackfill: ${backfill}\nstatus: active\n`);
  await createShop(db, {
    customers: [
      { id: 1, email: 'anna@example.com' },
      { id: 2, email: 'bob@example.com' },
    ],
    products: ['SH-001', 'OW-001', 'BG-001', 'AC-002'].map((sku) => ({ sku, category: 'shoes' })),
    // Anna's cart has been idle 26 hours, Bob's 3 days.
    carts: [
      { id: 1, customer_id: 1, updated_at: '2026-11-19T08:00:00Z' },
      { id: 2, customer_id: 2, updated_at: '2026-11-17T10:00:00Z' },
    ],
    cart_items: [
      { cart_id: 1, sku: 'SH-001' },
      { cart_id: 2, sku: 'SH-001' },
    ],
  });
  return { db, ws };
}

describe('plan, for a trigger it enables', () => {
  it('says that nothing due before enabling is sent: would send 0 now, 1 skipped by the back-fill horizon (it counts the last two days)', async () => {
    const { db, ws } = await setup();
    const plan = await planDir(db, ws.dir, { now: NOW });
    // Anna's cart fell due 22 hours ago; Bob's, nearly three days ago, is older than the sweep looks back.
    expect(plan.triggers).toContainEqual({ trigger: 'abandoned-cart', wouldSend: 0, skippedByHorizon: 1 });
    expect(formatPlan(plan, { color: false })).toContain('trigger/abandoned-cart: would send 0 now, 1 skipped by the back-fill horizon');
    expect(await db.query('SELECT 1 FROM herald.messages UNION ALL SELECT 1 FROM herald.runs')).toEqual([]);
  });

  it('counts what backfill reaches back for', async () => {
    const { db, ws } = await setup('2d');
    const plan = await planDir(db, ws.dir, { now: NOW });
    expect(plan.triggers).toContainEqual({ trigger: 'abandoned-cart', wouldSend: 1, skippedByHorizon: 1 });
  });
});
