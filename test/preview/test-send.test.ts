import { SMTPServer } from 'smtp-server';
import { describe, expect, it } from 'vitest';
import { loadSamples } from '../../src/preview/samples.js';
import { ledgerCounts } from '../../src/ledger/ledger.js';
import { testSend } from '../../src/preview/test-send.js';
import { smtpTransport } from '../../src/channels/email/transport.js';
import { verifyAutoLoginToken } from '../../src/links/auto-login.js';
import { verifyLink } from '../../src/links/verify.js';
import { serverUrl } from '../support/db.js';
import { loadWorkspace } from '../../src/workspace/load.js';
import { createTestDb } from '../support/db.js';
import { createShop } from '../support/shop.js';
import { applyDir } from '../support/apply.js';
import { startSmtpSink } from '../support/smtp.js';
import { exampleWorkspace } from '../support/workspace.js';
import { useCleanups } from '../support/cleanup.js';
import { herald } from '../support/cli.js';
import { closedPort } from '../support/ports.js';
import { campaign } from '../support/sources.js';

const NOW = new Date('2026-11-20T12:00:00Z');
const cleanup = useCleanups();

async function setup() {
  const ws = exampleWorkspace();
  const sink = await startSmtpSink();
  const transport = smtpTransport(sink.url);
  cleanup(ws.remove, () => sink.close(), () => transport.close());
  const { workspace } = loadWorkspace(ws.dir);
  return { workspace: workspace!, sink, transport, dir: ws.dir };
}

