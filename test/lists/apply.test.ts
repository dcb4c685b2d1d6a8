import { describe, expect, it } from 'vitest';
import { formatPlan } from '../../src/plan/format.js';
import { applyDir, planDir } from '../support/apply.js';
import { useCleanups } from '../support/cleanup.js';
import { createTestDb } from '../support/db.js';
import { createShop } from '../support/shop.js';
import { MINIMAL, tempWorkspace } from '../support/workspace.js';
import { compileSegment } from '../../src/audience/compile.js';
import { silentLog } from '../../src/log.js';
import { verifyAutoLoginToken } from '../../src/index.js';
import { sendCampaign } from '../../src/campaigns/send.js';
import { smtpTransport } from '../../src/channels/email/transport.js';
import { startSmtpSink } from '../support/smtp.js';

const cleanup = useCleanups();

async function setup() {
  const db = await createTestDb();
  cleanup(() => db.dispose());
  await createShop(db, {
    customers: [
      { id: 1, email: 'anna@example.com', site: 'main' },
      { id: 2, email: 'boris@example.org', site: 'main' },
      { id: 3, email: 'carl@example.net', site: 'main' },
    ],
  });
  const ws = tempWorkspace({
    ...MINIMAL,
    'lists/fair.yaml': 'description: Visitors of the fair\nfile: fair.csv\nsite: main\n',
    'lists/fair.csv': 'email,first_name,interest\nanna@example.com,Anna,boots\nnew@example.com,Nia,bags\n',
    'campaigns/hello.yaml': MINIMAL['campaigns/hello.yaml']!.replace('segment: everyone', 'list: fair'),
  });
  cleanup(ws.remove);
  return { db, ws };
}

describe('sending to a list', () => {
  it('reaches its customers and its contacts who are not customers, with the CSV columns as tokens', async () => {
    const { db, ws } = await setup();
    ws.write('templates/hello/en.mjml', MINIMAL['templates/hello/en.mjml']!.replace('{{ greeting }}', '{{ greeting }} You liked {{ customer.interest }}. <a href="{{ links.auto_login }}">Your account</a>'));
    process.env.HERALD_SECRET = 'list-test-secret-0123456789abcdef0123';
    cleanup(() => void delete process.env.HERALD_SECRET);
    // Links as the template wrote them (no click tracking), to read the auto-login token itself.
    ws.write('campaigns/hello.yaml', MINIMAL['campaigns/hello.yaml']!.replace('segment: everyone', 'list: fair') + 'personalized_greeting: true\ntracking: { clicks: false }\n');
    await applyDir(db, ws.dir);
    const sink = await startSmtpSink();
    const transport = smtpTransport(sink.url);
    cleanup(() => sink.close(), () => transport.close());
    const result = await sendCampaign(db, { campaign: 'hello', transport, now: new Date(), log: silentLog });
    expect(result).toMatchObject({ materialised: 2, sent: 2, failed: 0 });
    const byTo = new Map(sink.messages.map((m) => [(m.to as { text: string }).text, m]));
    expect([...byTo.keys()].sort()).toEqual(['anna@example.com', 'new@example.com']);
    // The contact's name and interest come from the CSV.
    expect(byTo.get('new@example.com')!.subject).toBe('Hello Nia');
    expect(byTo.get('new@example.com')!.html).toContain('Dear Nia, You liked bags.');
    expect(byTo.get('anna@example.com')!.html).toContain('You liked boots.');
    // A customer's auto-login link logs Anna in; a contact has no account and gets the site.
    const link = /href="(https:\/\/shop\.example\.com\/auto-login\?token=[^"]+)"/.exec(String(byTo.get('anna@example.com')!.html))?.[1];
    expect(verifyAutoLoginToken(new URL(link!).searchParams.get('token')!, 'list-test-secret-0123456789abcdef0123')).toMatchObject({ ok: true, login: { customerId: 1, site: 'main' } });
    expect(String(byTo.get('new@example.com')!.html)).toContain('href="https://shop.example.com">Your account');
    const rows = await db.query<{ customer_id: number | null; contact_id: number | null }>("SELECT customer_id, contact_id FROM herald.messages WHERE source = 'hello' ORDER BY address");
    expect(rows.map((r) => [r.customer_id, r.contact_id === null])).toEqual([[1, true], [null, false]]);
    // Sending again adds nobody: the contacts' rows are idempotent too.
    expect(await sendCampaign(db, { campaign: 'hello', transport, now: new Date(), log: silentLog })).toMatchObject({ materialised: 0, sent: 0 });
  });
});

describe('lists in plan and apply', () => {
  it('apply imports a list in its transaction; plan shows how a changed file moves the membership; list: reaches its customers', async () => {
    const { db, ws } = await setup();
    const first = await planDir(db, ws.dir);
    expect(first.lists).toEqual({ fair: { added: 2, removed: 0, kept: 0 } });
    await applyDir(db, ws.dir);
    const rows = await db.query<{ email: string; customer_id: number | null }>("SELECT email, customer_id FROM herald.list_members WHERE list = 'fair' ORDER BY email");
    expect(rows).toEqual([
      { email: 'anna@example.com', customer_id: 1 },
      { email: 'new@example.com', customer_id: null },
    ]);
    // Once imported, the campaign's breakdown counts the list's contacts beside its customers.
    ws.write('campaigns/hello.yaml', MINIMAL['campaigns/hello.yaml']!.replace('segment: everyone', 'list: fair').replace('title: Hello', 'title: Hello again'));
    const measured = await planDir(db, ws.dir);
    expect(measured.audiences).toMatchObject([{ campaign: 'hello', recipients: 2, breakdown: { in_segment: 2, recipients: 2 } }]);
    await applyDir(db, ws.dir);

    ws.write('lists/fair.csv', 'email\nanna@example.com\nboris@example.org\ncarl@example.net\n');
    const next = await planDir(db, ws.dir);
    expect(next.changes.find((c) => c.kind === 'list')).toMatchObject({ action: 'update', fields: [{ path: 'csv_sha256' }] });
    expect(next.lists).toEqual({ fair: { added: 2, removed: 1, kept: 1 } });
    expect(formatPlan(next, { color: false })).toContain('Lists:\n  list/fair: +2 −1 (1 kept)');
    await applyDir(db, ws.dir);

    const sql = compileSegment({ list: 'fair' }, { schema: 'shop', segments: new Map(), cancelled: ['cancelled'], open: ['new'] }, new Date());
    const members = await db.query<{ customer_id: number }>(`${sql.text} ORDER BY 1`, sql.values);
    expect(members.map((m) => m.customer_id)).toEqual([1, 2, 3]);
  });
});
