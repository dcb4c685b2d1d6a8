import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTrackingHandler, createTrackingServer, listen, type TrackingServer } from '../../src/http/server.js';
import { clicksToken, clickToken, openToken, recipientUnsubscribeToken, unsubscribeToken } from '../../src/links/tracking.js';
import { verifyAutoLoginToken } from '../../src/links/auto-login.js';
import { pino } from 'pino';
import { silentLog } from '../../src/log.js';
import { createTestDb, type TestDb } from '../support/db.js';
import { CHROME, LINKS, SECRETS, SET, project, seed } from './fixture.js';

let db: TestDb;
let server: TrackingServer;
let base: string;
let ids: Awaited<ReturnType<typeof seed>>;
const [current, previous] = SECRETS as [string, string];

beforeAll(async () => {
  db = await createTestDb();
  ids = await seed(db);
  server = await createTrackingServer({ db, project: project('https://mail.example.com/herald/'), secrets: SECRETS, log: silentLog }, { flushMs: 20 });
  base = `${await listen(server, { port: 0, host: '127.0.0.1' })}/herald`;
});
afterAll(async () => {
  await server?.close();
  await db?.dispose();
});

/** Every event the server holds, written. */
async function drain(s: TrackingServer = server): Promise<void> {
  while (s.events.pending > 0) await s.events.flush();
  await s.events.flush();
}

async function events(message: number, kind: string) {
  await drain();
  return db.query<{ class: string; link: number | null; origin: string; detail: Record<string, unknown> | null }>(
    'SELECT class, link, origin, detail FROM herald.message_events WHERE message_id = $1 AND kind = $2 ORDER BY id',
    [message, kind],
  );
}

async function clearEvents(): Promise<void> {
  await drain();
  await db.query('DELETE FROM herald.message_events');
  await db.query('DELETE FROM herald.suppressions');
}

/** A click link's path as herald makes it: the message's clicks token, then the link's index. */
const click = (message: number, index: number | string, secret = current, set = SET) => `/c/${clicksToken(message, set, secret)}/${index}`;

const get = (path: string, init: RequestInit = {}) => fetch(`${base}${path}`, { redirect: 'manual', ...init, headers: { 'user-agent': CHROME, ...(init.headers as Record<string, string>) } });

