import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { applyFeedback } from '../../src/events/feedback.js';
import { readMailPath } from '../../src/events/mailbox.js';
import { readFeedback } from '../../src/events/match.js';
import { messageTag, recipientUnsubscribeToken, returnPath } from '../../src/links/tracking.js';
import { createShop } from '../support/shop.js';
import { countAttempts, startRun } from '../../src/ledger/runs.js';
import { setOverride } from '../../src/state/overrides.js';
import { createTestDb } from '../support/db.js';
import { useCleanups } from '../support/cleanup.js';
import { FIXTURE_RECIPIENTS, FIXTURE_SECRET, FIXTURES, project, sentMessages, suppressions } from './ledger.js';

const cleanup = useCleanups();

async function ledgerDb() {
  const db = await createTestDb();
  cleanup(() => db.dispose());
  const ids = await sentMessages(db, { source: 'spring', addresses: FIXTURE_RECIPIENTS });
  expect(ids).toEqual(FIXTURE_RECIPIENTS.map((_, i) => i + 1));
  return db;
}

async function importFixtures() {
  const mails = readdirSync(FIXTURES)
    .filter((f) => /\.(eml|mbox)$/.test(f))
    .sort()
    .flatMap((f) => readMailPath(`${FIXTURES}${f}`).mails);
  return Promise.all(mails.map((m) => readFeedback(m.raw, m.where.slice(FIXTURES.length), [FIXTURE_SECRET], 'import')));
}

/** A minimal RFC 3464 delayed or failed DSN for a ledger message, as a Postfix would send it. */
function dsn(id: number, status: string, date: Date, recipient: string): string {
  const verp = returnPath('bounces@mail.shop.example', id, FIXTURE_SECRET);
  return [
    `To: ${verp}`,
    'From: MAILER-DAEMON@mail.shop.example',
    `Date: ${date.toUTCString()}`,
    'Content-Type: multipart/report; report-type=delivery-status; boundary="b"',
    '',
    '--b',
    'Content-Type: text/plain',
    '',
    'report',
    '--b',
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mail.shop.example',
    '',
    `Final-Recipient: rfc822; ${recipient}`,
    `Action: ${status.startsWith('4') ? 'delayed' : 'failed'}`,
    `Status: ${status}`,
    '--b--',
    '',
  ].join('\r\n');
}

