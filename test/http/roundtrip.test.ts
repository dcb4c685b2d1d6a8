import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLog } from '../../src/log.js';
import { sendCampaign } from '../../src/campaigns/send.js';
import { smtpTransport } from '../../src/channels/email/transport.js';
import { createTrackingServer, listen } from '../../src/http/server.js';
import { serverDeps } from '../../src/http/deps.js';
import { verifyAutoLoginToken } from '../../src/links/auto-login.js';
import { createTestDb } from '../support/db.js';
import { createShop, EXAMPLE_PRODUCTS } from '../support/shop.js';
import { applyDir } from '../support/apply.js';
import { startSmtpSink } from '../support/smtp.js';
import { exampleWorkspace } from '../support/workspace.js';
import { useCleanups } from '../support/cleanup.js';
import { CHROME } from './fixture.js';

/**
 * The whole loop over real parts: a campaign sent through herald's SMTP
 * transport to a real SMTP peer, each message parsed back, and its pixel,
 * every link of its HTML and text parts, and its List-Unsubscribe one-click
 * POST sent to a running tracking server over HTTP. What arrives in the
 * ledger is read back.
 */
const NOW = new Date('2026-11-23T10:00:00Z');
const SECRET = 'roundtrip-secret-0123456789abcdef0123456789';
const BASE = 'https://mail.shop.example.com';

const cleanup = useCleanups();

