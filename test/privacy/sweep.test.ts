import { describe, expect, it } from 'vitest';
import { erasePerson } from '../../src/privacy/erase.js';
import { parsePerson } from '../../src/privacy/person.js';
import { useCleanups } from '../support/cleanup.js';
import { active, at, HOUR, plus, shopDb, sweep } from '../triggers/support.js';

const cleanup = useCleanups();
const T0 = at('2026-06-10T12:00:00Z');
const iso = (d: Date) => d.toISOString();

describe("a trigger's sweep after an erase", () => {
  it("records the erased customer's occurrence as suppressed, without their address or the order it was about", async () => {
    const { db } = await shopDb(
      {
        customers: [
          { id: 1, email: 'c1@example.com' },
          { id: 2, email: 'Erased@Example.com' },
        ],
        orders: [1, 2].map((id) => ({ id, customer_id: id, total: 500, created_at: iso(plus(T0, HOUR)) })),
      },
      cleanup,
    );
    // Erased before the shop erased its customer: the shop still has them, and their new order.
    await erasePerson(db, 'shop', parsePerson('erased@example.com'), 'dpo');
    const spec = active({ event: 'order_total_over', amount: 300 });
    await sweep(db, spec, T0);
    await sweep(db, spec, plus(T0, 2 * HOUR));
    expect(await db.query(`SELECT customer_id, status, address, payload IS NULL AS no_payload, reason FROM herald.messages ORDER BY customer_id`)).toEqual([
      { customer_id: 1, status: 'queued', address: 'c1@example.com', no_payload: false, reason: null },
      { customer_id: 2, status: 'suppressed', address: null, no_payload: true, reason: 'suppressed: erased (all sites)' },
    ]);
  });
});