describe('applyFeedback over the fixtures', () => {
  it('suppresses exactly the right addresses, records the rest, and a re-import changes nothing', async () => {
    const db = await ledgerDb();
    const items = await importFixtures();
    const s = await applyFeedback(db, project(), items);

    expect(await suppressions(db)).toEqual([
      { email: 'alice@example.com', site: null, reason: 'bounced', source: 'dsn' },
      { email: 'bob@example.org', site: null, reason: 'bounced', source: 'dsn' },
      { email: 'carol@example.net', site: null, reason: 'bounced', source: 'dsn' },
      { email: 'dave@contoso.example', site: null, reason: 'bounced', source: 'dsn' },
      { email: 'erin@gmail.example', site: null, reason: 'bounced', source: 'dsn' },
      { email: 'frank@oldhost.example', site: null, reason: 'bounced', source: 'dsn' },
      { email: 'ivan@yahoo.example', site: null, reason: 'complained', source: 'arf' },
      { email: 'judy@hotmail.example', site: null, reason: 'complained', source: 'arf' },
      { email: 'trent@example.com', site: 'main', reason: 'unsubscribed', source: 'mailto' },
    ]);
    expect(s.recorded).toEqual({ bounce: 7, soft_bounce: 2, complaint: 2, unsubscribe: 1 });
    expect(s.ignored).toEqual([{ where: 'autoreply.eml', why: 'autoresponder (Auto-Submitted: auto-replied)' }]);
    expect(s.unmatched).toEqual([{ where: 'several.mbox#4', why: expect.stringContaining('bad signature') }]);
    // 12 of 13 mails named a message; the duplicate of postfix-5.1.1 in the mbox recorded nothing new.
    expect(s.matched).toBe(13);

    const events = await db.query<{ message_id: string; kind: string; origin: string; class: string | null; status: string | null }>(
      `SELECT message_id::text, kind, origin, detail->>'class' AS class, detail->>'status' AS status FROM herald.message_events e ORDER BY e.message_id, kind`,
    );
    expect(events.map((e) => `${e.message_id} ${e.kind} ${e.origin} ${e.class ?? ''} ${e.status ?? ''}`.trim())).toEqual([
      '1 bounce dsn hard 5.1.1',
      '2 bounce dsn hard 5.1.1',
      '3 bounce dsn hard 5.1.1',
      '4 bounce dsn hard 5.1.10',
      '5 bounce dsn hard 5.1.1',
      '6 bounce dsn hard 5.1.1',
      '7 soft_bounce dsn soft 4.4.1',
      '8 bounce dsn policy 5.7.1',
      '9 complaint arf',
      '10 complaint arf',
      '12 soft_bounce dsn soft 4.2.0',
      '13 unsubscribe mailto',
    ]);
    const statuses = await db.query<{ id: string; status: string; reason: string | null }>('SELECT m.id::text, status, reason FROM herald.messages m ORDER BY m.id');
    expect(statuses.filter((r) => r.status === 'bounced').map((r) => Number(r.id))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(statuses[0]!.reason).toMatch(/^dsn: 5\.1\.1 550 5\.1\.1 <alice@example\.com>: Recipient address rejected/);
    // The policy refusal leaves the message and the address alone.
    expect(statuses[7]!.status).toBe('sent');

    const again = await applyFeedback(db, project(), await importFixtures());
    expect(again.recorded).toEqual({ bounce: 0, soft_bounce: 0, complaint: 0, unsubscribe: 0 });
    expect(again.suppressed).toEqual([]);
    expect(await db.query('SELECT count(*)::int AS n FROM herald.suppression_events')).toEqual([{ n: 9 }]);
  });

  it('refuses a Message-ID whose ledger id names another message', async () => {
    const db = await ledgerDb();
    // Message 3's copy claims to be spring.3 from another domain: not what the ledger recorded.
    const raw = readMailPath(`${FIXTURES}sendmail-5.1.1.eml`).mails[0]!.raw.replace('<spring.3@shop.example>', '<spring.3@elsewhere.example>');
    const s = await applyFeedback(db, project(), [await readFeedback(raw, 'x.eml', [FIXTURE_SECRET], 'import')]);
    expect(s.unmatched).toEqual([{ where: 'x.eml', why: expect.stringContaining('is not the one ledger message 3 was sent with') }]);
    expect(await suppressions(db)).toEqual([]);
  });
});

describe('unsubscribes by mail', () => {
  it('honours a token that names the recipient, as links from before ledger ids do, and says so of one nobody knows', async () => {
    const db = await ledgerDb();
    await createShop(db, { customers: [{ id: 7, email: 'Old.Reader@Example.com', site: 'main' }] });
    const mail = (token: string) => `From: Old Reader <old.reader@example.com>\r\nTo: care@shop.example\r\nSubject: unsubscribe ${token}\r\nMessage-ID: <u-${token.slice(0, 8)}@example.com>\r\n\r\nplease\r\n`;
    const known = recipientUnsubscribeToken({ customer: 7, contact: null, site: 'main', source: 'winter' }, FIXTURE_SECRET);
    const unknown = recipientUnsubscribeToken({ customer: 99, contact: null, site: 'main', source: 'winter' }, FIXTURE_SECRET);
    const s = await applyFeedback(db, project(), [await readFeedback(mail(known), 'old.eml', [FIXTURE_SECRET], 'import'), await readFeedback(mail(unknown), 'gone.eml', [FIXTURE_SECRET], 'import')]);
    expect(s.suppressed).toEqual([{ email: 'old.reader@example.com', site: 'main', reason: 'unsubscribed' }]);
    expect(s.unmatched).toEqual([{ where: 'gone.eml', why: expect.stringContaining('customer 99') }]);
    expect(await suppressions(db)).toEqual([{ email: 'old.reader@example.com', site: 'main', reason: 'unsubscribed', source: 'mailto' }]);
    // Again: harmless.
    expect(s.recorded.unsubscribe).toBe(1);
    const again = await applyFeedback(db, project(), [await readFeedback(mail(known), 'old.eml', [FIXTURE_SECRET], 'import')]);
    expect(again.suppressed).toEqual([]);
    expect(again.recorded.unsubscribe).toBe(0);
    expect(await suppressions(db)).toHaveLength(1);
  });
});

describe('policy refusals reported later', () => {
  it('count towards the circuit breaker, which pauses the source past its threshold; the addresses stay unsuppressed', async () => {
    const db = await createTestDb();
    cleanup(() => db.dispose());
    const addresses = Array.from({ length: 40 }, (_, i) => `r${i}@example.com`);
    const ids = await sentMessages(db, { source: 'relayed', addresses });
    // The relay accepted all 40 in the SMTP conversation: 40 attempts, no refusal.
    await startRun(db, { kind: 'campaign', name: 'relayed' }, new Date());
    await countAttempts(db, { kind: 'campaign', name: 'relayed' }, 40, 0);
    const refuse = async (some: number[]) =>
      applyFeedback(db, project(), await Promise.all(some.map((id) => readFeedback(dsn(id, '5.7.1', new Date(), addresses[id - 1]!), `d${id}`, [FIXTURE_SECRET], 'import'))));
    // Four refusals: under delivery.breaker's min of 5.
    expect((await refuse(ids.slice(0, 4))).paused).toEqual([]);
    const fifth = await refuse(ids.slice(4, 5));
    expect(fifth.paused).toEqual([{ kind: 'campaign', name: 'relayed', reason: 'circuit breaker: 5 of 40 attempts refused for policy or authentication (5.7.x)' }]);
    expect(await db.query("SELECT status, reason FROM herald.overrides WHERE kind = 'campaign' AND name = 'relayed'")).toEqual([{ status: 'paused', reason: expect.stringContaining('circuit breaker') }]);
    expect(await suppressions(db)).toEqual([]);
  });

  it('leave a cancelled source cancelled: a late refusal never turns a cancel into a pause that resume could undo', async () => {
    const db = await createTestDb();
    cleanup(() => db.dispose());
    const addresses = Array.from({ length: 10 }, (_, i) => `r${i}@example.com`);
    const ids = await sentMessages(db, { source: 'stopped', addresses });
    await startRun(db, { kind: 'campaign', name: 'stopped' }, new Date());
    await countAttempts(db, { kind: 'campaign', name: 'stopped' }, 10, 0);
    await setOverride(db, { kind: 'campaign', name: 'stopped', status: 'cancelled', reason: 'wrong audience', actor: 'ann', specHash: '', action: 'cancelled' });
    const s = await applyFeedback(db, project(), await Promise.all(ids.map((id) => readFeedback(dsn(id, '5.7.1', new Date(), addresses[id - 1]!), `d${id}`, [FIXTURE_SECRET], 'import'))));
    expect(s.recorded.bounce).toBe(10);
    expect(s.paused).toEqual([]);
    expect(await db.query("SELECT status, reason FROM herald.overrides WHERE kind = 'campaign' AND name = 'stopped'")).toEqual([{ status: 'cancelled', reason: 'wrong audience' }]);
  });
});

describe('forged reports', () => {
  it('a complaint naming a guessed Message-ID is refused: herald\'s carry a MAC of the ledger id', async () => {
    const db = await ledgerDb();
    // What herald records now: <source>.<id>.<tag>@domain.
    await db.query("UPDATE herald.messages SET message_id = '<spring.' || id || '.' || $1 || '@shop.example>' WHERE id = 2", [messageTag(2, FIXTURE_SECRET)]);
    const arf = (messageId: string) =>
      [
        'From: fbl@isp.example', 'To: fbl@shop.example', 'Subject: complaint', 'Content-Type: multipart/report; report-type=feedback-report; boundary="b"', '',
        '--b', 'Content-Type: text/plain', '', 'abuse report', '--b', 'Content-Type: message/feedback-report', '', 'Feedback-Type: abuse', 'Version: 1', '',
        '--b', 'Content-Type: text/rfc822-headers', '', `Message-ID: ${messageId}`, 'Subject: spring', '', '--b--', '',
      ].join('\r\n');
    const forged = await applyFeedback(db, project(), [await readFeedback(arf('<spring.2@shop.example>'), 'forged.eml', [FIXTURE_SECRET], 'import')]);
    expect(forged.unmatched).toEqual([{ where: 'forged.eml', why: expect.stringContaining('is not the one ledger message 2 was sent with') }]);
    expect(await suppressions(db)).toEqual([]);
    const genuine = await applyFeedback(db, project(), [await readFeedback(arf(`<spring.2.${messageTag(2, FIXTURE_SECRET)}@shop.example>`), 'real.eml', [FIXTURE_SECRET], 'import')]);
    expect(genuine.recorded.complaint).toBe(1);
  });
});

describe('hostile reports', () => {
  it('a NUL in a diagnostic neither fails the batch nor is stored', async () => {
    const db = await ledgerDb();
    const raw = readMailPath(`${FIXTURES}postfix-5.1.1.eml`).mails[0]!.raw.replace('Diagnostic-Code: smtp; 550 5.1.1', 'Diagnostic-Code: smtp; 550 5.1.1 \u0000\u0000');
    const s = await applyFeedback(db, project(), [await readFeedback(raw, 'nul.eml', [FIXTURE_SECRET], 'import'), ...(await importFixtures()).filter((f) => f.where === 'yahoo-arf.eml')]);
    expect(s.recorded).toMatchObject({ bounce: 1, complaint: 1 });
    expect(await db.query('SELECT status FROM herald.messages WHERE id = 1')).toEqual([{ status: 'bounced' }]);
  });
});

describe('dates a report gives', () => {
  it('one PostgreSQL cannot store, or absurd, is taken as the time it arrived, and fails nothing else in the batch', async () => {
    const db = await ledgerDb();
    const now = new Date('2026-11-20T12:00:00Z');
    const good = new Date('2026-11-19T08:00:00Z');
    const at = ['-100000-01-01T00:00:00Z', '+275760-09-13T00:00:00Z', '1970-01-01T00:00:00Z', good.toISOString()];
    const items = at.map((a, i) => ({ kind: 'complaint' as const, origin: 'postmark' as const, where: `event ${i}`, via: 'webhook', ref: { message: i + 1 }, at: new Date(a) }));
    const s = await applyFeedback(db, project(), items, { clock: () => now });
    expect(s.recorded.complaint).toBe(4);
    const rows = await db.query<{ message_id: string; at: Date }>("SELECT message_id::text, at FROM herald.message_events WHERE kind = 'complaint' ORDER BY message_id");
    expect(rows.map((r) => [r.message_id, r.at.toISOString()])).toEqual([
      ['1', now.toISOString()],
      ['2', now.toISOString()],
      ['3', now.toISOString()],
      ['4', good.toISOString()],
    ]);
  });
});

describe('soft bounces', () => {
  it('suppress an address once soft_limit of them fall within soft_window; older ones have decayed', async () => {
    const db = await createTestDb();
    cleanup(() => db.dispose());
    const now = new Date('2026-11-20T12:00:00Z');
    const ids = await sentMessages(db, { source: 'weekly', addresses: ['sam@example.com', 'sam@example.com', 'sam@example.com', 'sam@example.com'].map((a, i) => (i === 0 ? a : a)), sentAt: now });
    const p = project({ bounces: { soft_limit: 3, soft_window: '30d' } } as never);
    const at = (days: number) => new Date(now.getTime() - days * 86_400_000);
    const apply = async (id: number, days: number, status = '4.2.2') =>
      applyFeedback(db, p, [await readFeedback(dsn(id, status, at(days), 'sam@example.com'), `m${id}`, [FIXTURE_SECRET], 'import')], { clock: () => now });
    // One 40 days ago: outside the window.
    expect((await apply(ids[0]!, 40)).suppressed).toEqual([]);
    expect((await apply(ids[1]!, 10)).suppressed).toEqual([]);
    // A 5.x.x that is neither an address nor a policy problem (mailbox full) counts as soft too.
    expect((await apply(ids[2]!, 5, '5.2.2')).suppressed).toEqual([]);
    expect(await suppressions(db)).toEqual([]);
    expect((await apply(ids[3]!, 1)).suppressed).toEqual([{ email: 'sam@example.com', site: null, reason: 'bounced' }]);
    expect(await suppressions(db)).toEqual([{ email: 'sam@example.com', site: null, reason: 'bounced', source: 'soft-bounces' }]);
  });
});

describe('the complaint rate', () => {
  /** An ARF complaint for a ledger message, by its VERP Original-Mail-From. */
  const arf = (id: number) =>
    [
      'From: fbl@isp.example',
      'Content-Type: multipart/report; report-type=feedback-report; boundary="b"',
      '',
      '--b',
      'Content-Type: message/feedback-report',
      '',
      'Feedback-Type: abuse',
      `Original-Mail-From: <${returnPath('bounces@mail.shop.example', id, FIXTURE_SECRET)}>`,
      '--b--',
      '',
    ].join('\r\n');

  it('pauses the campaign at complaint_threshold once it has complaint_min complaints, with the reason', async () => {
    const db = await createTestDb();
    cleanup(() => db.dispose());
    const ids = await sentMessages(db, { source: 'blast', addresses: Array.from({ length: 500 }, (_, i) => `c${i}@example.com`) });
    const other = await sentMessages(db, { source: 'welcome', kind: 'trigger', addresses: ['t@example.com'] });
    const p = project();
    const complain = async (list: number[]) => applyFeedback(db, p, await Promise.all(list.map((id) => readFeedback(arf(id), `c${id}`, [FIXTURE_SECRET], 'import'))));
    // 2 of 500 is 0.4%, over 0.3%, but under complaint_min (3).
    expect((await complain([ids[0]!, ids[1]!])).paused).toEqual([]);
    const s = await complain([ids[2]!]);
    expect(s.paused).toEqual([{ kind: 'campaign', name: 'blast', reason: 'complaint rate: 3 complaints of 500 sent (0.60%), at or over 0.3%' }]);
    expect(await db.query('SELECT kind, name, status, reason, set_by FROM herald.overrides')).toEqual([
      { kind: 'campaign', name: 'blast', status: 'paused', reason: s.paused[0]!.reason, set_by: 'herald' },
    ]);
    expect(await db.query("SELECT action FROM herald.override_events WHERE name = 'blast'")).toEqual([{ action: 'paused for complaints' }]);
    // Already paused: a fourth complaint records and suppresses, and pauses nothing again.
    expect((await complain([ids[3]!])).paused).toEqual([]);
    // One complaint about a trigger's single message is 100%, but one is under complaint_min.
    expect((await complain(other)).paused).toEqual([]);
    expect(await db.query("SELECT count(*)::int AS n FROM herald.suppressions WHERE reason = 'complained' AND site IS NULL")).toEqual([{ n: 5 }]);
  });
});
