import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTrackingServer, listen, type TrackingServer } from '../../src/http/server.js';
import { verifyAutoLoginToken } from '../../src/links/auto-login.js';
import { recordLinkSets } from '../../src/ledger/ledger.js';
import { shortToken } from '../../src/links/short.js';
import { silentLog } from '../../src/log.js';
import type { MessageSource, Recipient } from '../../src/render/message.js';
import { renderPush } from '../../src/render/push.js';
import { renderSms } from '../../src/render/sms.js';
import type { Project } from '../../src/workspace/model.js';
import { createShop } from '../support/shop.js';
import { createTestDb, type TestDb } from '../support/db.js';
import { CHROME, SECRETS, project as trackingProject } from './fixture.js';

/*
 * Short links end to end: an SMS and a push notification rendered for ledger
 * rows, their link sets stored as the worker's recorder stores them, and the
 * links followed on a tracking server listening on 127.0.0.1.
 */
const [current, previous] = SECRETS as [string, string];
const BASE_URL = 'https://mail.example.com/herald';
const NOW = new Date();

let db: TestDb;
let server: TrackingServer;
let base: string;
let project: Project;
const ids = { sms: 0, push: 0, oldSms: 0, fresh: 0 };
const links = { sms: [] as string[], push: '', oldSms: '' };

const source = (template: MessageSource['template']): MessageSource => ({ kind: 'campaign', name: 'flash', title: 'Flash', personalizedGreeting: false, templateName: 'flash', template });
const recipient: Recipient = { customer_id: 1, email: '+4915112345678', first_name: 'Ann', last_name: null, site: 'main', locale: 'en' };