describe('open pixel', () => {
  it('serves a 43-byte GIF that nobody caches and records a human open', async () => {
    await clearEvents();
    const res = await get(`/o/${openToken(ids.old, current)}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/gif');
    expect(res.headers.get('cache-control')).toBe('no-store, private');
    expect((await res.arrayBuffer()).byteLength).toBe(43);
    expect(await events(ids.old, 'open')).toEqual([{ class: 'human', link: null, origin: 'pixel', detail: null }]);
  });

  it("classifies Apple Mail Privacy Protection's fetch as mpp and Gmail's image proxy as human", async () => {
    await clearEvents();
    await get(`/o/${openToken(ids.old, current)}`, { headers: { 'user-agent': 'Mozilla/5.0' } });
    await get(`/o/${openToken(ids.old, current)}`, { headers: { 'user-agent': 'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)' } });
    expect((await events(ids.old, 'open')).map((e) => e.class)).toEqual(['mpp', 'human']);
  });

  it('still serves the image for a bad token, and records nothing', async () => {
    await clearEvents();
    const good = openToken(ids.old, current);
    for (const token of [`${good.slice(0, -2)}xx`, 'garbage', clickToken(ids.old, SET, 0, current), clicksToken(ids.old, SET, current), openToken(ids.old, 'a-secret-herald-does-not-have-0123456789')]) {
      const res = await get(`/o/${token}`);
      expect(res.status).toBe(200);
      expect((await res.arrayBuffer()).byteLength).toBe(43);
    }
    expect(await events(ids.old, 'open')).toEqual([]);
  });

  it('drops an open of a message the ledger does not have, and writes the rest of its batch', async () => {
    await clearEvents();
    await get(`/o/${openToken(999_999, current)}`);
    await get(`/o/${openToken(ids.old, current)}`);
    expect(await events(ids.old, 'open')).toHaveLength(1);
    expect(await db.query('SELECT 1 FROM herald.message_events WHERE message_id = 999999')).toEqual([]);
  });
});

describe('click redirect', () => {
  it('redirects to the link as rendered, with no cache and no referrer, and records a human click', async () => {
    await clearEvents();
    const res = await get(click(ids.old, 0));
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe(LINKS[0]);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(await events(ids.old, 'click')).toEqual([{ class: 'human', link: 0, origin: 'click', detail: { url: LINKS[0] } }]);
  });

  it("signs the customer's auto-login link afresh, keeping what followed the placeholder; a contact gets the site", async () => {
    const res = await get(click(ids.old, 1));
    const location = new URL(res.headers.get('location')!);
    expect(`${location.origin}${location.pathname}`).toBe('https://shop.example.com/auto-login');
    expect(location.searchParams.get('utm_source')).toBe('herald');
    const login = verifyAutoLoginToken(location.searchParams.get('token')!, current);
    expect(login.ok && login.login.customerId).toBe(1);
    const contact = await get(click(ids.contactMessage, 1));
    expect(contact.headers.get('location')).toBe('https://shop.example.com?utm_source=herald');
  });

  it('follows a token signed with the previous secret (rotation)', async () => {
    const res = await get(click(ids.old, 0, previous));
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe(LINKS[0]);
  });

  it('classifies a bot, a HEAD and a click within seconds of the send as scanners; HEAD is still redirected', async () => {
    await clearEvents();
    await db.query('UPDATE herald.messages SET sent_at = now() WHERE id = $1', [ids.fresh]);
    await get(click(ids.old, 0), { headers: { 'user-agent': 'Barracuda Sentinel (EE)' } });
    const head = await get(click(ids.old, 0), { method: 'HEAD' });
    expect(head.status).toBe(302);
    expect(head.headers.get('location')).toBe(LINKS[0]);
    await get(click(ids.fresh, 0));
    expect((await events(ids.old, 'click')).map((e) => [e.class, e.detail?.by])).toEqual([
      ['scanner', 'isbot'],
      ['scanner', 'head'],
    ]);
    expect((await events(ids.fresh, 'click')).map((e) => [e.class, e.detail?.by])).toEqual([['scanner', 'timing']]);
  });

  it('follows a click link from before one token served all of a message\'s links (/c/<token>, the index signed in it)', async () => {
    await clearEvents();
    const res = await get(`/c/${clickToken(ids.old, SET, 0, current)}`);
    expect([res.status, res.headers.get('location')]).toEqual([302, LINKS[0]]);
    const rotated = await get(`/c/${clickToken(ids.old, SET, 0, previous)}`);
    expect([rotated.status, rotated.headers.get('location')]).toEqual([302, LINKS[0]]);
    expect(await events(ids.old, 'click')).toEqual([
      { class: 'human', link: 0, origin: 'click', detail: { url: LINKS[0] } },
      { class: 'human', link: 0, origin: 'click', detail: { url: LINKS[0] } },
    ]);
  });

  it('answers 404, never a redirect, for tampered tokens and attempted open redirects', async () => {
    await clearEvents();
    const token = clicksToken(ids.old, SET, current);
    const good = `/c/${token}/0`;
    const legacy = clickToken(ids.old, SET, 0, current);
    const [body, sig] = legacy.split('.') as [string, string];
    const payload = JSON.parse(Buffer.from(body, 'base64url').toString());
    const reindexed = `${Buffer.from(JSON.stringify({ ...payload, i: 2 })).toString('base64url')}.${sig}`;
    const [setBody, setSig] = token.split('.') as [string, string];
    const reset = `${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(setBody, 'base64url').toString()), m: ids.fresh })).toString('base64url')}.${setSig}`;
    const attempts = [
      `/c/${token.slice(0, -3)}abc/0`,
      `/c/${reset}/0`,
      `/c/${token}`, // a message's clicks token names no link without its index
      `/c/${token}/-1`,
      `/c/${token}/1.5`,
      `/c/${token}/0x1`,
      `/c/${token}/${'9'.repeat(20)}`,
      `/c/${token}/0/1`,
      `/c/${legacy}/0`, // a legacy token's index is signed in it: nothing may follow it
      `/c/${legacy.slice(0, -3)}abc`,
      `/c/${reindexed}`,
      `/c/${openToken(ids.old, current)}`,
      `/c/${openToken(ids.old, current)}/0`,
      `/c/${unsubscribeToken(ids.old, current)}/0`,
      click(ids.old, 2), // the set's javascript: link is never followed
      click(ids.old, 9),
      click(ids.old, 0, current, 'no-such-set'),
      click(ids.old, 0, 'a-secret-herald-does-not-have-0123456789'),
      `${good}/https://evil.example/`,
      `/c/${token}/https:%2F%2Fevil.example`,
      `${good}%2F..%2F..%2Fevil.example`,
      `/c/${legacy}/https://evil.example/`,
      `/c/${legacy}%2F..%2F..%2Fevil.example`,
      `/c/https:%2F%2Fevil.example`,
      `/c/${'a'.repeat(1100)}.${'b'.repeat(43)}`,
      `/c/${'a'.repeat(1100)}.${'b'.repeat(43)}/0`,
      `//evil.example${good}`,
    ];
    for (const path of attempts) {
      const res = await get(path);
      expect([path, res.status, res.headers.get('location')]).toEqual([path, 404, null]);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(await res.text()).not.toMatch(/evil/);
    }
    expect(await events(ids.old, 'click')).toEqual([]);
  });

  it('never reads a query string: a click with one goes where the link was rendered to go', async () => {
    const [stored] = await db.query<{ url: string }>('SELECT urls[1] AS url FROM herald.link_sets WHERE hash = $1', [SET]);
    for (const query of ['?url=https://evil.example/', '?next=%2F%2Fevil.example', '?fbclid=abc123']) {
      const res = await get(`${click(ids.old, 0)}${query}`);
      expect([query, res.status]).toEqual([query, 302]);
      expect(res.headers.get('location')).toBe(stored!.url);
      expect(res.headers.get('location')).not.toMatch(/evil|fbclid/);
    }
  });
});

