import { describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/db.js';
import { twilioSignature } from '../../src/channels/sms/twilio.js';
import { createTrackingServer, listen } from '../../src/http/server.js';
import { createLog, silentLog } from '../../src/log.js';
import { createTestDb } from '../support/db.js';
import { useCleanups } from '../support/cleanup.js';
import { FIXTURE_SECRET, project, sentMessages } from '../events/ledger.js';

const cleanup = useCleanups();

const TOKEN = 'twilio-auth-token-1';
process.env.TEST_SMS_TWILIO_TOKEN = TOKEN;
process.env.TEST_SMS_RECEIPT_SECRET = 'receipt-secret-1';
/** Twilio signs the URL it was given: tracking.base_url and the path, whatever Host the request says. */
const BASE = 'https://shop.example/herald';

const twilio = { provider: 'twilio', from: '+4930123456', account_sid: 'AC123', auth_token_env: 'TEST_SMS_TWILIO_TOKEN' };
const webhook = { provider: 'webhook', webhook: { url: 'http://127.0.0.1:1/', body: { to: '{{ to }}' }, status_secret_env: 'TEST_SMS_RECEIPT_SECRET' } };

async function setUp(sms: object = twilio) {
  const db = await createTestDb();
  cleanup(() => db.dispose());
  const ids = await sentMessages(db, { source: 'spring', addresses: ['+4915123456781', '+4915123456782', '+4915123456783', '+4915123456784'] });
  // As the worker records SMS: channel sms, the provider's id as message_id.
  await db.query("UPDATE herald.messages SET channel = 'sms', message_id = 'SM' || lpad(id::text, 32, '0') WHERE id = ANY($1::bigint[])", [ids]);
  const server = await createTrackingServer({ db, project: project({ tracking: { base_url: BASE }, sms } as never), secrets: [FIXTURE_SECRET], log: process.env.SMS_DEBUG ? createLog('debug') : silentLog });
  const url = `${await listen(server, { port: 0, host: '127.0.0.1' })}/herald/sms`;
  cleanup(() => server.close());
  return { db, ids, url, sid: (id: number) => `SM${String(id).padStart(32, '0')}` };
}

function postTwilio(url: string, path: 'status' | 'inbound', form: Record<string, string>, signature = twilioSignature(TOKEN, `${BASE}/sms/${path}`, form)) {
  return fetch(`${url}/${path}`, { method: 'POST', body: new URLSearchParams(form), headers: { 'x-twilio-signature': signature } });
}

async function rows(db: Db) {
  return db.query<{ id: number; status: string; reason: string | null }>('SELECT id::int, status, reason FROM herald.messages ORDER BY id');
}
async function events(db: Db) {
  return db.query<{ message_id: number; kind: string; origin: string }>('SELECT message_id::int, kind, origin FROM herald.message_events ORDER BY id');
}
async function suppressed(db: Db) {
  return db.query<{ email: string; site: string | null; reason: string; source: string; channel: string }>('SELECT email, site, reason, source, channel FROM herald.suppressions ORDER BY email');
}

describe('Twilio status callbacks', () => {
  it('record delivery once, and settle undelivered messages as bounced or failed', async () => {
    const { db, ids, url, sid } = await setUp();
    const [a, b, c, d] = ids as [number, number, number, number];
    const receipts: Record<string, string>[] = [
      { MessageSid: sid(a), MessageStatus: 'delivered', To: '+4915123456781', AccountSid: 'AC123' },
      { MessageSid: sid(b), MessageStatus: 'undelivered', ErrorCode: '30005', To: '+4915123456782', AccountSid: 'AC123' },
      { MessageSid: sid(c), MessageStatus: 'failed', ErrorCode: '30007', To: '+4915123456783', AccountSid: 'AC123' },
      { MessageSid: sid(d), MessageStatus: 'undelivered', ErrorCode: '30003', To: '+4915123456784', AccountSid: 'AC123' },
      { MessageSid: sid(d), MessageStatus: 'sent', To: '+4915123456784', AccountSid: 'AC123' },
    ];
    for (const r of receipts) expect((await postTwilio(url, 'status', r)).status).toBe(200);
    const after = { rows: await rows(db), events: await events(db), suppressed: await suppressed(db) };
    expect(after.rows).toEqual([
      { id: a, status: 'sent', reason: null },
      { id: b, status: 'bounced', reason: 'twilio undelivered 30005 unknown destination handset' },
      { id: c, status: 'failed', reason: 'twilio failed 30007' },
      { id: d, status: 'bounced', reason: 'twilio undelivered 30003 unreachable destination handset' },
    ]);
    expect(after.events).toEqual([
      { message_id: a, kind: 'delivered', origin: 'twilio' },
      { message_id: b, kind: 'bounce', origin: 'twilio' },
      { message_id: d, kind: 'bounce', origin: 'twilio' },
    ]);
    // An unknown number is gone for good; an unreachable handset may be switched off.
    expect(after.suppressed).toEqual([{ email: '+4915123456782', site: null, reason: 'bounced', source: 'sms', channel: 'sms' }]);
    // Twilio may report again: nothing changes.
    for (const r of receipts) expect((await postTwilio(url, 'status', r)).status).toBe(200);
    expect({ rows: await rows(db), events: await events(db), suppressed: await suppressed(db) }).toEqual(after);
  });

  it('refuses a wrong signature, one over another URL, or none, and changes nothing', async () => {
    const { db, ids, url, sid } = await setUp();
    const form = { MessageSid: sid(ids[1]!), MessageStatus: 'undelivered', ErrorCode: '30005', To: '+4915123456782' };
    const before = await rows(db);
    expect((await postTwilio(url, 'status', form, twilioSignature('another-token', `${BASE}/sms/status`, form))).status).toBe(403);
    // Signed for the URL the request reached, not the one Twilio was given.
    expect((await postTwilio(url, 'status', form, twilioSignature(TOKEN, `${url}/status`, form))).status).toBe(403);
    // Altered after signing.
    expect((await postTwilio(url, 'status', { ...form, ErrorCode: '30006' }, twilioSignature(TOKEN, `${BASE}/sms/status`, form))).status).toBe(403);
    expect((await fetch(`${url}/status`, { method: 'POST', body: new URLSearchParams(form) })).status).toBe(403);
    expect(await rows(db)).toEqual(before);
    expect(await events(db)).toEqual([]);
    expect(await suppressed(db)).toEqual([]);
  });

  it('is not there when herald.yaml sends SMS another way', async () => {
    const { url } = await setUp(webhook);
    expect((await postTwilio(url, 'status', { MessageSid: 'SM1', MessageStatus: 'delivered' })).status).toBe(404);
    expect((await postTwilio(url, 'inbound', { From: '+4915123456781', Body: 'STOP' })).status).toBe(404);
  });
});

describe('Twilio inbound messages', () => {
  it('suppresses a number that replies STOP or a synonym, for SMS, on every site; answers empty TwiML', async () => {
    const { db, url } = await setUp();
    const replies: Record<string, string>[] = [
      { From: '+4915123456781', Body: ' stop ' },
      { From: '+4915123456782', Body: 'Unsubscribe' },
      { From: '+4915123456783', Body: 'QUIT' },
      { From: '+4915123456784', Body: 'stop sending me these?' },
      { From: '+4915123456785', Body: 'START' },
      { From: '+4915123456786', Body: 'end' },
      // A keyword configured in Twilio's Advanced Opt-Out, which Twilio marks.
      { From: '+4915123456787', Body: 'Stopp', OptOutType: 'STOP' },
      { From: '+4915123456788', Body: 'help', OptOutType: 'HELP' },
    ];
    for (const r of replies) {
      const res = await postTwilio(url, 'inbound', { ...r, To: '+4930123456', MessageSid: 'SMx' });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/xml/);
      expect(await res.text()).toBe('<?xml version="1.0" encoding="UTF-8"?><Response/>');
    }
    expect(await suppressed(db)).toEqual(['+4915123456781', '+4915123456782', '+4915123456783', '+4915123456786', '+4915123456787'].map((email) => ({ email, site: null, reason: 'unsubscribed', source: 'sms', channel: 'sms' })));
    // A second STOP changes nothing.
    await postTwilio(url, 'inbound', { From: '+4915123456781', Body: 'STOP' });
    expect((await suppressed(db)).length).toBe(5);
    const [log] = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM herald.suppression_events WHERE channel = 'sms'");
    expect(log!.n).toBe(5);
  });

  it('refuses an unsigned STOP', async () => {
    const { db, url } = await setUp();
    expect((await postTwilio(url, 'inbound', { From: '+4915123456781', Body: 'STOP' }, 'bm90IGEgc2lnbmF0dXJl')).status).toBe(403);
    expect(await suppressed(db)).toEqual([]);
  });
});

