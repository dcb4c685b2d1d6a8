import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { useCleanups } from '../support/cleanup.js';
import { serverUrl } from '../support/db.js';
import { active, at, keys, ledger, preview, PROJECT, shopDb, sweep } from './support.js';

const cleanup = useCleanups();

const T0 = at('2026-06-10T12:00:00Z');
const shop = { customers: [1, 2, 3].map((id) => ({ id, email: `c${id}@example.com`, city: id === 3 ? 'Berlin' : 'Hamburg' })) };

async function failure(p: Promise<unknown>): Promise<UserError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UserError);
  return err as UserError;
}

describe('sql', () => {
  it('without a payload column, the payload is {"event": null}', async () => {
    const { db } = await shopDb(shop, cleanup);
    const spec = active({ event: 'sql', sql: "SELECT id AS customer_id, 'welcome-' || id AS event_key FROM customers WHERE id < 3;" });
    expect(await sweep(db, spec, T0)).toEqual({ inserted: 2, skippedByHorizon: 0 });
    expect(await ledger(db)).toEqual([
      { customer_id: 1, occurrence: 'welcome-1', status: 'queued', reason: null, payload: { event: null }, due_at: T0.toISOString() },
      { customer_id: 2, occurrence: 'welcome-2', status: 'queued', reason: null, payload: { event: null }, due_at: T0.toISOString() },
    ]);
  });

  it('its audience may hold sql: conditions too; preview evaluates both and writes nothing', async () => {
    const { db } = await shopDb(shop, cleanup);
    const spec = active({
      event: 'sql',
      sql: "SELECT id AS customer_id, 'k' AS event_key FROM customers",
      audience: { not: { sql: "SELECT id AS customer_id FROM customers WHERE city = 'Berlin'" } },
    });
    expect(await preview(db, spec, T0)).toEqual({ wouldSend: 2, skippedByHorizon: 0 });
    expect(await db.query('SELECT 1 FROM herald.messages')).toEqual([]);
    expect(await sweep(db, spec, T0)).toEqual({ inserted: 2, skippedByHorizon: 0 });
    expect((await ledger(db)).map((r) => r.customer_id)).toEqual([1, 2]);
  });

  it('is refused where it runs when it would read herald or lacks event_key', async () => {
    const { db } = await shopDb(shop, cleanup);
    const herald = await failure(sweep(db, active({ event: 'sql', sql: "SELECT customer_id, 'x' AS event_key FROM herald.messages" }), T0));
    expect(herald.message).toMatch(/^trigger\/t: its sql: is refused: /);
    const keyless = await failure(sweep(db, active({ event: 'sql', sql: 'SELECT id AS customer_id FROM customers' }), T0));
    expect(keyless.message).toContain('the query returns no event_key column');
    expect(await db.query('SELECT 1 FROM herald.messages')).toEqual([]);
  });

  it('reports a failure by its SQLSTATE, naming the trigger, never quoting a value', async () => {
    const { db } = await shopDb(shop, cleanup);
    const err = await failure(sweep(db, active({ event: 'sql', sql: "SELECT (1 / (id - id))::bigint AS customer_id, 'k' AS event_key FROM customers" }), T0));
    expect(err.message).toBe('trigger/t: its sql: failed with division_by_zero (SQLSTATE 22012)');
  });

  it.skipIf(!serverUrl)('runs as source.reader_role', async () => {
    const { db } = await shopDb(shop, cleanup);
    const role = `herald_reader_${randomBytes(4).toString('hex')}`;
    await db.exec(`CREATE ROLE ${role} NOLOGIN; GRANT USAGE ON SCHEMA shop TO ${role}`);
    cleanup(() => db.exec(`DROP OWNED BY ${role}; DROP ROLE ${role}`));
    // A view that shows its rows only to the reader: current_user in a view is whoever runs the query.
    await db.exec(`CREATE VIEW shop.as_reader AS SELECT id AS customer_id FROM shop.customers WHERE current_user = '${role}'; GRANT SELECT ON shop.as_reader TO ${role}`);
    const project = { ...PROJECT, source: { ...PROJECT.source, reader_role: role } };
    await sweep(db, active({ event: 'sql', sql: "SELECT customer_id, 'k' AS event_key FROM as_reader" }), T0, { project });
    expect(await keys(db)).toEqual([
      [1, 'k'],
      [2, 'k'],
      [3, 'k'],
    ]);
  });
});
