import { rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { applyPlan } from '../../src/apply/apply.js';
import { addSuppression } from '../../src/audience/suppressions.js';
import { formatPlan } from '../../src/plan/format.js';
import { loadDeployed } from '../../src/state/queries.js';
import { setOverride } from '../../src/state/overrides.js';
import { applyDir, planDir } from '../support/apply.js';
import { useCleanups } from '../support/cleanup.js';
import { createTestDb } from '../support/db.js';
import { createShop } from '../support/shop.js';
import { MINIMAL, tempWorkspace } from '../support/workspace.js';
import { campaign } from '../support/sources.js';

const cleanup = useCleanups();
const NOW = new Date('2026-11-20T12:00:00Z');

async function setup(project = MINIMAL['herald.yaml']!) {
  const db = await createTestDb();
  const ws = tempWorkspace({ ...MINIMAL, 'herald.yaml': project });
  cleanup(() => db.dispose(), ws.remove);
  await createShop(db, {
    customers: [1, 2, 3, 4, 5].map((id) => ({ id, email: `c${id}@example.com`, site: 'main' })),
  });
  return { db, ws };
}

/** Pretends the campaign has started sending: a run and ledger rows, as send writes them. */
async function startSending(db: Awaited<ReturnType<typeof setup>>['db'], campaign: string) {
  await db.query("INSERT INTO herald.runs (source, phase) VALUES ($1, 'sending')", [campaign]);
  await db.query("INSERT INTO herald.messages (source, customer_id, address, site, locale, status) VALUES ($1, 1, 'c1@example.com', 'main', 'en', 'sent')", [campaign]);
}

type P = Awaited<ReturnType<typeof planDir>>;
const change = (plan: P, id: string) => plan.changes.find((c) => `${c.kind}/${c.name}` === id);
const refusal = (plan: P, id: string) => plan.changes.find((c) => `${c.kind}/${c.name}` === id && c.action === 'refused');

describe('lifecycle and safety rules', () => {
  it('refuses changing what a sending campaign sends, and says how to proceed; status changes stay allowed', async () => {
    const { db, ws } = await setup();
    await applyDir(db, ws.dir, { now: NOW });
    await startSending(db, 'hello');
    ws.write('segments/other.yaml', 'where:\n  site: main\n');
    ws.write('campaigns/hello.yaml', MINIMAL['campaigns/hello.yaml']!.replace('segment: everyone', 'segment: other'));
    const plan = await planDir(db, ws.dir, { now: NOW });
    expect(refusal(plan, 'campaign/hello')).toMatchObject({
      wanted: 'update',
      reason: 'campaign "hello" has started sending (sending, 1 messages); audience.segment can no longer change',
      hint: 'set status: paused or cancelled to stop it, or copy campaigns/hello.yaml to a new name for a new campaign; restore the other fields to apply',
    });
    expect(formatPlan(plan, { color: false })).toContain('! refused update campaign/hello');

    ws.write('campaigns/hello.yaml', MINIMAL['campaigns/hello.yaml']!.replace('status: ready', 'status: paused'));
    const pause = await planDir(db, ws.dir, { now: NOW });
    expect(change(pause, 'campaign/hello')).toMatchObject({ action: 'update', fields: [{ path: 'status', before: 'ready', after: 'paused' }] });
  });

  it('archives a deleted campaign that sent anything, keeping its ledger', async () => {
    const { db, ws } = await setup();
    await applyDir(db, ws.dir, { now: NOW });
    await startSending(db, 'hello');
    rmSync(`${ws.dir}/campaigns/hello.yaml`);
    const plan = await applyDir(db, ws.dir, { now: NOW });
    expect(change(plan, 'campaign/hello')).toMatchObject({ action: 'archive' });
    const hello = (await loadDeployed(db)).find((o) => o.kind === 'campaign' && o.name === 'hello')!;
    expect(hello.archivedAt).toBeInstanceOf(Date);
    const [ledger] = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM herald.messages WHERE source = 'hello'");
    expect(ledger!.n).toBe(1);
    // Archived stays archived: the next plan has nothing to do.
    expect((await planDir(db, ws.dir, { now: NOW })).summary).toMatchObject({ archive: 0, delete: 0, refused: 0 });
  });

  it('refuses deleting a segment or template that a deployed object still uses, naming the users', async () => {
    const { db, ws } = await setup();
    await applyDir(db, ws.dir, { now: NOW });
    rmSync(`${ws.dir}/segments/everyone.yaml`);
    rmSync(`${ws.dir}/templates/hello`, { recursive: true });
    // The campaign still names them in the workspace too; validation would catch that,
    // so plan the deployed side: keep the campaign deployed by refusing its deletion.
    rmSync(`${ws.dir}/campaigns/hello.yaml`);
    const plan = await planDir(db, ws.dir, { now: NOW });
    expect(refusal(plan, 'campaign/hello')).toMatchObject({ wanted: 'delete', reason: 'deleting campaign "hello" needs --allow-delete' });
    expect(refusal(plan, 'segment/everyone')).toMatchObject({ wanted: 'delete', reason: 'segment "everyone" is still used by campaign/hello' });
        expect(change(plan, 'template/hello')).toMatchObject({ action: 'refused', reason: 'template "hello" is still used by campaign/hello' });
    // With --allow-delete the campaign goes, and with it the reason to keep the others.
    const allowed = await planDir(db, ws.dir, { now: NOW, allowDelete: true });
    expect(allowed.summary).toMatchObject({ delete: 3, refused: 0 });
  });

  it('enforces policy.max_audience unless the campaign approves its size', async () => {
    const project = MINIMAL['herald.yaml']! + 'policy:\n  max_audience: 3\n';
    const { db, ws } = await setup(project);
    const plan = await planDir(db, ws.dir, { now: NOW });
    expect(refusal(plan, 'campaign/hello')).toMatchObject({
      reason: 'campaign "hello" would send to 5 recipients, over the policy maximum of 3',
      hint: 'if that is intended, add approve_audience_over: 5 (or more) to campaigns/hello.yaml',
    });
    ws.write('campaigns/hello.yaml', MINIMAL['campaigns/hello.yaml']! + 'approve_audience_over: 5\n');
    const approved = await applyDir(db, ws.dir, { now: NOW });
    expect(approved.audiences).toMatchObject([{ campaign: 'hello', recipients: 5, previous: null }]);
    // The next change shows how the audience moved since the last apply.
    await db.query("INSERT INTO shop.customers (id, email, site, locale, created_at, email_opt_in) VALUES (6, 'c6@example.com', 'main', 'en', now(), true)");
    ws.write('campaigns/hello.yaml', MINIMAL['campaigns/hello.yaml']! + 'approve_audience_over: 10\n');
    const next = await planDir(db, ws.dir, { now: NOW });
    expect(next.audiences).toMatchObject([{ campaign: 'hello', recipients: 6, previous: 5 }]);
    expect(formatPlan(next, { color: false })).toContain('campaign/hello: 6 recipients (+1 since the last apply)');
  });

  it('shows the volume breakdown of each new or changed campaign, with the change since the last apply', async () => {
    const db = await createTestDb();
    const ws = tempWorkspace(MINIMAL);
    cleanup(() => db.dispose(), ws.remove);
    // 1 and 2 receive it; 3 has no address, 4 opted out, 5 unsubscribed; 6 is on a site the workspace does not have.
    await createShop(db, {
      customers: [
        { id: 1, email: 'c1@example.com', site: 'main' },
        { id: 2, email: 'c2@example.com', site: 'main' },
        { id: 3, email: null, site: 'main' },
        { id: 4, email: 'c4@example.com', site: 'main', email_opt_in: false },
        { id: 5, email: 'C5@example.com', site: 'main' },
        { id: 6, email: 'c6@example.com', site: 'elsewhere' },
      ],
    });
    await addSuppression(db, { email: 'c5@example.com', site: null, reason: 'unsubscribed', source: 'test', note: null, actor: 'test' });
    const first = await applyDir(db, ws.dir, { now: NOW });
    expect(first.audiences).toEqual([
      { campaign: 'hello', recipients: 2, previous: null, breakdown: { in_segment: 5, address_problems: 1, no_subscription: 2, control_group: 0, recipients: 2 } },
    ]);

    // Let customer 4 in and hold out half: md5('hello:1') and md5('hello:4') fall in the
    // control group, md5('hello:2') does not. The delta is on recipients.
    await db.query('UPDATE shop.customers SET email_opt_in = true WHERE id = 4');
    ws.write('campaigns/hello.yaml', MINIMAL['campaigns/hello.yaml']! + 'control_group: 50%\n');
    const next = await planDir(db, ws.dir, { now: NOW });
    expect(next.audiences).toEqual([
      { campaign: 'hello', recipients: 1, previous: 2, breakdown: { in_segment: 5, address_problems: 1, no_subscription: 1, control_group: 2, recipients: 1 } },
    ]);
    expect(formatPlan(next, { color: false })).toContain(
      'Audiences:\n  campaign/hello: 1 recipients (-1 since the last apply)\n    5 in segment − 1 address problems − 1 no subscription − 2 control group\n',
    );
    // The same breakdown travels in the plan's JSON.
    expect(JSON.parse(JSON.stringify(next)).audiences[0].breakdown).toEqual(next.audiences[0]!.breakdown);
  });

  it('refuses a schedule in the past (unless now) and one inside quiet hours', async () => {
    const project = MINIMAL['herald.yaml']! + 'defaults:\n  timezone: Europe/Berlin\n  quiet_hours: { start: "21:00", end: "08:00" }\n';
    const { db, ws } = await setup(project);
    const campaign = (at: string) => MINIMAL['campaigns/hello.yaml']! + `schedule:\n  at: "${at}"\n`;
    ws.write('campaigns/hello.yaml', campaign('2026-11-01T10:00:00+01:00'));
    expect(refusal(await planDir(db, ws.dir, { now: NOW }), 'campaign/hello')).toMatchObject({ reason: 'campaign "hello" is scheduled in the past (2026-11-01T10:00:00+01:00)' });
    ws.write('campaigns/hello.yaml', campaign('2026-12-01T22:30:00+01:00'));
    expect(refusal(await planDir(db, ws.dir, { now: NOW }), 'campaign/hello')).toMatchObject({
      reason: 'campaign "hello" is scheduled at 2026-12-01T22:30:00+01:00, inside quiet hours (21:00–08:00 Europe/Berlin)',
    });
    ws.write('campaigns/hello.yaml', campaign('now'));
    expect((await planDir(db, ws.dir, { now: NOW })).summary.refused).toBe(0);
    ws.write('campaigns/hello.yaml', campaign('2026-12-01T10:00:00+01:00'));
    expect((await planDir(db, ws.dir, { now: NOW })).summary.refused).toBe(0);
  });
});

describe('checks against the shop data, in plan', () => {
  it('refuses a campaign whose SKUs the shop does not have, and a sql: segment that does not plan', async () => {
    const { db, ws } = await setup();
    await db.query("INSERT INTO shop.products (sku, name, category, price, currency) VALUES ('BOOT-1', 'Boot', 'shoes', 10, 'EUR')");
    ws.write('campaigns/hello.yaml', MINIMAL['campaigns/hello.yaml']! + 'products: [BOOT-1, GHOST-9]\n');
    ws.write('segments/by-sql.yaml', 'where:\n  sql: SELECT id AS customer_id FROM shop.no_such_table\n');
    ws.write('segments/good-sql.yaml', 'where:\n  sql: SELECT id AS customer_id FROM shop.customers WHERE city IS NULL\n');
    const plan = await planDir(db, ws.dir, { now: NOW });
    expect(refusal(plan, 'campaign/hello')).toMatchObject({ reason: 'campaign "hello": product GHOST-9 is not in shop.products' });
    expect(refusal(plan, 'segment/by-sql')?.reason).toMatch(/^segment "by-sql": its sql: failed: relation "shop.no_such_table" does not exist/);
    expect(change(plan, 'segment/good-sql')).toMatchObject({ action: 'create' });
  });
});

describe('sql: conditions in plan', () => {
  it('one that would write is refused before it runs, and plan says so', async () => {
    const { db, ws } = await setup();
    ws.write('segments/everyone.yaml', "where:\n  sql: SELECT id AS customer_id FROM shop.customers WHERE setval('herald.applies_id_seq', 99) > 0\n");
    const plan = await planDir(db, ws.dir, { now: NOW });
    expect(refusal(plan, 'segment/everyone')?.reason).toBe('segment "everyone": its sql: is refused: the query calls setval, which a sql: condition may not call');
    expect(plan.warnings.join('\n')).toMatch(/campaign\/hello: audience size unknown: segment\/everyone: its sql: is refused: the query calls setval/);
    const [seq] = await db.query<{ last_value: number }>('SELECT last_value FROM herald.applies_id_seq');
    expect(seq!.last_value).toBe(1);
  });
});

describe('drift', () => {
  it('shows an emergency pause, keeps it while the file is unchanged, and reverts it once the file changes', async () => {
    const { db, ws } = await setup();
    await applyDir(db, ws.dir, { now: NOW });
    const hello = (await loadDeployed(db)).find((o) => o.kind === 'campaign' && o.name === 'hello')!;
    await setOverride(db, { name: 'hello', status: 'paused', reason: 'wrong price', actor: 'alice@example.com', specHash: hello.hash, action: 'pause' });

    ws.write('segments/everyone.yaml', 'where:\n  order_count: { gte: 1 }\n');
    const plan = await planDir(db, ws.dir, { now: NOW });
    expect(plan.drift).toMatchObject([{ kind: 'campaign', name: 'hello', workspaceStatus: 'ready', resolution: 'keep', override: { status: 'paused', setBy: 'alice@example.com', reason: 'wrong price' } }]);
    const text = formatPlan(plan, { color: false });
    expect(text).toMatch(/≠ drift campaign\/hello\n {4}deployed: paused by alice@example\.com at .* \(wrong price\); workspace: ready\n {4}the file has not changed since: apply keeps the emergency change/);
    expect(formatPlan(plan, { color: false, refreshOnly: true })).toContain('Drift: 1 campaign changed outside git.');
    await applyPlan(db, plan, { gitCommit: null, gitAuthor: 'bob', holder: 'test' });
    const [kept] = await db.query<{ status: string }>("SELECT status FROM herald.overrides WHERE name = 'hello'");
    expect(kept?.status).toBe('paused');

    // Editing the campaign's own file is the decision to take the emergency change back.
    ws.write('campaigns/hello.yaml', MINIMAL['campaigns/hello.yaml']!.replace('title: Hello', 'title: Hello again'));
    const revert = await planDir(db, ws.dir, { now: NOW });
    expect(revert.drift).toMatchObject([{ kind: 'campaign', name: 'hello', resolution: 'revert' }]);
    await applyPlan(db, revert, { gitCommit: null, gitAuthor: 'bob', holder: 'test' });
    expect(await db.query("SELECT 1 FROM herald.overrides WHERE name = 'hello'")).toEqual([]);
    const events = await db.query<{ action: string }>("SELECT action FROM herald.override_events WHERE name = 'hello' ORDER BY id");
    expect(events.map((e) => e.action)).toEqual(['pause', 'override cleared by apply']);
  });
});
