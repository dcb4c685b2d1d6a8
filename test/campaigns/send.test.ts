import { describe, expect, it } from 'vitest';
import { silentLog } from '../../src/log.js';
import { ledgerCounts } from '../../src/ledger/ledger.js';
import { reportMarkdown } from '../../src/report/report.js';
import { campaignReport } from '../../src/report/write.js';
import { launchCampaign, sendCampaign } from '../../src/campaigns/send.js';
import { smtpTransport, type Transport } from '../../src/channels/email/transport.js';
import { addSuppression, normaliseEmail, type AddSuppression } from '../../src/audience/suppressions.js';
import { keyId, verifyToken } from '../../src/links/token.js';
import { messageTag, readReturnPath, readTrackingToken } from '../../src/links/tracking.js';
import { AUTO_LOGIN } from '../../src/links/rewrite.js';
import { verifyLink } from '../../src/links/verify.js';
import { createTestDb } from '../support/db.js';
import { createShop, EXAMPLE_PRODUCTS } from '../support/shop.js';
import { applyDir } from '../support/apply.js';
import { startSmtpSink } from '../support/smtp.js';
import { exampleWorkspace } from '../support/workspace.js';
import { useCleanups } from '../support/cleanup.js';
import { campaign } from '../support/sources.js';

const NOW = new Date('2026-11-20T12:00:00Z');
const LONG_AGO = '2025-01-10T10:00:00Z'; // more than 180 days before NOW
const RECENT = '2026-10-01T10:00:00Z';

const cleanup = useCleanups();

async function setup(edit?: (ws: ReturnType<typeof exampleWorkspace>) => void) {
  const db = await createTestDb();
  const ws = exampleWorkspace();
  edit?.(ws);
  const sink = await startSmtpSink();
  cleanup(() => db.dispose(), ws.remove, () => sink.close());
  await createShop(db, {
    customers: [
      { id: 1, email: 'anna@example.com', first_name: 'Anna', country: 'DE', birthday: '1990-03-12' },
      { id: 2, email: 'boris@example.org', first_name: 'Борис', site: 'shop-ru', locale: 'ru' },
      { id: 3, email: 'optout@example.com', first_name: 'Olga', email_opt_in: false },
      { id: 4, email: null, first_name: 'Nomail' },
      { id: 5, email: 'not-an-address', first_name: 'Bad' },
      { id: 6, email: 'mallory@example.net', first_name: '<script>alert(1)</script>', locale: 'de' },
      { id: 7, email: 'recent@example.com', first_name: 'Recent' },
      { id: 8, email: 'never@example.com', first_name: 'Never' },
    ],
    // The campaign's four SKUs (plan refuses SKUs the shop does not have).
    products: EXAMPLE_PRODUCTS,
    orders: [
      ...[1, 2, 3, 4, 5, 6].map((c) => ({ id: c, customer_id: c, created_at: LONG_AGO })),
      { id: 7, customer_id: 7, created_at: LONG_AGO },
      { id: 17, customer_id: 7, created_at: RECENT },
      // A cancelled recent order does not make customer 1 a recent buyer.
      { id: 21, customer_id: 1, created_at: RECENT, status: 'cancelled' },
    ],
  });
  await applyDir(db, ws.dir, { now: NOW });
  return { db, sink };
}

