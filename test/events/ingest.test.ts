import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EventWriter, SCANNER_CLICK_SECONDS, type TrackedEvent } from '../../src/events/ingest.js';
import { silentLog } from '../../src/log.js';
import { createTestDb, type TestDb } from '../support/db.js';
import { seed } from '../http/fixture.js';

let db: TestDb;
let ids: Awaited<ReturnType<typeof seed>>;
beforeAll(async () => {
  db = await createTestDb();
  ids = await seed(db);
});
afterAll(() => db?.dispose());
beforeEach(() => db.query('DELETE FROM herald.message_events'));

const event = (message: number, o: Partial<TrackedEvent> = {}): TrackedEvent => ({ message, kind: 'open', class: 'human', link: null, origin: 'pixel', detail: null, at: new Date(), ...o });
const count = async () => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM herald.message_events'))[0]!.n;

describe('event writer', () => {
  it('writes a full batch at once, and the rest on close', async () => {
    const w = new EventWriter(db, { log: silentLog, batchSize: 100, intervalMs: 60_000 });
    for (let i = 0; i < 250; i++) w.record(event(ids.old));
    // Full batches go at once, without waiting for the (hour-long) interval.
    await expect.poll(() => w.written, { timeout: 30_000 }).toBeGreaterThanOrEqual(200);
    await w.close();
    expect(await count()).toBe(250);
  });

  it('writes within its interval without being asked', async () => {
    const w = new EventWriter(db, { log: silentLog, intervalMs: 10 });
    w.record(event(ids.old));
    await expect.poll(count, { timeout: 30_000 }).toBe(1);
    await w.close();
  });

  it('keeps events the database refuses and writes them once it takes them again', async () => {
    const w = new EventWriter(db, { log: silentLog, intervalMs: 60_000 });
    await db.query('ALTER TABLE herald.message_events RENAME TO message_events_away');
    try {
      w.record(event(ids.old));
      await w.flush();
      expect(w.pending).toBe(1);
    } finally {
      await db.query('ALTER TABLE herald.message_events_away RENAME TO message_events');
    }
    w.record(event(ids.old));
    await w.close();
    expect(await count()).toBe(2);
  });

  it(`drops events of unknown messages, and makes a click within ${SCANNER_CLICK_SECONDS} s of the send (or before it is recorded) a scanner's`, async () => {
    await db.query("INSERT INTO herald.messages (source, customer_id, address, site, locale, status) VALUES ('spring', 3, 'c@example.com', 'main', 'en', 'claimed')");
    await db.query('UPDATE herald.messages SET sent_at = now() WHERE id = $1', [ids.fresh]);
    const [claimed] = await db.query<{ id: number }>("SELECT id FROM herald.messages WHERE status = 'claimed'");
    const w = new EventWriter(db, { log: silentLog });
    const click = { kind: 'click' as const, origin: 'click' as const, link: 0 };
    w.record(event(123_456_789, click));
    w.record(event(ids.fresh, click));
    w.record(event(ids.fresh, { ...click, class: 'scanner', detail: { by: 'isbot' } }));
    w.record(event(ids.old, click));
    w.record(event(claimed!.id, click));
    w.record(event(ids.fresh)); // an open just after the send is not judged by its timing
    await w.close();
    expect(await db.query('SELECT message_id, kind, class, detail FROM herald.message_events ORDER BY id')).toEqual([
      { message_id: ids.fresh, kind: 'click', class: 'scanner', detail: { by: 'timing' } },
      { message_id: ids.fresh, kind: 'click', class: 'scanner', detail: { by: 'isbot' } },
      { message_id: ids.old, kind: 'click', class: 'human', detail: null },
      { message_id: claimed!.id, kind: 'click', class: 'scanner', detail: { by: 'timing' } },
      { message_id: ids.fresh, kind: 'open', class: 'human', detail: null },
    ]);
  });
});
