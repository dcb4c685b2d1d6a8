import { createHmac, generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createTestDb } from '../support/db.js';
import { useCleanups } from '../support/cleanup.js';
import { returnPath } from '../../src/links/tracking.js';
import { FIXTURE_SECRET, project, sentMessages, suppressions } from '../events/ledger.js';
import { webhookServer, written } from './webhook-app.js';

const cleanup = useCleanups();

const webhooks = {
  sendgrid: { public_key_env: 'TEST_SENDGRID_KEY' },
  mailgun: { signing_key_env: 'TEST_MAILGUN_KEY' },
  postmark: { user: 'herald', password_env: 'TEST_POSTMARK_PASSWORD' },
};

async function setUp() {
  const db = await createTestDb();
  cleanup(() => db.dispose());
  const ids = await sentMessages(db, { source: 'spring', addresses: ['ann@example.com', 'ben@example.com', 'cat@example.com'] });
  const server = await webhookServer(db, project({ webhooks } as never));
  cleanup(() => server.close());
  return { db, ids, url: server.url };
}

const post = (url: string, body: string, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });

describe('SendGrid', () => {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  process.env.TEST_SENDGRID_KEY = publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
  const signed = (body: string, key = privateKey) => {
    const ts = String(Math.floor(Date.now() / 1000));
    return { 'x-twilio-email-event-webhook-timestamp': ts, 'x-twilio-email-event-webhook-signature': sign('sha256', Buffer.from(ts + body), key).toString('base64') };
  };
  const events = (ids: number[]) =>
    JSON.stringify([
      { email: 'ann@example.com', event: 'bounce', type: 'bounce', status: '5.1.1', reason: '550 5.1.1 The email account does not exist', 'smtp-id': `<spring.${ids[0]}@shop.example>`, sg_event_id: 'e1', timestamp: 1763370000 },
      { email: 'ben@example.com', event: 'spamreport', 'smtp-id': `<spring.${ids[1]}@shop.example>`, sg_event_id: 'e2', timestamp: 1763370001 },
      { email: 'cat@example.com', event: 'delivered', 'smtp-id': `<spring.${ids[2]}@shop.example>`, sg_event_id: 'e3', timestamp: 1763370002 },
    ]);

  it('applies a signed batch: the bounced address and the complainer are suppressed', async () => {
    const { db, ids, url } = await setUp();
    const body = events(ids);
    const res = await post(`${url}/sendgrid`, body, signed(body));
    expect(res.status).toBe(200);
    expect(await suppressions(db)).toEqual([
      { email: 'ann@example.com', site: null, reason: 'bounced', source: 'sendgrid' },
      { email: 'ben@example.com', site: null, reason: 'complained', source: 'sendgrid' },
    ]);
    // SendGrid retries: the same batch again records nothing new.
    expect((await post(`${url}/sendgrid`, body, signed(body))).status).toBe(200);
    expect(await written(db)).toEqual({ events: 2, suppressions: 2 });
  });

  it('takes a batch far bigger than the tracking server\'s own requests', async () => {
    const { db, ids, url } = await setUp();
    const many = JSON.stringify([
      ...Array.from({ length: 400 }, (_, i) => ({ email: 'cat@example.com', event: 'delivered', 'smtp-id': `<spring.${ids[2]}@shop.example>`, sg_event_id: `d${i}`, timestamp: 1763370000 })),
      { email: 'ann@example.com', event: 'bounce', type: 'bounce', status: '5.1.1', 'smtp-id': `<spring.${ids[0]}@shop.example>`, sg_event_id: 'b', timestamp: 1763370000 },
    ]);
    expect(many.length).toBeGreaterThan(40_000);
    expect((await post(`${url}/sendgrid`, many, signed(many))).status).toBe(200);
    expect(await suppressions(db)).toEqual([{ email: 'ann@example.com', site: null, reason: 'bounced', source: 'sendgrid' }]);
  });

  it('lands a batch with one event dated where PostgreSQL cannot store it: that one at the time it arrived', async () => {
    const { db, ids, url } = await setUp();
    const batch = JSON.parse(events(ids)) as Record<string, unknown>[];
    // Year -99,000: a Date in JavaScript, out of range for timestamptz.
    batch[1]!.timestamp = -3.2e12;
    const body = JSON.stringify(batch);
    const before = Date.now();
    expect((await post(`${url}/sendgrid`, body, signed(body))).status).toBe(200);
    expect(await suppressions(db)).toEqual([
      { email: 'ann@example.com', site: null, reason: 'bounced', source: 'sendgrid' },
      { email: 'ben@example.com', site: null, reason: 'complained', source: 'sendgrid' },
    ]);
    const [complaint] = await db.query<{ at: Date }>("SELECT at FROM herald.message_events WHERE kind = 'complaint'");
    expect(complaint!.at.getTime()).toBeGreaterThanOrEqual(before - 1000);
  });

  it('refuses a batch signed with another key, altered after signing, or unsigned, and writes nothing', async () => {
    const { db, ids, url } = await setUp();
    const body = events(ids);
    const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    expect((await post(`${url}/sendgrid`, body, signed(body, other))).status).toBe(401);
    expect((await post(`${url}/sendgrid`, body.replace('ann@', 'cat@'), signed(body))).status).toBe(401);
    expect((await post(`${url}/sendgrid`, body)).status).toBe(401);
    expect(await written(db)).toEqual({ events: 0, suppressions: 0 });
  });
});

