import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { silentLog } from '../../src/log.js';
import { deliver } from '../../src/ledger/worker.js';
import { launchCampaign } from '../../src/campaigns/send.js';
import { reasonCounts } from '../../src/ledger/ledger.js';
import { sourceLoader } from '../../src/tick/sources.js';
import type { SourceRef } from '../../src/ledger/source.js';
import pg from 'pg';
import { CAP_NAMESPACE } from '../../src/ledger/claim.js';
import { sinkWithTransport } from '../support/smtp.js';
import { createTestDb, serverUrl } from '../support/db.js';
import { createShop, EXAMPLE_PRODUCTS } from '../support/shop.js';
import { applyDir } from '../support/apply.js';
import { exampleWorkspace } from '../support/workspace.js';
import { useCleanups } from '../support/cleanup.js';
import { channelsOver } from '../../src/channels/channels.js';
import { twilioPeer } from '../support/twilio.js';

/**
 * The contact policy, enforced where messages are claimed: the frequency cap
 * over every source, and quiet hours in the recipient's local time. A real
 * SMTP peer counts what arrived; the clock is injected.
 */
const cleanup = useCleanups();
// 13:00 in Berlin: outside the example's quiet hours (21:00–09:00).
const NOON = new Date('2026-11-20T12:00:00Z');

const peer = () => sinkWithTransport(cleanup);

const campaignFile = (title: string) => `title: ${title}\nsites: [shop-en]\naudience: { segment: lapsed }\ntemplate: newsletter\nstatus: ready\n`;

async function setup(herald: (y: string) => string = (y) => y, extra: Record<string, string> = {}) {
  const db = await createTestDb();
  const ws = exampleWorkspace({ policy: true });
  cleanup(() => db.dispose(), ws.remove);
  ws.write('herald.yaml', herald(readFileSync(`${ws.dir}/herald.yaml`, 'utf8')));
  for (const name of ['one', 'two', 'three', 'four']) ws.write(`campaigns/${name}.yaml`, campaignFile(`Campaign ${name}`));
  for (const [path, content] of Object.entries(extra)) ws.write(path, content);
  await createShop(db, {
    customers: [
      { id: 1, email: 'anna@example.com', first_name: 'Anna', site: 'shop-en', locale: 'en' },
      { id: 2, email: 'ivan@example.ru', first_name: 'Ivan', site: 'shop-ru', locale: 'ru' },
    ],
    products: EXAMPLE_PRODUCTS,
    orders: [
      { id: 1, customer_id: 1, created_at: '2025-01-10T10:00:00Z' },
      { id: 2, customer_id: 2, created_at: '2025-01-10T10:00:00Z', site: 'shop-ru' },
    ],
  });
  await applyDir(db, ws.dir, { now: NOON });
  return db;
}

const ref = (name: string): SourceRef => ({ kind: 'campaign', name });

async function send(db: Awaited<ReturnType<typeof setup>>, transport: Awaited<ReturnType<typeof peer>>['transport'], at: Date, names: string[]) {
  const clock = () => at;
  for (const n of names) await launchCampaign(db, n, at);
  return deliver(db, { channel: channelsOver(transport), log: silentLog, clock, sources: names.map(ref), loadSource: sourceLoader(db, clock) });
}

