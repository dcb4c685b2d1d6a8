import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { liveSubscriptions, markGone } from '../../../src/channels/push/subscriptions.js';
import { createTestDb, type TestDb } from '../../support/db.js';
import { createShop } from '../../support/shop.js';

const KEYS = { p256dh: 'BP', auth: 'au' };

describe('push subscriptions', () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await createTestDb();
    await createShop(db, {
      customers: [{ id: 1, email: null }, { id: 2, email: null }, { id: 3, email: null }, { id: 4, email: null }],
      push_subscriptions: [
        { id: 11, customer_id: 1, kind: 'webpush', endpoint: 'https://push.example/a', ...KEYS, created_at: '2024-03-01T00:00:00Z' },
        { id: 12, customer_id: 1, kind: 'fcm', token: 'tok-1', created_at: '2024-02-01T00:00:00Z' },
        // The same browser stored twice: sent to once, the older row.
        { id: 13, customer_id: 1, kind: 'webpush', endpoint: 'https://push.example/a', ...KEYS, created_at: '2024-04-01T00:00:00Z' },
        // Missing what its kind needs, or of no kind herald knows.
        { id: 21, customer_id: 2, kind: 'webpush', endpoint: 'https://push.example/b', p256dh: 'BP' },
        { id: 22, customer_id: 2, kind: 'fcm' },
        { id: 31, customer_id: 3, kind: 'webpush', endpoint: 'https://push.example/gone', ...KEYS },
        { id: 32, customer_id: 3, kind: 'fcm', token: 'tok-gone' },
        { id: 41, customer_id: 4, kind: 'fcm', token: 'tok-4' },
      ],
    });
    await db.exec(`ALTER TABLE shop.push_subscriptions DROP CONSTRAINT push_subscriptions_kind_check;
      INSERT INTO shop.push_subscriptions (id, customer_id, kind, token, created_at) VALUES (23, 2, 'apns', 'x', now())`);
  });
  afterAll(() => db?.dispose());

  it('loads the live subscriptions of a batch of customers, oldest first, one per endpoint or token', async () => {
    const live = await liveSubscriptions(db, 'shop', [1, 2, 3, 5]);
    expect([...live.entries()]).toEqual([
      [1, [{ id: 12, kind: 'fcm', token: 'tok-1' }, { id: 11, kind: 'webpush', endpoint: 'https://push.example/a', ...KEYS }]],
      [3, [{ id: 31, kind: 'webpush', endpoint: 'https://push.example/gone', ...KEYS }, { id: 32, kind: 'fcm', token: 'tok-gone' }]],
    ]);
  });

  it('leaves out what a push service called gone, keeping the first answer', async () => {
    await markGone(db, ['https://push.example/gone'], 410);
    await markGone(db, ['tok-gone', 'tok-gone', 'https://push.example/gone'], 404);
    await markGone(db, [], 404);
    const live = await liveSubscriptions(db, 'shop', [1, 3, 4]);
    expect([...live.keys()]).toEqual([1, 4]);
    const rows = await db.query<{ endpoint_sha256: string; status: number }>(`SELECT endpoint_sha256, status FROM herald.push_gone ORDER BY status`);
    const { createHash } = await import('node:crypto');
    const sha = (s: string) => createHash('sha256').update(s).digest('hex');
    expect(rows).toEqual([
      { endpoint_sha256: sha('tok-gone'), status: 404 },
      { endpoint_sha256: sha('https://push.example/gone'), status: 410 },
    ]);
  });
});