describe('Mailgun', () => {
  process.env.TEST_MAILGUN_KEY = 'key-0123456789abcdef0123456789abcdef';
  const body = (o: { sender: string; timestamp?: number; key?: string; event?: Record<string, unknown> }) => {
    const timestamp = String(o.timestamp ?? Math.floor(Date.now() / 1000));
    const token = 'a'.repeat(50);
    return JSON.stringify({
      signature: { timestamp, token, signature: createHmac('sha256', o.key ?? process.env.TEST_MAILGUN_KEY!).update(timestamp + token).digest('hex') },
      'event-data': {
        event: 'failed',
        severity: 'permanent',
        reason: 'bounce',
        id: 'mg-1',
        timestamp: 1763370000.5,
        recipient: 'cat@example.com',
        envelope: { sender: o.sender },
        'delivery-status': { code: 550, message: '5.1.1 The email account that you tried to reach does not exist' },
        ...o.event,
      },
    });
  };

  it('applies a signed event, finding the message by its VERP envelope sender', async () => {
    const { db, ids, url } = await setUp();
    const res = await post(`${url}/mailgun`, body({ sender: returnPath('bounces@mail.shop.example', ids[2]!, FIXTURE_SECRET) }));
    expect(res.status).toBe(200);
    expect(await suppressions(db)).toEqual([{ email: 'cat@example.com', site: null, reason: 'bounced', source: 'mailgun' }]);
    expect(await db.query("SELECT status FROM herald.messages WHERE id = $1", [ids[2]])).toEqual([{ status: 'bounced' }]);
  });

  it('refuses a bad signature and an old timestamp (a replay), and writes nothing', async () => {
    const { db, ids, url } = await setUp();
    const sender = returnPath('bounces@mail.shop.example', ids[2]!, FIXTURE_SECRET);
    expect((await post(`${url}/mailgun`, body({ sender, key: 'key-wrong' }))).status).toBe(401);
    expect((await post(`${url}/mailgun`, body({ sender, timestamp: Math.floor(Date.now() / 1000) - 3600 }))).status).toBe(401);
    expect((await post(`${url}/mailgun`, JSON.stringify({ 'event-data': { event: 'failed' } }))).status).toBe(401);
    expect(await written(db)).toEqual({ events: 0, suppressions: 0 });
  });
});

describe('Postmark', () => {
  process.env.TEST_POSTMARK_PASSWORD = 'correct horse battery staple';
  const auth = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
  const bounce = (o: Record<string, unknown>) => JSON.stringify({ RecordType: 'Bounce', ID: 42, Type: 'HardBounce', TypeCode: 1, Email: 'ben@example.com', Details: 'smtp;550 5.1.1 unknown user', BouncedAt: '2026-11-17T09:00:00Z', ...o });

  it('applies a bounce with good credentials: by Metadata.herald, else the latest message sent to Email', async () => {
    const { db, ids, url } = await setUp();
    expect((await post(`${url}/postmark`, bounce({ Metadata: { herald: String(ids[1]) } }), auth('herald', process.env.TEST_POSTMARK_PASSWORD!))).status).toBe(200);
    expect(await db.query("SELECT message_id::int AS id, origin FROM herald.message_events WHERE kind = 'bounce'")).toEqual([{ id: ids[1], origin: 'postmark' }]);
    // A spam complaint naming only the address: the latest message sent to it.
    const complaint = JSON.stringify({ RecordType: 'SpamComplaint', ID: 43, Type: 'SpamComplaint', Email: 'ann@example.com', BouncedAt: '2026-11-17T10:00:00Z' });
    expect((await post(`${url}/postmark`, complaint, auth('herald', process.env.TEST_POSTMARK_PASSWORD!))).status).toBe(200);
    expect(await suppressions(db)).toEqual([
      { email: 'ann@example.com', site: null, reason: 'complained', source: 'postmark' },
      { email: 'ben@example.com', site: null, reason: 'bounced', source: 'postmark' },
    ]);
  });

  it('records a bounce whose BouncedAt PostgreSQL cannot store, at the time it arrived', async () => {
    const { db, ids, url } = await setUp();
    const res = await post(`${url}/postmark`, bounce({ Metadata: { herald: String(ids[1]) }, BouncedAt: '-100000-01-01T00:00:00Z' }), auth('herald', process.env.TEST_POSTMARK_PASSWORD!));
    expect(res.status).toBe(200);
    expect(await suppressions(db)).toEqual([{ email: 'ben@example.com', site: null, reason: 'bounced', source: 'postmark' }]);
  });

  it('refuses a wrong password, a wrong user and no credentials, and writes nothing', async () => {
    const { db, url } = await setUp();
    const res = await post(`${url}/postmark`, bounce({}), auth('herald', 'guess'));
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Basic realm="herald"');
    expect((await post(`${url}/postmark`, bounce({}), auth('admin', process.env.TEST_POSTMARK_PASSWORD!))).status).toBe(401);
    expect((await post(`${url}/postmark`, bounce({}))).status).toBe(401);
    expect(await written(db)).toEqual({ events: 0, suppressions: 0 });
  });
});

describe('an ESP herald.yaml does not name', () => {
  it('is not found', async () => {
    const { url } = await setUp();
    expect((await post(`${url}/ses`, '{}')).status).toBe(404);
  });
});