describe('a sent message, round trip through the tracking server', () => {
  it('records the pixel and every link, redirects each to what was rendered, and honours the one-click unsubscribe', async () => {
    const db = await createTestDb();
    const ws = exampleWorkspace();
    const yaml = join(ws.dir, 'herald.yaml');
    // UTM for the shop's own links, named after the campaign.
    writeFileSync(yaml, readFileSync(yaml, 'utf8').replace(/^(\s+)base_url: (.*)$/m, '$1base_url: $2\n$1utm: { source: herald, medium: email, campaign: "{name}" }'));
    const sink = await startSmtpSink();
    cleanup(() => db.dispose(), ws.remove, () => sink.close());
    process.env.HERALD_SECRET = SECRET;
    cleanup(() => void delete process.env.HERALD_SECRET);
    await createShop(db, {
      customers: [
        { id: 1, email: 'anna@example.com', first_name: 'Anna' },
        { id: 2, email: 'boris@example.org', first_name: 'Борис', site: 'shop-ru', locale: 'ru' },
      ],
      products: EXAMPLE_PRODUCTS,
      orders: [1, 2].map((c) => ({ id: c, customer_id: c, created_at: '2025-01-10T10:00:00Z' })),
    });
    await applyDir(db, ws.dir, { now: NOW });
    const transport = smtpTransport(sink.url);
    cleanup(() => transport.close());
    const sent = await sendCampaign(db, { campaign: 'winback', transport, now: NOW, log: silentLog });
    expect(sent).toMatchObject({ sent: 2, failed: 0 });

    // The recipients read their mail a few minutes after it arrived: a click within seconds of the send is a scanner's.
    const server = await createTrackingServer({ ...(await serverDeps(db, silentLog)), clock: () => new Date(Date.now() + 5 * 60_000) });
    cleanup(() => server.close());
    const local = await listen(server, { port: 0, host: '127.0.0.1' });
    // A mail client fetches herald's links; here they go to the local server instead of the public host.
    const fetchLink = (url: string, init: RequestInit = {}) => {
      expect(url.startsWith(`${BASE}/`)).toBe(true);
      return fetch(local + url.slice(BASE.length), { redirect: 'manual', ...init, headers: { 'user-agent': CHROME, ...init.headers } });
    };

    const rows = await db.query<{ id: string; customer_id: number; address: string }>("SELECT id, customer_id, address FROM herald.messages WHERE status = 'sent' ORDER BY id");
    let clicks = 0;
    for (const m of sink.messages) {
      const to = (m.to as { text: string }).text;
      const row = rows.find((r) => r.address === to)!;
      const html = String(m.html);
      const site = to.endsWith('.org') ? 'https://shop.example.ru' : 'https://shop.example.com';

      const pixel = /<img src="([^"]+\/o\/[^"]+)"/.exec(html)![1]!;
      const gif = await fetchLink(pixel);
      expect(gif.status).toBe(200);
      expect(gif.headers.get('content-type')).toBe('image/gif');

      const links = [...new Set([...html.matchAll(/href="([^"]+\/c\/[^"]+)"/g)].map((x) => x[1]!))];
      const textLinks = [...new Set([...(m.text ?? '').matchAll(/https?:\/\/\S+\/c\/[\w.-]+\/\d+/g)].map((x) => x[0]))];
      expect(links.length).toBeGreaterThan(2);
      // The text part's links are the HTML's, tracked the same way.
      for (const t of textLinks) expect(links).toContain(t);
      const destinations: string[] = [];
      for (const link of links) {
        const res = await fetchLink(link);
        expect(res.status).toBe(302);
        destinations.push(res.headers.get('location')!);
        clicks++;
      }
      // Every destination is the shop's, with the campaign's UTM parameters.
      const utm = (d: string) => ['utm_source', 'utm_medium', 'utm_campaign'].map((k) => new URL(d).searchParams.get(k));
      for (const d of destinations) expect([d, utm(d)]).toEqual([d, ['herald', 'email', 'winback']]);
      expect(destinations.map((d) => d.split('?')[0])).toContain(`${site}/new`);
      // The auto-login link, signed at the click for this recipient, and still carrying its UTM.
      const login = destinations.find((d) => d.includes('/auto-login?token='))!;
      const token = new URL(login).searchParams.get('token')!;
      expect(verifyAutoLoginToken(token, SECRET)).toMatchObject({ ok: true, login: { customerId: row.customer_id } });

      // The one-click unsubscribe of the List-Unsubscribe header, as a mailbox provider POSTs it.
      const header = (m.headerLines.find((h) => h.key === 'list-unsubscribe')?.line ?? '').replace(/\r?\n[ \t]+/g, ' ');
      const https = /<(https:[^>]+)>/.exec(header)![1]!;
      if (to === 'anna@example.com') {
        const res = await fetchLink(https, { method: 'POST', body: new URLSearchParams({ 'List-Unsubscribe': 'One-Click' }) });
        expect(res.status).toBe(200);
      } else {
        // The other recipient's GET (a link scanner's, say) changes nothing.
        expect((await fetchLink(https)).status).toBe(200);
      }
    }

    await server.close();
    const events = await db.query<{ message_id: string; kind: string; class: string | null; n: number }>(
      'SELECT message_id, kind, class, count(*)::int AS n FROM herald.message_events GROUP BY 1, 2, 3 ORDER BY 1, 2',
    );
    const of = (id: string, kind: string) => events.filter((e) => e.message_id === id && e.kind === kind);
    for (const r of rows) expect(of(r.id, 'open')).toEqual([{ message_id: r.id, kind: 'open', class: 'human', n: 1 }]);
    expect(events.filter((e) => e.kind === 'click').reduce((n, e) => n + e.n, 0)).toBe(clicks);
    expect(events.filter((e) => e.kind === 'click').every((e) => e.class === 'human')).toBe(true);
    const anna = rows.find((r) => r.address === 'anna@example.com')!;
    expect(events.filter((e) => e.kind === 'unsubscribe')).toEqual([{ message_id: anna.id, kind: 'unsubscribe', class: null, n: 1 }]);
    const suppressed = await db.query<{ email: string; reason: string; source: string }>('SELECT email, reason, source FROM herald.suppressions');
    expect(suppressed).toEqual([{ email: 'anna@example.com', reason: 'unsubscribed', source: 'one-click' }]);
  });
});