describe('the frequency cap', () => {
  it('holds across campaigns: the fourth message in a week is skipped as capped, and the report says why', async () => {
    const db = await setup((y) => y.replace('frequency_cap: { max: 3, per: 7d }', 'frequency_cap: { max: 3, per: 7d }'));
    const { arrived, transport } = await peer();
    await send(db, transport, NOON, ['one', 'two', 'three']);
    expect(arrived.filter((a) => a.to.startsWith('anna@'))).toHaveLength(3);
    const t = await send(db, transport, new Date(NOON.getTime() + 3600_000), ['four']);
    expect(t).toMatchObject({ sent: 0, capped: 1 });
    expect(arrived.filter((a) => a.to.startsWith('anna@'))).toHaveLength(3);
    expect(await reasonCounts(db, ref('four'))).toEqual([{ kind: 'capped', reason: 'frequency cap: 3 per 7d', count: 1 }]);
    // A week later the window has room again.
    const later = await send(db, transport, new Date(NOON.getTime() + 8 * 86400_000), ['four']);
    expect(later.sent).toBe(0); // skipped means skipped: the row is settled, not put off
  });

  it('defers instead when the cap says so, and sends once the oldest message leaves the window', async () => {
    const db = await setup((y) => y.replace('frequency_cap: { max: 3, per: 7d }', 'frequency_cap: { max: 1, per: 1d, when_capped: defer }'));
    const { arrived, transport } = await peer();
    await send(db, transport, NOON, ['one']);
    const t = await send(db, transport, new Date(NOON.getTime() + 60_000), ['two']);
    expect(t).toMatchObject({ sent: 0, deferred: 1 });
    const [row] = await db.query<{ status: string; next_attempt_at: Date; deferred_reason: string }>(
      "SELECT status, next_attempt_at, deferred_reason FROM herald.messages WHERE source = 'two'",
    );
    expect(row).toEqual({ status: 'queued', next_attempt_at: new Date(NOON.getTime() + 86400_000), deferred_reason: 'frequency cap' });
    const next = await send(db, transport, new Date(NOON.getTime() + 86400_000 + 1000), ['two']);
    expect(next.sent).toBe(1);
    expect(arrived.filter((a) => a.to.startsWith('anna@'))).toHaveLength(2);
  });

  it('holds when two workers claim for the same customer at once, from different sources', async () => {
    const db = await setup((y) => y.replace('frequency_cap: { max: 3, per: 7d }', 'frequency_cap: { max: 1, per: 7d }'));
    const { arrived, transport } = await peer();
    for (const n of ['one', 'two', 'three', 'four']) await launchCampaign(db, n, NOON);
    const clock = () => NOON;
    // Four workers, one source each, all at once: only one message may reach each customer.
    await Promise.all(
      ['one', 'two', 'three', 'four'].map((n, i) =>
        deliver(db, { channel: channelsOver(transport), log: silentLog, clock, worker: `w${i}`, sources: [ref(n)], loadSource: sourceLoader(db, clock) }),
      ),
    );
    expect(arrived.filter((a) => a.to.startsWith('anna@'))).toHaveLength(1);
    const [{ capped }] = (await db.query<{ capped: number }>("SELECT count(*)::int AS capped FROM herald.messages WHERE customer_id = 1 AND status = 'capped'")) as [{ capped: number }];
    expect(capped).toBe(3);
  });

  it.skipIf(!serverUrl)('a worker whose recipient another claim holds the cap lock for looks again in a moment, instead of stopping', async () => {
    const db = await setup();
    const { arrived, transport } = await peer();
    await launchCampaign(db, 'one', NOON);
    // Another worker's claim for Anna, in progress: its transaction holds her cap lock.
    const other = new pg.Client({ connectionString: (db as { url?: string }).url });
    await other.connect();
    cleanup(() => other.end());
    await other.query('BEGIN');
    await other.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [CAP_NAMESPACE, '1']);
    let claims = 0;
    let done = false;
    const clock = () => {
      claims++;
      return NOON;
    };
    const delivering = deliver(db, { channel: channelsOver(transport), log: silentLog, clock, sources: [ref('one')], loadSource: sourceLoader(db, clock) }).finally(() => (done = true));
    // It keeps looking while the lock is held (before the fix it found "nothing due" and stopped).
    await expect.poll(() => done || claims >= 20, { timeout: 60_000 }).toBe(true);
    expect(done).toBe(false);
    await other.query('COMMIT');
    expect((await delivering).sent).toBe(1);
    expect(arrived).toHaveLength(1);
  });

  it('exempts a source with frequency_cap: false, which still counts against the others', async () => {
    const db = await setup(
      (y) => y.replace('frequency_cap: { max: 3, per: 7d }', 'frequency_cap: { max: 1, per: 7d }'),
      { 'campaigns/one.yaml': campaignFile('Campaign one') + 'frequency_cap: false\n' },
    );
    const { arrived, transport } = await peer();
    await send(db, transport, NOON, ['one']);
    await send(db, transport, NOON, ['two']);
    expect(arrived.filter((a) => a.to.startsWith('anna@'))).toHaveLength(1);
    expect((await reasonCounts(db, ref('two')))[0]).toMatchObject({ kind: 'capped', count: 1 });
  });
});