describe('testSend', () => {
  it('sends one [TEST] message per A/B variant to each inbox, marked, from the working copy', async () => {
    const { workspace, sink, transport } = await setup();
    const samples = await loadSamples(workspace);
    const sent = await testSend(workspace, { target: 'shoe-care-week', to: ['marketer@example.com', 'boss@example.com'], samples, secret: 's', transport, dkim: new Map(), now: NOW, locale: 'ru' });
    expect(sent.map((s) => [s.to, s.variant, s.locale])).toEqual([
      ['marketer@example.com', 'care-tips', 'ru'],
      ['boss@example.com', 'care-tips', 'ru'],
      ['marketer@example.com', 'discount', 'ru'],
      ['boss@example.com', 'discount', 'ru'],
    ]);
    expect(sink.envelopes).toEqual([['marketer@example.com'], ['boss@example.com'], ['marketer@example.com'], ['boss@example.com']]);
    // Each variant's own subject, rendered for the sample customer, behind [TEST].
    expect(sink.messages.map((m) => m.subject)).toEqual([
      '[TEST] Ольга, сохраните обувь как новую',
      '[TEST] Ольга, сохраните обувь как новую',
      '[TEST] Скидка 15% на уход за обувью — только эту неделю',
      '[TEST] Скидка 15% на уход за обувью — только эту неделю',
    ]);
    expect(sink.messages[0]!.headers.get('x-herald-test')).toBe('campaign/shoe-care-week variant care-tips');
    expect(sink.messages[0]!.html).toContain('Здравствуйте, Ольга!');
    // Every test message has its own id, never one a ledger row could have.
    const ids = sink.messages.map((m) => m.messageId);
    expect(new Set(ids).size).toBe(4);
    for (const id of ids) expect(id).toMatch(/^<test\.[0-9a-f-]{36}@shop\.example\.com>$/);
  });

  it("renders the working copy, not what is deployed, and leaves the campaign's ledger alone", async () => {
    const { workspace, sink, transport, dir } = await setup();
    const db = await createTestDb();
    cleanup(() => db.dispose());
    await createShop(db, {
      customers: [{ id: 7, email: 'real@example.com', first_name: 'Wilhelmina', last_name: 'Real', site: 'shop-en', locale: 'en' }],
      products: [
        { sku: 'SH-001', category: 'shoes', name: 'Trail Boot', price: 129.9 },
        { sku: 'OW-001', category: 'outerwear', name: 'Wool Coat', price: 1249.5 },
        { sku: 'BG-001', category: 'bags', name: 'Tote', price: 99 },
        { sku: 'AC-002', category: 'accessories', name: 'Scarf', price: 39 },
      ],
    });
    await applyDir(db, dir, { now: NOW });
    const samples = await loadSamples(workspace, { db, customerIds: [7] });
    const sent = await testSend(workspace, { target: 'campaign/winback', to: ['marketer@example.com'], samples, secret: 'secret', transport, dkim: new Map(), now: NOW });
    expect(sent).toHaveLength(1);
    const m = sink.messages[0]!;
    expect(m.subject).toBe('[TEST] Wilhelmina, it has been a while');
    expect(m.html).toContain('Dear Wilhelmina,');
    // The shop's own products, priced for the site.
    expect(m.html).toContain('Wool Coat');
    expect(m.html).toContain('€1,249.50');
    // The auto-login link works for the chosen customer, as it would in the real send.
    const token = /auto-login\?token=([\w.-]+)/.exec(String(m.html))?.[1];
    expect(verifyAutoLoginToken(token!, 'secret', NOW)).toMatchObject({ ok: true, login: { customerId: 7, site: 'shop-en' } });
    // Nothing in the ledger: the campaign has not started, and reports see nothing.
    expect(await ledgerCounts(db, campaign('winback'))).toMatchObject({ audience: 0, sent: 0 });
    const [runs] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM herald.runs');
    expect(runs!.n).toBe(0);
  });

  it("renders for --customer in the customer's own site and locale unless --site or --locale say otherwise", async () => {
    const { workspace, sink, transport } = await setup();
    const db = await createTestDb();
    cleanup(() => db.dispose());
    await createShop(db, {
      customers: [
        // On the Russian site, reading English: the site's first locale and the campaign's first site are both wrong guesses.
        { id: 4, email: 'four@example.com', first_name: 'Fiona', site: 'shop-ru', locale: 'en' },
        { id: 5, email: 'five@example.com', first_name: 'Борис', site: 'shop-en', locale: 'ru' },
        // A locale the site does not write in: the site's default, as a send would.
        { id: 6, email: 'six@example.com', first_name: 'Fabien', site: 'shop-en', locale: 'fr' },
      ],
    });
    const base = { target: 'campaign/winback', to: ['marketer@example.com'], secret: 's', transport, dkim: new Map(), now: NOW };
    const send = async (id: number, more: { site?: string; locale?: string } = {}) =>
      testSend(workspace, { ...base, ...more, samples: await loadSamples(workspace, { db, customerIds: [id] }) });

    expect(await send(4)).toMatchObject([{ site: 'shop-ru', locale: 'en', recipient: 'four@example.com' }]);
    expect(await send(5)).toMatchObject([{ site: 'shop-en', locale: 'ru', recipient: 'five@example.com' }]);
    expect(await send(6)).toMatchObject([{ site: 'shop-en', locale: 'en', recipient: 'six@example.com' }]);
    // --locale renders the same customer in another language the site writes.
    expect(await send(4, { locale: 'ru' })).toMatchObject([{ site: 'shop-ru', locale: 'ru' }]);
    expect(sink.messages.map((m) => m.subject)).toEqual([
      '[TEST] Fiona, it has been a while',
      '[TEST] Борис, давно не виделись',
      '[TEST] Fabien, it has been a while',
      '[TEST] Fiona, давно не виделись',
    ]);
    expect(sink.messages[0]!.html).toContain('Dear Fiona,');

    await expect(send(4, { site: 'shop-en' })).rejects.toThrow('customer 4 belongs to site shop-ru, not shop-en');
    await expect(send(4, { locale: 'fr' })).rejects.toThrow('site shop-ru does not write in "fr"');
    expect(sink.messages).toHaveLength(4);
  });

  it('names what is wrong with a target, variant, site or locale', async () => {
    const { workspace, transport } = await setup();
    const samples = await loadSamples(workspace);
    const base = { to: ['m@example.com'], samples, secret: 's', transport, dkim: new Map(), now: NOW };
    await expect(testSend(workspace, { ...base, target: 'nope' })).rejects.toThrow('no campaign, trigger or template "nope" in the workspace');
    await expect(testSend(workspace, { ...base, target: 'shoe-care-week', variant: 'x' })).rejects.toThrow('campaign "shoe-care-week" has no variant "x"');
    await expect(testSend(workspace, { ...base, target: 'winback', variant: 'x' })).rejects.toThrow('campaign "winback" has no variant "x"');
    await expect(testSend(workspace, { ...base, target: 'winback', site: 'shop-xx' })).rejects.toThrow('campaign "winback" does not send for site "shop-xx"');
    await expect(testSend(workspace, { ...base, target: 'winback', locale: 'fr' })).rejects.toThrow('site shop-en does not write in "fr"');
    await expect(testSend(workspace, { ...base, target: 'widget/winback' })).rejects.toThrow('"widget/winback" is not a campaign, trigger or template');
  });

  it('sends a template nothing uses yet, and a trigger with its event data', async () => {
    const { workspace, sink, transport } = await setup();
    const samples = await loadSamples(workspace);
    await testSend(workspace, { target: 'abandoned-cart', to: ['m@example.com'], samples, secret: 's', transport, dkim: new Map(), now: NOW });
    expect(sink.messages[0]!.subject).toMatch(/^\[TEST\] /);
    expect(sink.messages[0]!.headers.get('x-herald-test')).toBe('trigger/abandoned-cart');
    // The sample cart's items are in the message.
    expect(sink.messages[0]!.html).toContain('Sample product SAMPLE-1');
  });
});

