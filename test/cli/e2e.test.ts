import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDb } from '../../src/db/db.js';
import { migrate } from '../../src/db/migrate.js';
import { herald } from '../support/cli.js';
import { createTestDb } from '../support/db.js';
import { createShop } from '../support/shop.js';
import { startSmtpSink } from '../support/smtp.js';
import { exampleWorkspace } from '../support/workspace.js';
import { useCleanups } from '../support/cleanup.js';
import { closedPort } from '../support/ports.js';

const cleanup = useCleanups();

const LONG_AGO = new Date(Date.now() - 400 * 86_400_000).toISOString();

/** A database the CLI subprocess can open: a server database, or a PGlite directory. */
async function shopDatabase(): Promise<string> {
  const data = {
    customers: [
      { id: 1, email: 'anna@example.com', first_name: 'Anna', last_name: 'Smith' },
      { id: 2, email: 'boris@example.org', first_name: 'Борис', site: 'shop-ru', locale: 'ru' },
      { id: 3, email: 'carl@example.net', first_name: null },
      { id: 4, email: 'optout@example.com', first_name: 'Olga', email_opt_in: false },
      { id: 5, email: 'newbie@example.com', first_name: 'Nina' },
    ],
    orders: [1, 2, 3, 4].map((c) => ({ id: c, customer_id: c, created_at: LONG_AGO })),
    products: ['OW-001', 'SH-001', 'BG-001', 'AC-002'].map((sku) => ({ sku, category: 'demo', name: `Product ${sku}` })),
  };
  if (process.env.HERALD_TEST_DATABASE_URL) {
    const db = await createTestDb();
    cleanup(() => db.dispose());
    await createShop(db, data);
    return db.url!;
  }
  const dir = mkdtempSync(join(tmpdir(), 'herald-pglite-'));
  cleanup(() => rmSync(dir, { recursive: true, force: true }));
  const db = await openDb(dir);
  await migrate(db);
  await createShop(db, data);
  await db.close();
  return dir;
}

