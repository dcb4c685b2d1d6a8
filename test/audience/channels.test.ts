import { getCountries, getCountryCallingCode } from 'libphonenumber-js';
import { describe, expect, it } from 'vitest';
import type { Queryable } from '../../src/db/db.js';
import { callingCodes, e164Sql, type ChannelChoice } from '../../src/audience/channels.js';
import { classifiedSql } from '../../src/audience/recipients.js';
import { launch } from '../../src/ledger/materialise.js';
import { createTestDb } from '../support/db.js';
import { useCleanups } from '../support/cleanup.js';
import { createShop } from '../support/shop.js';

/**
 * Who is reached on which channel: phone numbers read as E.164 in SQL, SMS
 * consent and opt-outs, live push subscriptions, and a campaign's choice of
 * channels, first reachable or all, as the breakdown and the ledger see it.
 */
const cleanup = useCleanups();
const SITES = { shop: { locales: ['en'], default: 'en' } };
const EVERYONE = { text: 'SELECT id FROM shop.customers', values: [] };

async function shop(): Promise<Queryable> {
  const db = await createTestDb();
  cleanup(() => db.dispose());
  await createShop(db, { customers: [] });
  // The channel columns and table of the shop data contract, where the shop helper does not make them yet.
  await db.query(`ALTER TABLE shop.customers ADD COLUMN IF NOT EXISTS phone text, ADD COLUMN IF NOT EXISTS sms_opt_in boolean NOT NULL DEFAULT false`);
  await db.query(`CREATE TABLE IF NOT EXISTS shop.push_subscriptions (id bigint PRIMARY KEY, customer_id bigint NOT NULL, kind text NOT NULL, endpoint text, p256dh text, auth text, token text, created_at timestamptz NOT NULL DEFAULT now())`);
  const people: [number, string | null, string | null, string | null, boolean, boolean][] = [
    // id, email, phone, country, email_opt_in, sms_opt_in
    [1, 'push@example.com', '+49 30 1234567', 'DE', true, true],
    [2, 'sms@example.com', '030 1234568', 'DE', true, true],
    [3, 'mail@example.com', null, 'DE', true, false],
    [4, null, '12', 'DE', false, true],
    [5, 'nobody@example.com', '(415) 555-0100', 'US', false, false],
    [6, 'stopped@example.com', '0049 30 1234569', 'DE', false, true],
    [7, 'keyless@example.com', null, 'DE', true, false],
  ];
  for (const [id, email, phone, country, emailOk, smsOk] of people) {
    await db.query(
      `INSERT INTO shop.customers (id, email, first_name, site, locale, country, created_at, email_opt_in, phone, sms_opt_in) VALUES ($1, $2, 'P', 'shop', 'en', $3, now(), $4, $5, $6)`,
      [id, email, country, emailOk, phone, smsOk],
    );
  }
  await db.query(`INSERT INTO shop.push_subscriptions (id, customer_id, kind, token, created_at) VALUES (1, 1, 'fcm', 'device-1', now()), (2, 5, 'fcm', 'device-gone', now())`);
  // Customer 7's browser row lacks its keys: nothing can be sent to it, so it does not make them reachable by push.
  await db.query(`INSERT INTO shop.push_subscriptions (id, customer_id, kind, endpoint, created_at) VALUES (3, 7, 'webpush', 'https://push.example.net/x', now())`);
  // Customer 5's only device was answered 410: it does not count.
  await db.query(`INSERT INTO herald.push_gone (endpoint_sha256, status) VALUES (encode(sha256(convert_to('device-gone', 'UTF8')), 'hex'), 410)`);
  // A STOP reply recorded this number's opt-out in E.164; the shop stores it in another form.
  await db.query(`INSERT INTO herald.suppressions (email, site, reason, source, created_by, channel) VALUES ('+49301234569', NULL, 'unsubscribed', 'sms', 'test', 'sms')`);
  return db;
}

async function classified(db: Queryable, choice: ChannelChoice) {
  const c = classifiedSql('shop', EVERYONE, SITES, undefined, choice);
  return db.query<{ customer_id: number; channel: string; email: string | null; bucket: string; reason: string }>(
    `SELECT customer_id, channel, email, bucket, reason FROM (${c.text}) r ORDER BY customer_id, channel`,
    c.values,
  );
}

