import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDb } from '../../src/db/db.js';
import { desiredObjects } from '../../src/state/objects.js';
import { loadWorkspace } from '../../src/workspace/load.js';
import { herald } from '../support/cli.js';
import { createTestDb, serverUrl, type TestDb } from '../support/db.js';
import { createShop } from '../support/shop.js';
import { exampleWorkspace } from '../support/workspace.js';
import { useCleanups } from '../support/cleanup.js';

const cleanup = useCleanups();

async function setup() {
  const ws = exampleWorkspace();
  cleanup(ws.remove);
  // The embedded database in the workspace, as `npm start` uses; a server database when one is configured.
  if (!serverUrl) return { ws, db: [] as string[] };
  const db = await createTestDb();
  cleanup(() => db.dispose());
  return { ws, db: ['--db', db.url!] };
}

describe('herald demo', () => {
  it('seeds, applies, sends to the outbox and reports; a rerun sends nothing again', async () => {
    const { ws, db } = await setup();
    const first = await herald(['demo', '--customers', '400', '--dir', ws.dir, ...db]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/seeded the demo shop: 400 customers/);
    // Every object of the example workspace: the project, its segments, templates, campaigns, triggers, lists.
    const objects = desiredObjects(loadWorkspace(ws.dir).workspace!).length;
    expect(first.stdout).toMatch(new RegExp(`applied: ${objects} created`));
    const sent = Number(/sent winback: (\d+) sent, 0 failed/.exec(first.stdout)?.[1]);
    expect(sent).toBeGreaterThan(0);

    const emls = readdirSync(join(ws.dir, '.herald', 'outbox', 'winback')).filter((f) => f.endsWith('.eml'));
    expect(emls).toHaveLength(sent);
    const eml = readFileSync(join(ws.dir, '.herald', 'outbox', 'winback', emls[0]!), 'utf8');
    expect(eml).toMatch(/^List-Unsubscribe-Post: List-Unsubscribe=One-Click\r$/m);
    // Delivered mail carries its VERP return path; the outbox keeps it as a mailbox would.
    expect(eml).toMatch(/^Return-Path: <bounces\+[0-9a-z]+-[0-9a-f]{6}-[0-9a-f]{16}@shop\.example\.(com|ru)>\r$/m);
    const report = JSON.parse(readFileSync(join(ws.dir, 'reports', 'winback.json'), 'utf8'));
    expect(report).toMatchObject({ recipients: sent });
    expect(report.sent + report.bounced).toBe(sent);

    // The customers answered through the tracking server, and the report says what they did.
    const answered = /customers answer winback[^]*?(\d+) opened it, (\d+) more were only fetched by Apple Mail Privacy Protection; (\d+) clicked/.exec(first.stdout);
    expect(answered, first.stdout).not.toBeNull();
    const [opened, mpp, clicked] = answered!.slice(1).map(Number) as [number, number, number];
    expect(opened).toBeGreaterThan(0);
    expect(report.engagement).toMatchObject({ opened: { human: opened, total: opened + mpp }, clicked: { human: clicked } });
    expect(report.lift.recipients.n).toBe(sent);
    expect(report.lift.control.n).toBeGreaterThan(0);

    // One campaign on email and SMS, one push: to the outbox, and each report shows its channels.
    const flash = JSON.parse(readFileSync(join(ws.dir, 'reports', 'flash-sale.json'), 'utf8')) as { by_channel: { channel: string; sent: number }[] };
    expect(flash.by_channel.map((c) => c.channel)).toEqual(['email', 'sms']);
    const smsSent = flash.by_channel.find((c) => c.channel === 'sms')!.sent;
    expect(smsSent).toBeGreaterThan(0);
    const texts = readdirSync(join(ws.dir, '.herald', 'outbox', 'sms'));
    expect(texts).toHaveLength(smsSent);
    expect(readFileSync(join(ws.dir, '.herald', 'outbox', 'sms', texts[0]!), 'utf8')).toMatch(/^To: \+\d{8,15}\nFrom: HeraldShop\n\n.*https:\/\/mail\.shop\.example\.(com|ru)\/s\/[A-Za-z0-9_-]{12,20} /);
    const push = JSON.parse(readFileSync(join(ws.dir, 'reports', 'app-news.json'), 'utf8')) as { by_channel: { channel: string; sent: number }[] };
    expect(push.by_channel).toEqual([expect.objectContaining({ channel: 'push' })]);
    expect(readdirSync(join(ws.dir, '.herald', 'outbox', 'push')).length).toBeGreaterThanOrEqual(push.by_channel[0]!.sent);

    // The preview grid, rendered for the demo shop's own customers.
    expect(first.stdout).toMatch(/previewed 50 messages .*, 0 problems/);
    expect(readFileSync(join(ws.dir, '.herald', 'preview', 'index.html'), 'utf8')).toContain('campaign-shoe-care-week.discount');
    // Test sends: one per A/B variant, in the outbox, never in the ledger or the report.
    expect(first.stdout).toMatch(/test-sent shoe-care-week: "\[TEST\] .+" and "\[TEST\] 15% off shoe care, this week only"/);
    const tests = readdirSync(join(ws.dir, '.herald', 'outbox', 'test-sends'));
    expect(tests).toHaveLength(2);
    expect(readFileSync(join(ws.dir, '.herald', 'outbox', 'test-sends', tests[0]!), 'utf8')).toMatch(/^X-Herald-Test: campaign\/shoe-care-week variant /m);

    // The triggers' timeline: enabled without back-fill, then the next day's tick sends what came due, once.
    expect(first.stdout).toMatch(/tick at \S+ 10:00 UTC: swept 7 triggers: 0 new \(\d+ due before they were enabled, not back-filled\); 0 sent/);
    expect(first.stdout).toMatch(/the shop moves on: \d+ carts left behind, 5 orders over 300 EUR, 3 preordered products back in stock/);
    const fired = /tick at \S+ 12:00 UTC: swept 7 triggers: (\d+) new[^;]*; (\d+) sent/.exec(first.stdout);
    expect(Number(fired?.[1])).toBeGreaterThan(0);
    expect(Number(fired?.[2])).toBeGreaterThan(0);
    expect(first.stdout).toMatch(/again at \S+ 12:00 UTC: swept 7 triggers: 0 new[^;]*; 0 sent/);
    expect(first.stdout).toMatch(/trigger abandoned-cart \(active\): \d+ occurrences, \d+ sent.* → reports\/triggers\/abandoned-cart\.md/);
    const cart = JSON.parse(readFileSync(join(ws.dir, 'reports', 'triggers', 'abandoned-cart.json'), 'utf8')) as { kind: string; totals: { occurrences: number; sent: number } };
    expect(cart.kind).toBe('trigger');
    // A trigger's messages have a folder of their own in the outbox, apart from any campaign of the same name.
    expect(readdirSync(join(ws.dir, '.herald', 'outbox', 'triggers', 'abandoned-cart')).filter((f) => f.endsWith('.eml'))).toHaveLength(cart.totals.sent);
    expect(cart.totals.sent).toBeGreaterThan(0);

    const second = await herald(['demo', '--customers', '400', '--dir', ws.dir, ...db]);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/demo shop already seeded/);
    expect(second.stdout).toMatch(new RegExp(`applied: 0 created, 0 updated, 0 deleted, ${objects} unchanged`));
    expect(second.stdout).toMatch(/sent winback: 0 sent, 0 failed \(already sent/);
    expect(second.stdout).not.toMatch(/the shop moves on/);
    expect(second.stdout).not.toMatch(/customers answer/);
    expect(second.stdout).not.toMatch(/swept 7 triggers: [1-9]\d* new/);
    expect(second.stdout).not.toMatch(/; [1-9]\d* sent/);
  });

  it('never replaces a shop schema it did not create', async () => {
    const ws = exampleWorkspace();
    cleanup(ws.remove);
    // The shop's own data, in a database the CLI subprocess can open.
    const dbSpec = serverUrl ? undefined : mkdtempSync(join(tmpdir(), 'herald-pglite-'));
    const handle = serverUrl ? await createTestDb() : await openDb(dbSpec!);
    cleanup(async () => {
      if ('dispose' in handle) await (handle as { dispose(): Promise<void> }).dispose();
      if (dbSpec) rmSync(dbSpec, { recursive: true, force: true });
    });
    await createShop(handle, { customers: [{ id: 1, email: 'real@example.com' }] });
    if (!serverUrl) await handle.close();

    const r = await herald(['demo', '--customers', '50', '--dir', ws.dir, '--db', serverUrl ? (handle as TestDb).url! : dbSpec!]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('schema "shop" already exists');

    const check = serverUrl ? handle : await openDb(dbSpec!);
    const rows = await check.query<{ email: string }>('SELECT email FROM shop.customers');
    expect(rows).toEqual([{ email: 'real@example.com' }]);
    if (!serverUrl) await check.close();
  });

  it('--no-send stops after apply', async () => {
    const { ws, db } = await setup();
    const r = await herald(['demo', '--customers', '200', '--no-send', '--dir', ws.dir, ...db]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('not sending (--no-send)');
    expect(r.stdout).not.toContain('sent winback');
    expect(existsSync(join(ws.dir, '.herald', 'outbox'))).toBe(false);
  });

  it('rejects a bad --customers value', async () => {
    const { ws } = await setup();
    const r = await herald(['demo', '--customers', 'lots', '--dir', ws.dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('herald: --customers "lots" is not a positive whole number');
  });
});