describe('unsubscribe', () => {
  const form = (fields: Record<string, string>) => ({ method: 'POST', body: new URLSearchParams(fields) });
  const suppressions = () => db.query<{ email: string; site: string; reason: string; source: string; note: string }>('SELECT email, site, reason, source, note FROM herald.suppressions ORDER BY email');

  it('shows a confirmation page on GET, with a real button and no script, and suppresses nobody', async () => {
    await clearEvents();
    const res = await get(`/u/${unsubscribeToken(ids.old, current)}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-robots-tag')).toBe('noindex');
    expect(res.headers.get('cache-control')).toBe('no-store');
    const html = await res.text();
    expect(html).toMatch(/<form method="post">[\s\S]*<button type="submit">Unsubscribe<\/button>[\s\S]*<\/form>/);
    expect(html).toContain('Main &#38; &#60;Co&#62;');
    expect(html).not.toMatch(/<script|onload|http-equiv/i);
    expect(await suppressions()).toEqual([]);
    expect(await events(ids.old, 'unsubscribe')).toEqual([]);
  });

  it('unsubscribes at once on the RFC 8058 one-click POST, once however often it comes', async () => {
    await clearEvents();
    for (let i = 0; i < 2; i++) {
      const res = await get(`/u/${unsubscribeToken(ids.old, current)}`, form({ 'List-Unsubscribe': 'One-Click' }));
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('You are unsubscribed');
    }
    expect(await suppressions()).toEqual([{ email: 'ann@example.com', site: 'main', reason: 'unsubscribed', source: 'one-click', note: `campaign spring, message ${ids.old}` }]);
    expect(await db.query("SELECT origin FROM herald.message_events WHERE kind = 'unsubscribe'")).toEqual([{ origin: 'one-click' }]);
  });

  it('takes the one-click POST as multipart/form-data too, and the confirmation page button', async () => {
    await clearEvents();
    const multipart = new FormData();
    multipart.append('List-Unsubscribe', 'One-Click');
    expect((await get(`/u/${unsubscribeToken(ids.old, current)}`, { method: 'POST', body: multipart })).status).toBe(200);
    expect((await get(`/u/${unsubscribeToken(ids.fresh, previous)}`, form({ confirm: 'unsubscribe' }))).status).toBe(200);
    expect((await suppressions()).map((s) => [s.email, s.source])).toEqual([
      ['ann@example.com', 'one-click'],
      ['bob@example.com', 'page'],
    ]);
  });

  it('refuses a POST that asks for nothing, a bad token, and an oversized body', async () => {
    await clearEvents();
    expect((await get(`/u/${unsubscribeToken(ids.old, current)}`, form({ other: 'x' }))).status).toBe(400);
    expect((await get(`/u/${unsubscribeToken(ids.old, current)}`, { method: 'POST' })).status).toBe(400);
    expect((await get(`/u/${unsubscribeToken(ids.old, current).slice(0, -2)}zz`, form({ 'List-Unsubscribe': 'One-Click' }))).status).toBe(404);
    expect((await get(`/u/${openToken(ids.old, current)}`, form({ 'List-Unsubscribe': 'One-Click' }))).status).toBe(404);
    expect((await get(`/u/${unsubscribeToken(ids.old, current)}`, form({ 'List-Unsubscribe': 'One-Click', pad: 'x'.repeat(20_000) }))).status).toBe(413);
    expect(await suppressions()).toEqual([]);
  });

  it('unsubscribes through a link that names the recipient (before ledger ids): a customer by the shop, a contact by herald.contacts', async () => {
    await clearEvents();
    const customer = recipientUnsubscribeToken({ customer: 1, contact: null, site: 'main', source: 'spring' }, current);
    const contact = recipientUnsubscribeToken({ customer: null, contact: ids.contact, site: 'main', source: 'spring' }, current);
    expect((await get(`/unsubscribe/${customer}`)).status).toBe(200);
    expect(await suppressions()).toEqual([]);
    for (const t of [customer, contact]) expect((await get(`/unsubscribe/${t}`, form({ 'List-Unsubscribe': 'One-Click' }))).status).toBe(200);
    expect((await suppressions()).map((s) => [s.email, s.site, s.note])).toEqual([
      ['ann@example.com', 'main', 'spring, customer 1 (a link that names no ledger message)'],
      ['carol@example.com', 'main', `spring, contact ${ids.contact} (a link that names no ledger message)`],
    ]);
    const unknown = recipientUnsubscribeToken({ customer: 424242, contact: null, site: 'main', source: 'spring' }, current);
    expect((await get(`/unsubscribe/${unknown}`)).status).toBe(404);
  });
});

describe('bodies that do not parse', () => {
  it('answers 400 to a malformed multipart body, with or without a boundary, before any token is read, and logs no error', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) });
    const s = await createTrackingServer({ db, project: project('https://mail.example.com/herald/'), secrets: SECRETS, log }, { flushMs: 20 });
    try {
      const at = `${await listen(s, { port: 0, host: '127.0.0.1' })}/herald`;
      for (const path of ['/u/anything', `/u/${unsubscribeToken(ids.old, current)}`, '/unsubscribe/x', '/sms/inbound', '/sms/status']) {
        for (const type of ['multipart/form-data; boundary=xyz', 'multipart/form-data']) {
          const res = await fetch(`${at}${path}`, { method: 'POST', headers: { 'content-type': type }, body: 'garbage' });
          expect([path, type, res.status]).toEqual([path, type, 400]);
          expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
        }
      }
    } finally {
      await s.close();
    }
    const logged = lines.map((l) => JSON.parse(l) as { level: number; err?: { stack?: string } });
    expect(logged.filter((l) => l.level >= 50)).toEqual([]);
    expect(logged.filter((l) => l.err?.stack)).toEqual([]);
  });
});

describe('health and mounting', () => {
  it('answers the health check at the root and under the base path, and 503 when the database is gone', async () => {
    expect((await fetch(`${base.replace(/\/herald$/, '')}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const gone = await createTestDb();
    await gone.dispose();
    const s = await createTrackingServer({ db: gone, project: project('https://mail.example.com'), secrets: SECRETS, log: silentLog });
    try {
      const url = await listen(s, { port: 0, host: '127.0.0.1' });
      expect((await fetch(`${url}/healthz`)).status).toBe(503);
    } finally {
      await s.close();
    }
  });

  it("works as a (req, res) handler inside a shop's own node:http server", async () => {
    await clearEvents();
    const tracking = await createTrackingHandler({ db, project: project('https://shop.example.com/herald'), secrets: SECRETS, log: silentLog });
    const shop = createServer((req, res) => (req.url?.startsWith('/herald/') ? tracking.handler(req, res) : res.end('the shop')));
    await new Promise<void>((r) => shop.listen(0, '127.0.0.1', r));
    const at = `http://127.0.0.1:${(shop.address() as { port: number }).port}`;
    try {
      expect(await (await fetch(`${at}/cart`)).text()).toBe('the shop');
      const pixel = await fetch(`${at}/herald/o/${openToken(ids.old, current)}`, { headers: { 'user-agent': CHROME } });
      expect((await pixel.arrayBuffer()).byteLength).toBe(43);
      const clicked = await fetch(`${at}/herald${click(ids.old, 0)}`, { redirect: 'manual', headers: { 'user-agent': CHROME } });
      expect([clicked.status, clicked.headers.get('location')]).toEqual([302, LINKS[0]]);
      expect((await fetch(`${at}/herald/c/nope`, { redirect: 'manual' })).status).toBe(404);
    } finally {
      await new Promise<void>((r) => shop.close(() => r()));
      // Closing the handler writes what it held.
      await tracking.close();
    }
    expect(await db.query("SELECT kind, class FROM herald.message_events WHERE kind IN ('open', 'click') ORDER BY kind")).toEqual([
      { kind: 'click', class: 'human' },
      { kind: 'open', class: 'human' },
    ]);
  });
});