describe('channels of an audience', () => {
  it("knows every country's calling code, as libphonenumber-js's own functions give them", () => {
    const codes = JSON.parse(callingCodes()) as Record<string, string>;
    expect(codes).toEqual(Object.fromEntries(getCountries().map((c) => [c, getCountryCallingCode(c)])));
    expect(codes.DE).toBe('49');
    expect(codes.CA).toBe('1');
  });

  it('reads phone numbers as E.164: international, 00, national with the country, North American without a trunk prefix; junk is NULL', async () => {
    const db = await createTestDb();
    cleanup(() => db.dispose());
    const cases: [string, string, string | null][] = [
      ['+49 30 1234567', 'DE', '+49301234567'],
      ['0049-30-1234567', 'DE', '+49301234567'],
      ['030 1234567', 'DE', '+49301234567'],
      ['030 1234567', 'fr', '+33301234567'],
      ['(415) 555-0100', 'US', '+14155550100'],
      ['1 415 555 0100', 'CA', '+14155550100'],
      ['030 1234567', '', null],
      ['12', 'DE', null],
      ['call me', 'DE', null],
    ];
    for (const [phone, country, want] of cases) {
      const [r] = await db.query<{ e: string | null }>(`SELECT ${e164Sql('$1::text', '$2::text', '$3')} AS e`, [phone, country, callingCodes()]);
      expect(r!.e, `${phone} in ${country}`).toBe(want);
    }
  });

  it('sms only: no phone and junk are address problems, no consent and a STOP are no subscription, the rest get their E.164 number', async () => {
    const db = await shop();
    const rows = await classified(db, { channels: ['sms'], mode: 'first_reachable' });
    expect(rows.map((r) => [r.customer_id, r.channel, r.email, r.bucket, r.reason])).toEqual([
      [1, 'sms', '+49301234567', 'recipients', 'recipient'],
      [2, 'sms', '+49301234568', 'recipients', 'recipient'],
      [3, 'sms', null, 'address_problems', 'sms: no phone'],
      [4, 'sms', null, 'address_problems', 'sms: unusable phone number'],
      [5, 'sms', null, 'no_subscription', 'sms: sms_opt_in is false'],
      [6, 'sms', null, 'no_subscription', 'sms: suppressed: unsubscribed (sms)'],
      [7, 'sms', null, 'address_problems', 'sms: no phone'],
    ]);
  });

  it('first_reachable picks, per customer, the first channel they can receive; all sends on each', async () => {
    const db = await shop();
    const first = await classified(db, { channels: ['push', 'sms', 'email'], mode: 'first_reachable' });
    expect(first.map((r) => [r.customer_id, r.channel, r.bucket])).toEqual([
      [1, 'push', 'recipients'],
      [2, 'sms', 'recipients'],
      [3, 'email', 'recipients'],
      [4, 'push', 'address_problems'],
      [5, 'push', 'no_subscription'],
      [6, 'push', 'no_subscription'],
      [7, 'email', 'recipients'],
    ]);
    expect(first.find((r) => r.customer_id === 1)!.email).toBe('customer:1');
    expect(first.find((r) => r.customer_id === 5)!.reason).toBe('push: no push subscription; sms: sms_opt_in is false; email: email_opt_in is false');

    const all = await classified(db, { channels: ['email', 'sms'], mode: 'all' });
    expect(all.filter((r) => r.bucket === 'recipients').map((r) => [r.customer_id, r.channel])).toEqual([
      [1, 'email'],
      [1, 'sms'],
      [2, 'email'],
      [2, 'sms'],
      [3, 'email'],
      [7, 'email'],
    ]);
  });

  it('a launch writes one ledger row per customer and channel, with the address on that channel', async () => {
    const db = await shop();
    const added = await launch(db, {
      campaign: 'both',
      schema: 'shop',
      audience: EVERYONE,
      sites: SITES,
      lists: [],
      split: {},
      versions: { campaign: null, template: null },
      now: new Date('2026-12-05T10:00:00Z'),
      channels: { channels: ['email', 'sms'], mode: 'all' },
    });
    expect(added).toBe(14);
    const rows = await db.query<{ customer_id: number; channel: string; address: string | null; status: string }>(
      `SELECT customer_id, channel, address, status FROM herald.messages WHERE source = 'both' AND status = 'queued' ORDER BY customer_id, channel`,
    );
    expect(rows.map((r) => [r.customer_id, r.channel, r.address])).toEqual([
      [1, 'email', 'push@example.com'],
      [1, 'sms', '+49301234567'],
      [2, 'email', 'sms@example.com'],
      [2, 'sms', '+49301234568'],
      [3, 'email', 'mail@example.com'],
      [7, 'email', 'keyless@example.com'],
    ]);
  });
});