describe('quiet hours', () => {
  it('put a message due at night off to the end of the window, in the recipient\'s own time zone, and send it then', async () => {
    // shop-ru's customers live in Moscow (UTC+3), shop-en's in Berlin (UTC+1 in November).
    const db = await setup((y) => y.replace('    currency: RUB\n', '    currency: RUB\n    timezone: Europe/Moscow\n'));
    const { arrived, transport } = await peer();
    // 19:30 UTC: 20:30 in Berlin (before 21:00), 22:30 in Moscow (inside).
    const evening = new Date('2026-11-20T19:30:00Z');
    const first = await send(db, transport, evening, ['winback']);
    expect(first).toMatchObject({ deferred: 1 });
    expect(arrived.some((a) => a.to.startsWith('ivan@'))).toBe(false);
    const [ivan] = await db.query<{ status: string; next_attempt_at: Date; deferrals: number }>(
      "SELECT status, next_attempt_at, deferrals FROM herald.messages WHERE customer_id = 2 AND source = 'winback'",
    );
    // 09:00 the next morning in Moscow is 06:00 UTC.
    expect(ivan).toEqual({ status: 'queued', next_attempt_at: new Date('2026-11-21T06:00:00Z'), deferrals: 1 });
    // At 05:59 UTC nothing is due; at 06:00 it goes.
    expect((await send(db, transport, new Date('2026-11-21T05:59:00Z'), ['winback'])).sent).toBe(0);
    expect((await send(db, transport, new Date('2026-11-21T06:00:00Z'), ['winback'])).sent).toBe(1);
    expect(arrived.filter((a) => a.to.startsWith('ivan@'))).toHaveLength(1);
    expect(await reasonCounts(db, ref('winback'))).toContainEqual({ kind: 'deferred', reason: 'quiet hours', count: 1 });
  });

  it('hold for a send that runs into the night: what is claimed after the window opens waits', async () => {
    const db = await setup();
    const { arrived, transport } = await peer();
    await launchCampaign(db, 'winback', new Date('2026-11-20T19:59:00Z'));
    // The clock crosses 21:00 Berlin (20:00 UTC) as soon as the first claim is made: the
    // next one, made while the first message is rendered and sent (worker.ts), is after it.
    let now = new Date('2026-11-20T19:59:00Z');
    const clock = () => now;
    const load = sourceLoader(db, clock);
    const loadSource = async (r: Parameters<typeof load>[0]) => {
      const ctx = await load(r);
      return { ...ctx, extras: async (batch: Parameters<typeof ctx.extras>[0]) => {
        const extras = await ctx.extras(batch);
        now = new Date('2026-11-20T20:01:00Z');
        return extras;
      } };
    };
    const t = await deliver(db, { channel: channelsOver(transport), log: silentLog, clock, batchSize: 1, sources: [ref('winback')], loadSource });
    expect(t.sent).toBe(1);
    expect(t.deferred).toBe(1);
    const waiting = await db.query<{ next_attempt_at: Date }>("SELECT next_attempt_at FROM herald.messages WHERE source = 'winback' AND status = 'queued'");
    expect(waiting.map((w) => w.next_attempt_at)).toEqual(waiting.map(() => new Date('2026-11-21T08:00:00Z')));
    expect(arrived.length).toBe(t.sent);
  });

  it('quiet_hours: false on a source sends at any hour', async () => {
    const db = await setup((y) => y, { 'campaigns/one.yaml': campaignFile('Campaign one') + 'quiet_hours: false\n' });
    const { transport } = await peer();
    const night = new Date('2026-11-20T23:00:00Z');
    expect((await send(db, transport, night, ['one'])).sent).toBe(1);
    expect((await send(db, transport, night, ['two'])).sent).toBe(0);
  });
});

describe('the contact policy per channel', () => {
  const TOKEN = 'twilio-token-of-the-policy-test';
  async function smsSetup() {
    const twilio = await twilioPeer();
    cleanup(() => twilio.close());
    const db = await setup(
      (y) => y.replace(/sms:\n {2}provider: outbox\n/, `sms:\n  provider: twilio\n  account_sid: AC0123456789abcdef0123456789abcdef\n  auth_token_env: HERALD_POLICY_TWILIO\n  api_url: ${twilio.url}\n`),
      { 'campaigns/texts.yaml': 'title: Texts\nsites: [shop-en]\naudience: { segment: lapsed }\ntemplate: flash-sale\nchannels: [sms]\nstatus: ready\n' },
    );
    await db.query("UPDATE shop.customers SET phone = '+4915112345678', sms_opt_in = true WHERE id = 1");
    process.env.HERALD_POLICY_TWILIO = TOKEN;
    cleanup(() => void delete process.env.HERALD_POLICY_TWILIO);
    return { db, twilio };
  }

  it('counts the frequency cap on each channel apart: three emails leave the SMS budget whole', async () => {
    const { db, twilio } = await smsSetup();
    const { arrived, transport } = await peer();
    await send(db, transport, NOON, ['one', 'two', 'three']);
    expect(arrived.filter((a) => a.to.startsWith('anna@'))).toHaveLength(3);
    const t = await send(db, transport, new Date(NOON.getTime() + 3600_000), ['texts']);
    expect(t).toMatchObject({ sent: 1, capped: 0 });
    expect(twilio.requests.map((r) => r.form.To)).toEqual(['+4915112345678']);
  });

  it('sends SMS by day only: at 20:30 in Berlin the email goes out and the SMS waits until 09:00', async () => {
    const { db, twilio } = await smsSetup();
    const { arrived, transport } = await peer();
    const evening = new Date('2026-11-20T19:30:00Z');
    const t = await send(db, transport, evening, ['one', 'texts']);
    expect(arrived.filter((a) => a.to.startsWith('anna@'))).toHaveLength(1);
    expect(twilio.requests).toHaveLength(0);
    expect(t.deferred).toBe(1);
    const [row] = await db.query<{ status: string; deferred_reason: string; next_attempt_at: Date }>("SELECT status, deferred_reason, next_attempt_at FROM herald.messages WHERE source = 'texts'");
    expect(row).toMatchObject({ status: 'queued', deferred_reason: 'quiet hours' });
    expect(row!.next_attempt_at.toISOString()).toBe('2026-11-21T08:00:00.000Z');
  });
});
