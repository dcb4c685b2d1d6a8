import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDb } from '../../src/db/db.js';
import { migrate } from '../../src/db/migrate.js';
import { herald } from '../support/cli.js';
import { useCleanups } from '../support/cleanup.js';
import { createTestDb, serverUrl } from '../support/db.js';
import { createShop, type TestShop } from '../support/shop.js';
import { MINIMAL, tempWorkspace } from '../support/workspace.js';

const cleanup = useCleanups();

/*
 * id email               opt-in  registered   segment/everyone   segment/recent at 11-20 / 12-05
 *  1 a1@example.com      yes     2026-11-01   recipients         in / out
 *  2 NULL                yes     2026-01-01   address_problems   out / out
 *  3 c3@example.com      no      2026-11-10   no_subscription    in / in
 *  4 C4@Example.com      yes     2026-11-15   recipients, until suppressed   in / in
 */
const SHOP: TestShop = {
  customers: [
    { id: 1, email: 'a1@example.com', site: 'main', created_at: '2026-11-01T10:00:00Z' },
    { id: 2, email: null, site: 'main', created_at: '2026-01-01T10:00:00Z' },
    { id: 3, email: 'c3@example.com', site: 'main', created_at: '2026-11-10T10:00:00Z', email_opt_in: false },
    { id: 4, email: 'C4@Example.com', site: 'main', created_at: '2026-11-15T10:00:00Z' },
  ],
};

/** A workspace and a database the CLI subprocess can open: a server database, or a PGlite directory. */
async function setup(shop: TestShop = SHOP) {
  const ws = tempWorkspace({ ...MINIMAL, 'segments/recent.yaml': 'where:\n  registered: { within: 30d }\n' });
  cleanup(ws.remove);
  let spec: string;
  if (serverUrl) {
    const db = await createTestDb();
    cleanup(() => db.dispose());
    await createShop(db, shop);
    spec = db.url!;
  } else {
    spec = mkdtempSync(join(tmpdir(), 'herald-pglite-'));
    cleanup(() => rmSync(spec, { recursive: true, force: true }));
    const db = await openDb(spec);
    await migrate(db);
    await createShop(db, shop);
    await db.close();
  }
  return { ws, spec, args: ['--dir', ws.dir, '--db', spec] };
}

const NOW = ['--now', '2026-11-20T12:00:00Z'];