beforeAll(async () => {
  db = await createTestDb();
  project = { ...trackingProject(`${BASE_URL}/`), tracking: { base_url: BASE_URL, utm: { source: 'herald', medium: '{name}' } } } as Project;
  await createShop(db, { customers: [{ id: 1, email: 'ann@example.com', site: 'main' }] });
  const rows = await db.query<{ id: number }>(
    `INSERT INTO herald.messages (source_kind, source, channel, customer_id, address, site, locale, status, sent_at)
     VALUES ('campaign', 'flash', 'sms', 1, '+4915112345678', 'main', 'en', 'sent', now() - interval '1 hour'),
            ('trigger', 'cart', 'push', 1, 'customer:1', 'main', 'en', 'sent', now() - interval '1 hour'),
            ('campaign', 'spring', 'sms', 1, '+4915112345678', 'main', 'en', 'sent', now() - interval '1 day'),
            ('campaign', 'late', 'sms', 1, '+4915112345678', 'main', 'en', 'sent', now() - interval '1 hour')
     RETURNING id`,
  );
  [ids.sms, ids.push, ids.oldSms, ids.fresh] = rows.map((r) => r.id) as [number, number, number, number];

  const o = { project, secret: current, now: NOW };
  const sms = renderSms(o, source({ subject: { en: 's' }, bodies: { en: '' }, sms: { en: 'Sale: https://shop.example.com/sale, log in: {{ links.auto_login }}' } }), recipient, { products: [] }, ids.sms);
  links.sms = [...sms.text.matchAll(/https:\/\/mail\.example\.com\/herald\/s\/[\w-]+/g)].map((m) => m[0]);
  const push = renderPush(o, source({ subject: { en: 's' }, bodies: { en: '' }, push: { en: { title: 'Your cart', body: 'waits', url: '{{ site.url }}/cart' } } }), recipient, { products: [] }, ids.push);
  links.push = push.url!;
  // Sent before a rotation: signed with the secret that is now the previous one.
  const old = renderSms({ ...o, secret: previous }, source({ subject: { en: 's' }, bodies: { en: '' }, sms: { en: 'https://shop.example.com/spring' } }), recipient, { products: [] }, ids.oldSms);
  links.oldSms = old.text;
  await recordLinkSets(db, [sms.linkSet!, push.linkSet!, old.linkSet!]);

  server = await createTrackingServer({ db, project, secrets: SECRETS, log: silentLog }, { flushMs: 20 });
  base = await listen(server, { port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await server?.close();
  await db?.dispose();
});

/** The link as the server listening on 127.0.0.1 serves it (base_url's host stands for it). */
const local = (link: string) => link.replace('https://mail.example.com', base);
const follow = (link: string, headers: Record<string, string> = {}, method = 'GET') => fetch(local(link), { method, redirect: 'manual', headers: { 'user-agent': CHROME, ...headers } });

async function events(message: number): Promise<{ kind: string; class: string; link: number | null; origin: string; url: string | null }[]> {
  while (server.events.pending > 0) await server.events.flush();
  await server.events.flush();
  return db.query('SELECT kind, class, link, origin, detail->>\'url\' AS url FROM herald.message_events WHERE message_id = $1 ORDER BY id', [message]);
}

async function clearEvents(): Promise<void> {
  await events(0);
  await db.query('DELETE FROM herald.message_events');
}

describe('GET /s/<token>', () => {
  it('redirects an SMS link to the stored destination and records a click, no open', async () => {
    await clearEvents();
    expect(links.sms).toHaveLength(2);
    const res = await follow(`${links.sms[0]}?url=https://evil.example/`);
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('https://shop.example.com/sale?utm_source=herald&utm_medium=flash');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await events(ids.sms)).toEqual([{ kind: 'click', class: 'human', link: 0, origin: 'click', url: 'https://shop.example.com/sale?utm_source=herald&utm_medium=flash' }]);
  });

  it("signs the customer's auto-login link afresh at the click", async () => {
    const res = await follow(links.sms[1]!);
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get('location')!);
    expect(`${location.origin}${location.pathname}`).toBe('https://shop.example.com/auto-login');
    expect(location.searchParams.get('utm_medium')).toBe('flash');
    expect(verifyAutoLoginToken(location.searchParams.get('token')!, current)).toMatchObject({ ok: true, login: { customerId: 1, site: 'main' } });
  });

  it("counts a push notification's tap as its open, once per message however often it is tapped", async () => {
    await clearEvents();
    expect(links.push).toMatch(/^https:\/\/mail\.example\.com\/herald\/s\/[\w-]{12}$/);
    // A link checker asks first (HEAD): a scanner's click and open, which do not hide the person's.
    expect((await follow(links.push, {}, 'HEAD')).status).toBe(302);
    for (let i = 0; i < 3; i++) {
      const res = await follow(links.push);
      expect(res.status).toBe(302);
      expect(res.headers.get('location')).toBe('https://shop.example.com/cart?utm_source=herald&utm_medium=flash');
    }
    // Once more after the events are written: the open is still not counted again.
    await events(ids.push);
    await follow(links.push);
    const got = await events(ids.push);
    expect(got.filter((e) => e.kind === 'click').map((e) => e.class)).toEqual(['scanner', 'human', 'human', 'human', 'human']);
    expect(got.filter((e) => e.kind === 'open')).toEqual([
      { kind: 'open', class: 'scanner', link: null, origin: 'click', url: null },
      { kind: 'open', class: 'human', link: null, origin: 'click', url: null },
    ]);
  });

  it('follows a link signed with the previous secret while it is listed', async () => {
    await clearEvents();
    const res = await follow(links.oldSms);
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('https://shop.example.com/spring?utm_source=herald&utm_medium=flash');
    expect(await events(ids.oldSms)).toMatchObject([{ kind: 'click', class: 'human', link: 0 }]);
  });

  it('answers a forged, altered or unknown short link with the 404 page, and records nothing', async () => {
    await clearEvents();
    const token = links.sms[0]!.slice(links.sms[0]!.lastIndexOf('/') + 1);
    const flipped = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;
    const bad = [
      flipped,
      'garbage',
      shortToken({ message: ids.sms, index: 0, push: false }, 'a-secret-herald-does-not-have-0123456789'),
      // Genuine, but the message has no such link, or no link set at all.
      shortToken({ message: ids.sms, index: 5, push: false }, current),
      shortToken({ message: ids.fresh, index: 0, push: false }, current),
      shortToken({ message: 999_999, index: 0, push: true }, current),
    ];
    for (const t of bad) {
      const res = await follow(`${BASE_URL}/s/${t}`);
      expect({ t, status: res.status }).toEqual({ t, status: 404 });
      expect(await res.text()).toContain('Link not found');
    }
    expect(await db.query('SELECT 1 FROM herald.message_events')).toEqual([]);
  });

  it('refuses a link signed with a secret no longer listed', async () => {
    const retired = await createTrackingServer({ db, project, secrets: [current], log: silentLog }, { flushMs: 20 });
    try {
      const at = await listen(retired, { port: 0, host: '127.0.0.1' });
      const res = await fetch(links.oldSms.replace('https://mail.example.com', at), { redirect: 'manual', headers: { 'user-agent': CHROME } });
      expect(res.status).toBe(404);
    } finally {
      await retired.close();
    }
  });
});
