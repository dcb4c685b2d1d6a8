import { describe, expect, it } from 'vitest';
import { smsChannelFor } from '../../../src/channels/sms/channel.js';
import type { Db } from '../../../src/db/db.js';
import { silentLog } from '../../../src/log.js';
import { deliver, type SourceContext } from '../../../src/ledger/worker.js';
import type { RenderedSms } from '../../../src/render/sms.js';
import type { Project } from '../../../src/workspace/model.js';
import { createTestDb } from '../../support/db.js';
import { createShop } from '../../support/shop.js';
import { useCleanups } from '../../support/cleanup.js';
import { twilioError, twilioPeer, type PeerReply } from '../../support/twilio.js';

/**
 * The SMS channel through the real worker: the ledger records Twilio's SID
 * as the row's message_id (which receipts find it by), an opted-out number
 * is suppressed for SMS in E.164, a 429's Retry-After holds the retry back
 * at least that long, and an unusable number fails without a request.
 * Until the worker's dispatch per channel lands, the channel is handed in
 * for every row; rendering is a stand-in that gives the SMS text.
 */
const NOW = new Date('2026-11-20T12:00:00Z');
const cleanup = useCleanups();

const sms: RenderedSms = { channel: 'sms', text: 'Flash sale today only', encoding: 'GSM-7', parts: 1 };

async function setUp() {
  const db = await createTestDb();
  cleanup(() => db.dispose());
  const customers = [
    { id: 1, email: null, country: 'DE' },
    { id: 2, email: null, country: 'DE' },
    { id: 3, email: null, country: 'DE' },
    { id: 4, email: null, country: 'DE' },
  ];
  await createShop(db, { customers, orders: [], products: [], items: [] } as never);
  const phones = ['0151 1111 1111', '0151 2222 2222', '0151 3333 3333', 'not a number'];
  await db.query(
    `INSERT INTO herald.messages (source_kind, source, channel, customer_id, address, site, locale, status, next_attempt_at)
     SELECT 'campaign', 'flash', 'sms', ord, phone, 'shop-en', 'en', 'queued', $2 FROM unnest($1::text[]) WITH ORDINALITY AS x(phone, ord)`,
    [phones, NOW],
  );
  await db.query("INSERT INTO herald.objects (kind, name, spec, hash, apply_id) VALUES ('campaign', 'flash', '{\"status\": \"ready\"}', 'x', 1)");
  const peer = await twilioPeer();
  cleanup(() => peer.close());
  const project = { sites: [{ id: 'shop-en' }], tracking: { base_url: 'https://t.shop.example' }, delivery: { max_age: '24h' } } as unknown as Project;
  const channel = smsChannelFor({ provider: 'twilio', from: '+4930123456', account_sid: 'AC1', auth_token_env: 'T', api_url: peer.url }, project.tracking.base_url, { T: 'token' });
  const ctx: SourceContext = {
    ref: { kind: 'campaign', name: 'flash' },
    project,
    schema: 'shop',
    lists: [],
    renderer: { render: async () => sms as never, on: async () => sms as never },
    policy: { timezones: { 'shop-en': 'UTC' } },
    message: () => ({}) as never,
    extras: async () => new Map(),
  };
  const run = () => deliver(db, { channel: () => channel, log: silentLog, clock: () => NOW, sources: [ctx.ref], loadSource: async () => ctx });
  return { db, peer, run };
}

async function ledger(db: Db) {
  return db.query<{ address: string; status: string; message_id: string; response: string; next_attempt_at: Date | null }>(
    'SELECT address, status, message_id, smtp_response AS response, next_attempt_at FROM herald.messages ORDER BY id',
  );
}

describe('SMS through the worker', () => {
  it('records the SID, suppresses an opted-out number for SMS, waits out Retry-After, and never sends to a non-number', async () => {
    const { db, peer, run } = await setUp();
    // The messages go out side by side: the peer answers each by its number.
    const replies: Record<string, PeerReply> = {
      '+4915111111111': { status: 201, body: { sid: 'SMaaa', status: 'queued' } },
      '+4915122222222': twilioError(400, 21610, 'Attempt to send to unsubscribed recipient'),
      '+4915133333333': twilioError(429, 20429, 'Too Many Requests', { 'retry-after': '600' }),
    };
    peer.answer((form) => replies[form.To!]);
    const totals = await run();
    expect(totals).toMatchObject({ sent: 1, bounced: 1, retried: 1, failed: 1 });
    expect(peer.requests.map((r) => r.form.To).sort()).toEqual(['+4915111111111', '+4915122222222', '+4915133333333']);
    const rows = await ledger(db);
    expect(rows.map(({ status, message_id, response }) => ({ status, message_id, response }))).toEqual([
      { status: 'sent', message_id: 'SMaaa', response: 'twilio 201 queued SMaaa' },
      { status: 'bounced', message_id: `flash.${2}`, response: 'opted out: twilio 400 21610 Attempt to send to unsubscribed recipient' },
      { status: 'queued', message_id: `flash.${3}`, response: 'twilio 429 20429 Too Many Requests' },
      { status: 'failed', message_id: `flash.${4}`, response: 'address: not a phone number: "not a number" in DE' },
    ]);
    // The first retry's backoff is a minute; Twilio asked for ten.
    expect(rows[2]!.next_attempt_at!.getTime() - NOW.getTime()).toBe(600_000);
    expect(await db.query('SELECT email, reason, channel FROM herald.suppressions')).toEqual([{ email: '+4915122222222', reason: 'bounced', channel: 'sms' }]);
  });
});