describe('herald audience', () => {
  it('prints the breakdown of a segment as text and as JSON', async () => {
    const { args } = await setup();
    const text = await herald(['audience', 'everyone', ...NOW, ...args]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toBe(
      [
        'segment/everyone on main at 2026-11-20T12:00:00.000Z',
        '  in segment        4',
        '  address problems  1   25.0%',
        '  no subscription   1   25.0%',
        '  control group     0    0.0%',
        '  recipients        2   50.0%',
        '',
      ].join('\n'),
    );
    const json = await herald(['audience', 'everyone', '--json', ...NOW, ...args]);
    expect(JSON.parse(json.stdout)).toEqual({
      object: 'segment/everyone',
      sites: ['main'],
      now: '2026-11-20T12:00:00.000Z',
      breakdown: { in_segment: 4, address_problems: 1, no_subscription: 1, control_group: 0, recipients: 2 },
    });
  });

  it('shows example customers with --sample, and the campaign by its name', async () => {
    const { args } = await setup();
    const text = await herald(['audience', 'hello', '--sample', '1', ...NOW, ...args]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toBe(
      [
        'campaign/hello on main at 2026-11-20T12:00:00.000Z',
        '  in segment        4',
        '  address problems  1   25.0%',
        '  no subscription   1   25.0%',
        '  control group     0    0.0%',
        '  recipients        2   50.0%',
        '',
        'address problems, for example:',
        '  2  (none)  main  en  no email',
        '',
        'no subscription, for example:',
        '  3  c3@example.com  main  en  email_opt_in is false',
        '',
        'recipients, for example:',
        '  1  a1@example.com  main  en  recipient',
        '',
      ].join('\n'),
    );
    const json = JSON.parse((await herald(['audience', 'campaign/hello', '--json', '--sample', '5', ...NOW, ...args])).stdout);
    expect(json.samples).toEqual({
      address_problems: [{ id: 2, email: null, site: 'main', locale: 'en', reason: 'no email' }],
      no_subscription: [{ id: 3, email: 'c3@example.com', site: 'main', locale: 'en', reason: 'email_opt_in is false' }],
      control_group: [],
      recipients: [
        { id: 1, email: 'a1@example.com', site: 'main', locale: 'en', reason: 'recipient' },
        { id: 4, email: 'C4@Example.com', site: 'main', locale: 'en', reason: 'recipient' },
      ],
    });
  });

  it('resolves relative conditions against --now, and refuses what it cannot read', async () => {
    const { args } = await setup();
    const at = async (now: string) => JSON.parse((await herald(['audience', 'recent', '--json', '--now', now, ...args])).stdout).breakdown;
    expect(await at('2026-11-20T12:00:00Z')).toMatchObject({ in_segment: 3, no_subscription: 1, recipients: 2 });
    expect(await at('2026-12-05')).toMatchObject({ in_segment: 2, no_subscription: 1, recipients: 1 });

    for (const bad of ['yesterday', '2026-11-20T12:00:00', '2026-02-30']) {
      const r = await herald(['audience', 'recent', '--now', bad, ...args]);
      expect(r.code, bad).toBe(1);
      expect(r.stderr).toContain(`herald: --now "${bad}" is not an ISO date or time`);
    }
    const zero = await herald(['audience', 'recent', '--sample', '0', ...args]);
    expect(zero.stderr).toContain('herald: --sample "0" is not a positive whole number');
    const unknown = await herald(['audience', 'recnt', ...args]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('herald: no segment or campaign named "recnt" in the workspace\n  hint: did you mean "recent"?');
  });

  it('prints control characters in customer data and arguments escaped, never raw', async () => {
    const RAW_CONTROLS = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;
    const { args } = await setup({
      customers: [{ id: 7, email: 'eve@example.com\r\nX-Evil: 1\x1b[2J\u202e', site: 'main', locale: 'en\x1b[31m', created_at: '2026-11-01T10:00:00Z' }],
    });
    const r = await herald(['audience', 'everyone', '--sample', '1', ...NOW, ...args]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toMatch(RAW_CONTROLS);
    expect(r.stdout).toContain('  7  eve@example.com\\r\\nX-Evil: 1\\x1b[2J\\u202e  main  en\\x1b[31m  ');
    const unknown = await herald(['audience', 'every\x1b]0;owned\x07one', ...args]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).not.toMatch(RAW_CONTROLS);
    expect(unknown.stderr).toContain('herald: no segment or campaign named "every\\x1b]0;owned\\x07one" in the workspace');
    expect((await herald(['suppress', 'add', 'eve@example.com', '--note', 'see \x1b[8mhidden\x1b[0m', ...args])).code).toBe(0);
    const list = await herald(['suppress', 'list', ...args]);
    expect(list.stdout + list.stderr).not.toMatch(RAW_CONTROLS);
    expect(list.stdout).toContain('via cli: see \\x1b[8mhidden\\x1b[0m\n');
  });
});

describe('herald suppress', () => {
  it('suppresses and lifts an SMS number in E.164, as a STOP reply records it, and refuses a number without its country code', async () => {
    const { args } = await setup();
    const add = await herald(['suppress', 'add', '+49 151 1234 5678', '--reason', 'unsubscribed', '--note', 'asked by phone', ...args]);
    expect(add.code, add.stderr).toBe(0);
    expect(add.stdout).toBe('+4915112345678 is now suppressed for all sites (unsubscribed).\n');
    const list = await herald(['suppress', 'list', '--json', ...args]);
    expect((JSON.parse(list.stdout) as { email: string }[]).map((r) => r.email)).toEqual(['+4915112345678']);
    const bad = await herald(['suppress', 'add', '0151 1234 5678', ...args]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('is not an email address');
    const nocc = await herald(['suppress', 'add', '+0151', ...args]);
    expect(nocc.stderr).toContain('herald: "+0151" is not a phone number in E.164');
    const removed = await herald(['suppress', 'remove', '+4915112345678', '--note', 'resubscribed at the till', ...args]);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toMatch(/^\+4915112345678 is no longer suppressed for all sites/);
  });

  it('adds and lists suppressions, and audiences follow', async () => {
    const { args } = await setup();
    const add = await herald(['suppress', 'add', ' c4@EXAMPLE.com ', '--reason', 'unsubscribed', '--note', 'replied STOP', ...args]);
    expect(add.code, add.stderr).toBe(0);
    expect(add.stdout).toBe('c4@example.com is now suppressed for all sites (unsubscribed).\n');
    const twice = await herald(['suppress', 'add', 'c4@example.com', ...args]);
    expect(twice.stdout).toMatch(/^c4@example\.com was already suppressed for all sites \(unsubscribed, by .+ at .+\); nothing changed\.\n$/);
    expect((await herald(['suppress', 'add', 'a1@example.com', '--site', 'main', ...args])).code).toBe(0);

    const breakdown = JSON.parse((await herald(['audience', 'everyone', '--json', ...NOW, ...args])).stdout).breakdown;
    expect(breakdown).toEqual({ in_segment: 4, address_problems: 1, no_subscription: 3, control_group: 0, recipients: 0 });

    const list = await herald(['suppress', 'list', '--json', ...args]);
    expect(JSON.parse(list.stdout).map((s: { email: string; site: string | null; reason: string; source: string; note: string | null }) => [s.email, s.site, s.reason, s.source, s.note])).toEqual([
      ['a1@example.com', 'main', 'manual', 'cli', null],
      ['c4@example.com', null, 'unsubscribed', 'cli', 'replied STOP'],
    ]);
    const text = await herald(['suppress', 'list', '--site', 'main', ...args]);
    expect(text.stdout).toMatch(/^a1@example\.com {2}main {7}manual {8}\S+ .+ via cli\nc4@example\.com {2}all sites {2}unsubscribed {2}\S+ .+ via cli: replied STOP\n2 suppressions\.\n$/);
  });

  it('removes a suppression only with a note and the right scope, and refuses what it cannot use', async () => {
    const { args, spec } = await setup();
    expect((await herald(['suppress', 'add', 'a1@example.com', '--site', 'main', ...args])).code).toBe(0);
    const noNote = await herald(['suppress', 'remove', 'a1@example.com', '--site', 'main', ...args]);
    expect(noNote.code).toBe(1);
    expect(noNote.stderr).toContain("required option '--note <text>' not specified");
    const wrongScope = await herald(['suppress', 'remove', 'a1@example.com', '--note', 'oops', ...args]);
    expect(wrongScope.stderr).toContain('herald: a1@example.com is not suppressed for all sites\n  hint: it is suppressed for site main: remove that with --site main');
    const remove = await herald(['suppress', 'remove', 'a1@example.com', '--site', 'main', '--note', 'resubscribed at the till', ...args]);
    expect(remove.code, remove.stderr).toBe(0);
    expect(remove.stdout).toMatch(/^a1@example\.com is no longer suppressed for site main \(was manual since .+\)\.\n$/);

    const badEmail = await herald(['suppress', 'add', 'not-an-address', ...args]);
    expect(badEmail.code).toBe(1);
    expect(badEmail.stderr).toContain('herald: "not-an-address" is not an email address\n  hint: write it as name@example.com');
    const badSite = await herald(['suppress', 'add', 'a1@example.com', '--site', 'mian', ...args]);
    expect(badSite.stderr).toContain('herald: site "mian" is not in herald.yaml\n  hint: sites: main; without --site, a suppression is for all of them');
    const badReason = await herald(['suppress', 'add', 'a1@example.com', '--reason', 'annoyed', ...args]);
    expect(badReason.stderr).toContain('herald: unknown suppression reason "annoyed"\n  hint: use one of: unsubscribed, bounced, complained, manual');

    const db = await openDb(spec);
    try {
      const events = await db.query<{ action: string; email: string; site: string | null; note: string | null }>('SELECT action, email, site, note FROM herald.suppression_events ORDER BY id');
      expect(events).toEqual([
        { action: 'add', email: 'a1@example.com', site: 'main', note: null },
        { action: 'remove', email: 'a1@example.com', site: 'main', note: 'resubscribed at the till' },
      ]);
    } finally {
      await db.close();
    }
  });
});