describe('sendCampaign', () => {
  it('sends the lapsed segment over SMTP, personalised, once', async () => {
    const { db, sink } = await setup();
    const transport = smtpTransport(sink.url);
    cleanup(() => transport.close());
    process.env.HERALD_SECRET = 'test-secret-0123456789abcdef0123456789';
    cleanup(() => void delete process.env.HERALD_SECRET);

    const result = await sendCampaign(db, { campaign: 'winback', transport, now: NOW, log: silentLog });
    // Six in the segment: three recipients, and three recorded with why they get nothing.
    expect(result).toMatchObject({ materialised: 6, sent: 3, failed: 0, bounced: 0, retried: 0, suppressed: 0, completed: true });
    const leftOut = await db.query<{ email: string | null; status: string; reason: string }>("SELECT address AS email, status, reason FROM herald.messages WHERE status <> 'sent' ORDER BY customer_id");
    expect(leftOut).toEqual([
      { email: 'optout@example.com', status: 'suppressed', reason: 'email_opt_in is false' },
      { email: null, status: 'suppressed', reason: 'no email' },
      { email: 'not-an-address', status: 'suppressed', reason: 'invalid email' },
    ]);

    const byTo = new Map(sink.messages.map((m) => [(m.to as { text: string }).text, m]));
    expect([...byTo.keys()].sort()).toEqual(['anna@example.com', 'boris@example.org', 'mallory@example.net']);

    const anna = byTo.get('anna@example.com')!;
    expect(anna.subject).toBe('Anna, it has been a while');
    expect(anna.from?.value).toEqual([{ name: 'Northwind Outfitters', address: 'news@shop.example.com' }]);
    expect(anna.html).toContain('Dear Anna,');
    // A plain-text part, made from the HTML with the same tokens: no markup, the links spelled out.
    expect(anna.text).toContain('Dear Anna,');
    expect(anna.text).not.toMatch(/<\/?(table|div|td|mj-)/);
    expect(anna.text).toMatch(/https:\/\/mail\.shop\.example\.com\/u\//);
    // The campaign's products, in its order, priced for the recipient's locale.
    const annaHtml = String(anna.html);
    expect(annaHtml.indexOf('Wool Coat')).toBeGreaterThan(0);
    expect(annaHtml.indexOf('Wool Coat')).toBeLessThan(annaHtml.indexOf('Trail Boot'));
    expect(anna.html).toContain('€1,249.50');
    expect(anna.html).toContain('Torstraße 1');

    const boris = byTo.get('boris@example.org')!;
    expect(boris.subject).toBe('Борис, давно не виделись');
    expect(boris.html).toContain('Здравствуйте, Борис!');
    expect(boris.html).toMatch(/1\s249,50\s€/);
    expect(boris.from?.text).toContain('news@shop.example.ru');

    // A German customer on an en/ru site gets the site's default locale, and a
    // name full of markup arrives as text.
    const mallory = byTo.get('mallory@example.net')!;
    expect(mallory.html).toContain('Dear &lt;script&gt;alert(1)&lt;/script&gt;,');
    expect(mallory.html).not.toContain('<script>');

    const line = anna.headerLines.find((h) => h.key === 'list-unsubscribe')?.line ?? '';
    const unsub = line.replace(/\r?\n[ \t]+/g, ' ');
    const [, url, mailto] = /<(https:[^>]+)>, <(mailto:[^>]+)>/.exec(unsub) ?? [];
    expect(url).toMatch(/^https:\/\/mail\.shop\.example\.com\/u\//);
    expect(mailto).toMatch(/^mailto:care@shop\.example\.com\?subject=unsubscribe%20/);
    expect(anna.headerLines.find((h) => h.key === 'list-unsubscribe-post')?.line).toBe('List-Unsubscribe-Post: List-Unsubscribe=One-Click');
    expect(anna.html).toContain(url);
    // The link names Anna's ledger row, signed with the secret's key id.
    const [annaRow] = await db.query<{ id: number }>("SELECT id FROM herald.messages WHERE address = 'anna@example.com'");
    const verified = verifyToken(url!.split('/').pop()!, 'test-secret-0123456789abcdef0123456789');
    expect(verified).toEqual({ ok: true, payload: { p: 'u', m: Number(annaRow!.id), k: keyId('test-secret-0123456789abcdef0123456789') } });
    expect(anna.messageId).toBe(`<winback.${annaRow!.id}.${messageTag(Number(annaRow!.id), 'test-secret-0123456789abcdef0123456789')}@shop.example.com>`);

    // Tracking: the envelope sender is a VERP address naming Anna's row; her
    // links lead through signed click links to what was rendered (her
    // auto-login link as a placeholder, signed afresh at the click); the
    // HTML carries an open pixel naming her row.
    const secret = 'test-secret-0123456789abcdef0123456789';
    const annaAt = sink.messages.indexOf(anna);
    expect(sink.senders[annaAt]).toMatch(/^bounces\+[0-9a-z]+-[0-9a-f]{6}-[0-9a-f]{16}@shop\.example\.com$/);
    expect(readReturnPath(sink.senders[annaAt]!, secret)).toEqual({ ok: true, message: Number(annaRow!.id) });
    const clicks = [...annaHtml.matchAll(/href="(https:\/\/mail\.shop\.example\.com\/c\/[\w.-]+\/\d+)"/g)].map((x) => verifyLink(x[1]!, secret));
    expect(clicks.length).toBeGreaterThan(1);
    const annaSet = clicks[0]!.ok && clicks[0]!.link.kind === 'click' ? clicks[0]!.link.set : '';
    const [set] = await db.query<{ hash: string; urls: string[] }>('SELECT hash, urls FROM herald.link_sets WHERE hash = $1', [annaSet]);
    for (const c of clicks) expect(c).toMatchObject({ ok: true, link: { kind: 'click', message: Number(annaRow!.id), set: set!.hash } });
    expect(set!.urls).toContain('https://shop.example.com/new');
    expect(set!.urls).toContain(AUTO_LOGIN);
    expect(annaHtml).not.toContain('href="https://shop.example.com/new"');
    expect(anna.text).not.toContain('https://shop.example.com/new');
    const pixel = /<img src="https:\/\/mail\.shop\.example\.com\/o\/([\w.-]+)"/.exec(annaHtml);
    expect(readTrackingToken(pixel![1]!, secret)).toEqual({ ok: true, link: { kind: 'open', message: Number(annaRow!.id) } });

    // Every recipient's row is settled with the SMTP reply; the others keep why they were left out.
    const rows = await db.query<{ status: string; smtp_response: string }>("SELECT status, smtp_response FROM herald.messages WHERE reason IS NULL");
    expect(rows.every((r) => r.status === 'sent' && r.smtp_response.startsWith('250'))).toBe(true);

    // A second send sends nothing again.
    const again = await sendCampaign(db, { campaign: 'winback', transport, now: NOW, log: silentLog });
    expect(again).toMatchObject({ materialised: 0, sent: 0, failed: 0, suppressed: 0, completed: false });
    expect(sink.messages).toHaveLength(3);
    expect(await ledgerCounts(db, campaign('winback'))).toMatchObject({ audience: 6, left_out: 3, control: 0, recipients: 3, queued: 0, claimed: 0, sent: 3, failed: 0, suppressed: 0 });
  });

  it("fills every customer token of the catalog from the shop's record", async () => {
    const { db, sink } = await setup((ws) => {
      ws.write('templates/newsletter/en.mjml', [
        '<mjml><mj-body><mj-section><mj-column><mj-text>',
        '[{{ customer.first_name }}|{{ customer.last_name }}|{{ customer.email }}|{{ customer.city }}|{{ customer.country }}|{{ customer.birthday }}|{{ customer.locale }}]',
        ' <a href="{{ links.unsubscribe }}">unsubscribe</a> {{ site.postal_address }}',
        '</mj-text></mj-column></mj-section></mj-body></mjml>',
      ].join('\n'));
    });
    const transport = smtpTransport(sink.url);
    cleanup(() => transport.close());
    await sendCampaign(db, { campaign: 'winback', transport, now: NOW, log: silentLog });
    const anna = sink.messages.find((m) => m.to && 'text' in m.to && m.to.text === 'anna@example.com')!;
    expect(anna.text).toContain('[Anna||anna@example.com||DE|March 12|en]');
  });

  it('records a hard bounce (5.1.1) as bounced and suppresses the address; another 5xx as failed; and still completes', async () => {
    const { db } = await setup();
    const { SMTPServer } = await import('smtp-server');
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      onRcptTo(addr, _s, cb) {
        if (addr.address.startsWith('boris')) cb(Object.assign(new Error('5.1.1 no such user'), { responseCode: 550 }));
        else if (addr.address.startsWith('mallory')) cb(Object.assign(new Error('5.3.4 message too big for this mailbox'), { responseCode: 552 }));
        else cb();
      },
      onData(stream, _s, cb) {
        stream.resume();
        stream.on('end', () => cb());
      },
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanup(() => new Promise<void>((r) => server.close(() => r())));
    const transport = smtpTransport(`smtp://127.0.0.1:${(server.server.address() as { port: number }).port}`);
    cleanup(() => transport.close());

    const result = await sendCampaign(db, { campaign: 'winback', transport, now: NOW, log: silentLog });
    expect(result).toMatchObject({ sent: 1, bounced: 1, failed: 1, completed: true });
    const rows = await db.query<{ email: string; status: string; smtp_response: string }>("SELECT address AS email, status, smtp_response FROM herald.messages WHERE status IN ('bounced', 'failed') ORDER BY address");
    expect(rows.map((r) => [r.email, r.status])).toEqual([['boris@example.org', 'bounced'], ['mallory@example.net', 'failed']]);
    expect(rows[0]!.smtp_response).toMatch(/550.*no such user/);
    // The bounced address is suppressed for every site, with the reply as the note.
    const [s] = await db.query<{ email: string; site: string | null; reason: string; note: string }>('SELECT email, site, reason, note FROM herald.suppressions');
    expect(s).toMatchObject({ email: 'boris@example.org', site: null, reason: 'bounced' });
    expect(s!.note).toMatch(/5\.1\.1 no such user/);
  });

  it('leaves out addresses suppressed before materialisation, and settles those suppressed since the launch as suppressed, unsent', async () => {
    const { db, sink } = await setup();
    const smtp = smtpTransport(sink.url);
    cleanup(() => smtp.close());
    const suppress = (s: Pick<AddSuppression, 'email' | 'site' | 'reason'>) => addSuppression(db, { source: 'test', note: null, actor: 'test', ...s });
    // Before the send: Mallory for every site, as she typed it; Anna for shop-ru, which is not her site.
    await suppress({ email: normaliseEmail(' Mallory@Example.NET '), site: null, reason: 'unsubscribed' });
    await suppress({ email: 'anna@example.com', site: 'shop-ru', reason: 'manual' });

    // The audience is drawn; then, before their row is claimed, Boris
    // unsubscribes from his site: his row is in the ledger already. (A claim
    // is made while the batch before it is still in flight, so an
    // unsubscribe counts from the claim after the one it came during.)
    await launchCampaign(db, 'winback', NOW);
    const late = ['boris@example.org'];
    await suppress({ email: 'boris@example.org', site: 'shop-ru', reason: 'unsubscribed' });
    const transport: Transport = smtp;
    const result = await sendCampaign(db, { campaign: 'winback', transport, now: NOW, log: silentLog, batchSize: 1 });
    expect(result).toMatchObject({ sent: 1, failed: 0, suppressed: 1, completed: true });

    // What the SMTP peer accepted: one message, to Anna.
    const accepted = sink.envelopes.flat();
    expect(accepted).toEqual(['anna@example.com']);
    const rows = await db.query<{ email: string; status: string; sent_at: Date | null }>('SELECT address AS email, status, sent_at FROM herald.messages WHERE worker IS NOT NULL ORDER BY address');
    expect(rows.map((r) => [r.email, r.status, r.sent_at === null])).toEqual(
      ['anna@example.com', 'boris@example.org'].map((email) => (email === late[0] ? [email, 'suppressed', true] : [email, 'sent', false])),
    );
    expect(await ledgerCounts(db, campaign('winback'))).toMatchObject({ recipients: 2, queued: 0, claimed: 0, sent: 1, failed: 0, suppressed: 1 });
    // The report shows them apart from failures.
    const report = await campaignReport(db, 'winback');
    expect(report).toMatchObject({ recipients: 2, sent: 1, failed: 0, suppressed: 1, pending: 0 });
    expect(reportMarkdown(report)).toContain('| Suppressed | 1 (50.0%) |');
  });

  it('a link-signing secret too short stops the send before the audience is materialised', async () => {
    const { db, sink } = await setup();
    const smtp = smtpTransport(sink.url);
    cleanup(() => smtp.close());
    const before = process.env.HERALD_SECRET;
    process.env.HERALD_SECRET = 'too-short';
    cleanup(() => {
      if (before === undefined) delete process.env.HERALD_SECRET;
      else process.env.HERALD_SECRET = before;
    });
    await expect(sendCampaign(db, { campaign: 'winback', transport: smtp, now: NOW, log: silentLog })).rejects.toThrow(/a link-signing secret needs at least 32 bytes/);
    // Nothing written: no run, no ledger row; a fixed secret sends it whole.
    const [n] = await db.query<{ runs: number; rows: number }>(`SELECT (SELECT count(*) FROM herald.runs)::int AS runs, (SELECT count(*) FROM herald.messages)::int AS rows`);
    expect(n).toEqual({ runs: 0, rows: 0 });
    process.env.HERALD_SECRET = 'a-secret-long-enough-to-sign-links-with-0123456789';
    expect(await sendCampaign(db, { campaign: 'winback', transport: smtp, now: NOW, log: silentLog })).toMatchObject({ materialised: 6, sent: 3, failed: 0, completed: true });
  });

  it('refuses a campaign that is not ready', async () => {
    const { db } = await setup();
    await db.query("UPDATE herald.objects SET spec = jsonb_set(spec, '{status}', '\"draft\"') WHERE kind = 'campaign'");
    const transport = smtpTransport('smtp://127.0.0.1:1');
    cleanup(() => transport.close());
    await expect(sendCampaign(db, { campaign: 'winback', transport, now: NOW, log: silentLog })).rejects.toThrow(
      'campaign "winback" is draft; only a ready campaign sends',
    );
    await expect(sendCampaign(db, { campaign: 'nope', transport, now: NOW, log: silentLog })).rejects.toThrow('campaign "nope" is not deployed');
  });
});
