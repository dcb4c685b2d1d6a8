import { describe, expect, it } from 'vitest';
import { useCleanups } from '../support/cleanup.js';
import { active, at, ledger, shopDb, sweep } from './support.js';

const cleanup = useCleanups();

describe('birthday', () => {
  it('celebrates 29 February on 28 February in other years, and on the day in leap years', async () => {
    const { db } = await shopDb({ customers: [{ id: 1, email: 'leap@example.com', birthday: '1992-02-29' }] }, cleanup);
    const spec = active({ event: 'birthday' });
    await sweep(db, spec, at('2027-02-01T00:00:00Z'));
    // 2027 is not a leap year: midnight of 28 February in Berlin is 23:00 UTC the day before.
    expect((await sweep(db, spec, at('2027-02-27T22:59:00Z'))).inserted).toBe(0);
    expect((await sweep(db, spec, at('2027-02-27T23:00:00Z'))).inserted).toBe(1);
    expect((await sweep(db, spec, at('2027-03-01T12:00:00Z'))).inserted).toBe(0);
    // 2028 is: nothing on the 28th, then the 29th.
    expect((await sweep(db, spec, at('2028-02-28T12:00:00Z'))).inserted).toBe(0);
    expect((await sweep(db, spec, at('2028-02-28T23:30:00Z'))).inserted).toBe(1);
    expect(await ledger(db)).toEqual([
      { customer_id: 1, occurrence: '2027', status: 'queued', reason: null, payload: { birthday: '1992-02-29', year: 2027 }, due_at: '2027-02-27T23:00:00.000Z' },
      { customer_id: 1, occurrence: '2028', status: 'queued', reason: null, payload: { birthday: '1992-02-29', year: 2028 }, due_at: '2028-02-28T23:00:00.000Z' },
    ]);
  });

  it("fires at midnight of the customer's date in their site's time zone", async () => {
    const { db } = await shopDb(
      {
        customers: [
          { id: 1, email: 'berlin@example.com', birthday: '1990-03-12' },
          { id: 2, email: 'newyork@example.com', birthday: '1990-03-12', site: 'shop-us' },
        ],
      },
      cleanup,
    );
    const spec = active({ event: 'birthday' });
    await sweep(db, spec, at('2026-03-01T00:00:00Z'));
    // Berlin is UTC+1 in March; New York has been on summer time (UTC-4) since 8 March.
    expect((await sweep(db, spec, at('2026-03-11T22:59:00Z'))).inserted).toBe(0);
    expect((await sweep(db, spec, at('2026-03-11T23:00:00Z'))).inserted).toBe(1);
    expect((await sweep(db, spec, at('2026-03-12T03:59:00Z'))).inserted).toBe(0);
    expect((await sweep(db, spec, at('2026-03-12T04:00:00Z'))).inserted).toBe(1);
    expect((await ledger(db)).map((r) => [r.customer_id, r.occurrence, r.due_at])).toEqual([
      [1, '2026', '2026-03-11T23:00:00.000Z'],
      [2, '2026', '2026-03-12T04:00:00.000Z'],
    ]);
  });

  it('days_before reaches back over New Year: the occurrence is the year celebrated', async () => {
    const { db } = await shopDb({ customers: [{ id: 1, email: 'jan@example.com', birthday: '2000-01-02' }] }, cleanup);
    const spec = active({ event: 'birthday', days_before: 3 });
    await sweep(db, spec, at('2025-12-01T00:00:00Z'));
    expect((await sweep(db, spec, at('2025-12-29T23:30:00Z'))).inserted).toBe(1);
    expect(await ledger(db)).toMatchObject([{ occurrence: '2026', payload: { birthday: '2000-01-02', year: 2026 }, due_at: '2025-12-29T23:00:00.000Z' }]);
  });
});