describe('herald CLI end to end', () => {
  it('validate → apply → send over SMTP → report', async () => {
    const ws = exampleWorkspace();
    cleanup(ws.remove);
    const sink = await startSmtpSink();
    cleanup(() => sink.close());
    const db = await shopDatabase();
    const base = ['--dir', ws.dir, '--db', db];

    const validate = await herald(['validate', ...base]);
    expect(validate).toMatchObject({ code: 0, stdout: 'The workspace is valid.\n' });

    // Without a terminal to ask on, apply needs --auto-approve (or a saved plan).
    const refused = await herald(['apply', ...base]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('herald: apply needs confirmation, and there is no terminal to ask on');

    const apply = await herald(['apply', '--auto-approve', ...base]);
    expect(apply.code, apply.stderr).toBe(0);
    expect(apply.stdout).toContain('+ create campaign/winback');
    expect(apply.stdout).toMatch(/Apply complete: \d+ created, 0 updated, 0 deleted, 0 archived\./);

    const replan = await herald(['plan', '--detailed-exitcode', ...base]);
    expect(replan.code, replan.stderr).toBe(0);
    expect(replan.stdout).toContain('No changes.');

    const send = await herald(['send', 'winback', ...base], { HERALD_SMTP_URL: sink.url, HERALD_SECRET: 'e2e-secret-0123456789abcdef0123456789' });
    expect(send.code, send.stderr).toBe(0);
    expect(send.stdout).toContain('winback: 3 sent, 0 failed, campaign completed');

    expect(sink.envelopes.flat().sort()).toEqual(['anna@example.com', 'boris@example.org', 'carl@example.net']);
    const byTo = new Map(sink.messages.map((m) => [(m.to as { text: string }).text, m]));
    expect(byTo.get('anna@example.com')!.subject).toBe('Anna, it has been a while');
    expect(byTo.get('anna@example.com')!.html).toContain('Dear Anna,');
    expect(byTo.get('boris@example.org')!.subject).toBe('Борис, давно не виделись');
    expect(byTo.get('boris@example.org')!.html).toContain('Здравствуйте, Борис!');
    // No first name: the generic greeting and subject.
    expect(byTo.get('carl@example.net')!.subject).toBe('Hello, it has been a while');
    expect(byTo.get('carl@example.net')!.html).toContain('Hello,');
    for (const m of sink.messages) {
      const header = (m.headerLines.find((h) => h.key === 'list-unsubscribe')?.line ?? '').replace(/\r?\n[ \t]+/g, ' ');
      expect(header).toMatch(/^List-Unsubscribe: <https:\/\/mail\.shop\.example\.com\/u\/[\w-]+\.[\w-]+>,\s+<mailto:/);
    }

    const again = await herald(['send', 'winback', ...base], { HERALD_SMTP_URL: sink.url });
    expect(again.stdout).toContain('winback: 0 sent, 0 failed');
    expect(sink.messages).toHaveLength(3);

    const report = await herald(['report', 'winback', '--json', ...base]);
    expect(report.code, report.stderr).toBe(0);
    expect(JSON.parse(report.stdout)).toMatchObject({ campaign: 'winback', status: 'completed', recipients: 3, sent: 3, failed: 0 });
    expect(JSON.parse(readFileSync(join(ws.dir, 'reports', 'winback.json'), 'utf8'))).toMatchObject({ sent: 3 });
    expect(readFileSync(join(ws.dir, 'reports', 'winback.md'), 'utf8')).toContain('| Sent | 3 (100.0%) |');
  });

  it('send with the SMTP server down says why its messages wait, and until when, never its password', async () => {
    const ws = exampleWorkspace();
    cleanup(ws.remove);
    const db = await shopDatabase();
    const base = ['--dir', ws.dir, '--db', db];
    expect((await herald(['apply', '--auto-approve', ...base])).code).toBe(0);
    const port = await closedPort();
    const send = await herald(['send', 'winback', ...base], { HERALD_SMTP_URL: `smtp://shop:pw-s3cret-77@127.0.0.1:${port}` });
    expect(send.code, send.stderr).toBe(0);
    expect(send.stdout).toContain('winback: 0 sent, 0 failed, 3 to retry');
    expect(send.stdout).toMatch(new RegExp(`3 messages wait for a retry, after: .*127\\.0\\.0\\.1:${port}.*\\nThe first is due at \\d{4}-`));
    expect(send.stdout + send.stderr).not.toContain('pw-s3cret-77');
  });

  it('a broken workspace file gets located errors, not a stack trace, and nothing is applied', async () => {
    const ws = exampleWorkspace();
    cleanup(ws.remove);
    ws.write('campaigns/winback.yaml', 'title: Broken\nsites: [shop-en]\naudience:\n  segmnt: lapsed\ntemplate: newsletter\nstatus: sometimes\n');
    const validate = await herald(['validate', '--dir', ws.dir]);
    expect(validate.code).toBe(1);
    expect(validate.stdout).toContain('campaigns/winback.yaml:4:3: error: unknown key "segmnt" in audience\n  hint: did you mean "segment"?');
    expect(validate.stdout).toContain('campaigns/winback.yaml:6:9: error: status must be one of: draft, ready, paused, cancelled (got "sometimes")');
    expect(validate.stdout).not.toMatch(/at .*\.js:\d+/);

    const json = await herald(['validate', '--json', '--dir', ws.dir]);
    expect(JSON.parse(json.stdout).errors).toHaveLength(2);

    const apply = await herald(['apply', '--dir', ws.dir]);
    expect(apply.code).toBe(1);
    expect(apply.stderr).toContain('herald: the workspace has 2 errors');
    expect(apply.stderr).not.toMatch(/at .*\.js:\d+/);
    expect(existsSync(join(ws.dir, '.herald', 'db'))).toBe(false);
  });

  it('annotates problems for GitHub Actions', async () => {
    const ws = exampleWorkspace();
    cleanup(ws.remove);
    ws.write('segments/lapsed.yaml', 'where:\n  last_order: { before: soon }\n');
    const r = await herald(['validate', '--dir', ws.dir], { GITHUB_ACTIONS: 'true' });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('::error title=herald schema,file=segments/lapsed.yaml,line=2,col=25::where.last_order.before: "soon" is not a valid duration');
  });

  it('prints help, and a clear message for an unknown command', async () => {
    const help = await herald(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: herald');
    const bad = await herald(['sned']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("unknown command 'sned'");
  });
});