describe('generic webhook receipts', () => {
  const post = (url: string, body: unknown, secret?: string) =>
    fetch(`${url}/status/webhook`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...(secret ? { 'x-herald-secret': secret } : {}) } });

  it('record delivery and failure with the shared secret; refuse without it', async () => {
    const { db, ids, url, sid } = await setUp(webhook);
    expect((await post(url, { id: sid(ids[0]!), status: 'delivered' }, 'wrong')).status).toBe(403);
    expect((await post(url, { id: sid(ids[0]!), status: 'delivered' })).status).toBe(403);
    expect(await events(db)).toEqual([]);
    expect((await post(url, { id: sid(ids[0]!), status: 'delivered' }, 'receipt-secret-1')).status).toBe(200);
    expect((await post(url, { id: sid(ids[1]!), status: 'failed', reason: 'carrier rejected' }, 'receipt-secret-1')).status).toBe(200);
    expect((await post(url, { status: 'failed' }, 'receipt-secret-1')).status).toBe(400);
    expect(await events(db)).toEqual([{ message_id: ids[0], kind: 'delivered', origin: 'webhook' }]);
    expect((await rows(db)).slice(0, 2)).toEqual([
      { id: ids[0], status: 'sent', reason: null },
      { id: ids[1], status: 'failed', reason: 'webhook failed carrier rejected' },
    ]);
  });
});