/**
 * Item 11 of issue 12: an SMTP server that is down made `herald test-send`
 * say "lost the database", and one without STARTTLS under
 * ?starttls=required gave an internal error (exit 70).
 */
describe('herald test-send when the SMTP server fails', () => {
  const PASSWORD = 'pw-s3cret-9f';

  it('the server down: says which SMTP server, never the password, exit 1', async () => {
    const ws = exampleWorkspace();
    cleanup(ws.remove);
    const port = await closedPort();
    const r = await herald(['test-send', 'winback', '--to', 'm@example.com', '--dir', ws.dir], { HERALD_SMTP_URL: `smtp://shop:${PASSWORD}@127.0.0.1:${port}` });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`herald: cannot send through the SMTP server 127.0.0.1:${port}: connection refused`);
    expect(r.stderr).toMatch(/hint: .*HERALD_SMTP_URL/);
    expect(r.stderr).not.toMatch(/database|internal error/);
    expect(r.stderr + r.stdout).not.toContain(PASSWORD);
  });

  it('starttls=required against a server without STARTTLS: says so, exit 1', async () => {
    const ws = exampleWorkspace();
    const server = new SMTPServer({ disabledCommands: ['STARTTLS', 'AUTH'], authOptional: true, logger: false, onData: (s, _x, cb) => s.resume().on('end', () => cb()) });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanup(ws.remove, () => new Promise<void>((r) => server.close(() => r())));
    const { port } = server.server.address() as { port: number };
    const r = await herald(['test-send', 'winback', '--to', 'm@example.com', '--dir', ws.dir], { HERALD_SMTP_URL: `smtp://shop:${PASSWORD}@127.0.0.1:${port}?starttls=required` });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`herald: cannot send through the SMTP server 127.0.0.1:${port}: it does not offer STARTTLS, and HERALD_SMTP_URL has starttls=required`);
    expect(r.stderr).toMatch(/hint: /);
    expect(r.stderr).not.toMatch(/database|internal error/);
    expect(r.stderr + r.stdout).not.toContain(PASSWORD);
  });

  it('a message the server refuses: its reply, and which server, exit 1', async () => {
    const ws = exampleWorkspace();
    const server = new SMTPServer({
      disabledCommands: ['STARTTLS', 'AUTH'],
      authOptional: true,
      logger: false,
      onRcptTo: (_a, _s, cb) => cb(Object.assign(new Error('5.7.1 relaying denied'), { responseCode: 554 })),
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanup(ws.remove, () => new Promise<void>((r) => server.close(() => r())));
    const { port } = server.server.address() as { port: number };
    const r = await herald(['test-send', 'winback', '--to', 'm@example.com', '--dir', ws.dir], { HERALD_SMTP_URL: `smtp://127.0.0.1:${port}` });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`herald: the SMTP server 127.0.0.1:${port} refused the test message to m@example.com: 554 5.7.1 relaying denied`);
  });

  it("a reply with control characters: printed escaped, never raw", async () => {
    const ws = exampleWorkspace();
    const server = new SMTPServer({
      disabledCommands: ['STARTTLS', 'AUTH'],
      authOptional: true,
      logger: false,
      onData: (s, _x, cb) => s.resume().on('end', () => cb(null, 'queued \x1b[2J\x1b]0;pwned\x07 \u202egnp.exe')),
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanup(ws.remove, () => new Promise<void>((r) => server.close(() => r())));
    const { port } = server.server.address() as { port: number };
    const r = await herald(['test-send', 'winback', '--to', 'm@example.com', '--dir', ws.dir], { HERALD_SMTP_URL: `smtp://127.0.0.1:${port}` });
    expect(r.code, r.stderr).toBe(0);
    // smtp-server blanks C0 controls itself; a bidi override reaches herald as the server sent it.
    expect(r.stdout).toContain('\\u202egnp.exe');
    expect(r.stdout + r.stderr).not.toMatch(/[\x1b\x07\u202e]/);
  });

  it('a link-signing secret too short is refused without a database too', async () => {
    const ws = exampleWorkspace();
    cleanup(ws.remove);
    const r = await herald(['test-send', 'winback', '--to', 'm@example.com', '--dir', ws.dir], { HERALD_SECRET: 'short-secret-zz' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('herald: $HERALD_SECRET is 15 bytes long; a link-signing secret needs at least 32 bytes');
    expect(r.stdout + r.stderr).not.toContain('short-secret-zz');
  });
});

describe('herald test-send links', () => {
  const SECRET = 'test-send-real-link-signing-secret-0123456789';
  /** The links of the one message the sink got: its List-Unsubscribe and its auto-login link, each checked against the real secret. */
  const links = (sink: Awaited<ReturnType<typeof startSmtpSink>>) => {
    expect(sink.messages).toHaveLength(1);
    const m = sink.messages[0]!;
    const header = m.headerLines.find((h) => h.key === 'list-unsubscribe')?.line.replace(/\r?\n\s+/g, ' ');
    const unsubscribe = /<(https:\/\/[^>]+\/unsubscribe\/[^>]+)>/.exec(header ?? '')?.[1];
    const login = /auto-login\?token=([\w.-]+)/.exec(String(m.html))?.[1];
    expect(unsubscribe).toBeDefined();
    expect(login).toBeDefined();
    return { unsubscribe: verifyLink(unsubscribe!, SECRET).ok, login: verifyAutoLoginToken(login!, SECRET, new Date()) };
  };

  it("sign a sample's links with a throwaway secret: a made-up recipient's links name no real customer", async () => {
    // The sample had customer id 1000: with the real secret, the test mail's
    // one-click unsubscribe and auto-login worked for the shop's customer 1000.
    const ws = exampleWorkspace();
    const sink = await startSmtpSink();
    cleanup(ws.remove, () => sink.close());
    const r = await herald(['test-send', 'winback', '--to', 'm@example.com', '--dir', ws.dir], { HERALD_SMTP_URL: sink.url, HERALD_SECRET: SECRET });
    expect(r.code, r.stderr).toBe(0);
    const l = links(sink);
    expect(l.unsubscribe).toBe(false);
    expect(l.login.ok).toBe(false);
  });

  it.skipIf(!serverUrl)("sign with the real secret only for a customer named with --customer, not for the shop's first customer picked as the sample", async () => {
    const db = await createTestDb();
    const ws = exampleWorkspace();
    cleanup(() => db.dispose(), ws.remove);
    await createShop(db, { customers: [{ id: 7, email: 'real@example.com', first_name: 'Wilhelmina', site: 'shop-en', locale: 'en' }] });
    for (const [args, works] of [[[], false], [['--customer', '7'], true]] as const) {
      const sink = await startSmtpSink();
      cleanup(() => sink.close());
      const r = await herald(['test-send', 'winback', '--to', 'm@example.com', '--dir', ws.dir, '--db', db.url!, '--site', 'shop-en', '--locale', 'en', ...args], { HERALD_SMTP_URL: sink.url, HERALD_SECRET: SECRET });
      expect(r.code, r.stderr).toBe(0);
      expect(sink.messages[0]!.html).toContain('Wilhelmina');
      const l = links(sink);
      expect(l.unsubscribe).toBe(works);
      expect(l.login.ok).toBe(works);
    }
  });
});
