import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTestDb, serverUrl } from '../support/db.js';
import { herald, type CliResult } from '../support/cli.js';
import { useCleanups } from '../support/cleanup.js';
import { MINIMAL, repoRoot, tempWorkspace } from '../support/workspace.js';
import { FIXTURE_RECIPIENTS, FIXTURE_SECRET, FIXTURES, fixture, sentMessages, suppressions } from '../events/ledger.js';

const cleanup = useCleanups();
const env = { HERALD_SECRET: FIXTURE_SECRET };

/** The built CLI with `input` on its standard input. */
function heraldWithInput(args: string[], input: string): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [join(repoRoot, 'dist', 'cli', 'main.js'), ...args], { env: { ...process.env, NO_COLOR: '1', HERALD_DATABASE_URL: '', ...env }, timeout: 120_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, stdout, stderr }),
    );
    child.stdin!.end(input);
  });
}

describe.skipIf(!serverUrl)('herald bounces import', () => {
  it('imports a directory, then stdin, and says what it did; bad input is a user error naming the file', async () => {
    const db = await createTestDb();
    cleanup(() => db.dispose());
    await sentMessages(db, { source: 'spring', addresses: FIXTURE_RECIPIENTS });
    const ws = tempWorkspace(MINIMAL);
    cleanup(ws.remove);
    const dir = await herald(['bounces', 'import', FIXTURES, '--dir', ws.dir, '--db', db.url!, '--json'], env);
    expect(dir.code, dir.stderr).toBe(0);
    const summary = JSON.parse(dir.stdout) as { matched: number; suppressed: unknown[]; ignored: unknown[] };
    expect(summary.matched).toBe(13);
    expect(summary.ignored).toContainEqual({ where: join(FIXTURES, 'README.md'), why: expect.stringContaining('is not a mail') });
    expect(summary.suppressed).toHaveLength(9);
    expect(await suppressions(db)).toHaveLength(9);

    // The same DSN again, from standard input: nothing new.
    const again = await heraldWithInput(['bounces', 'import', '-', '--dir', ws.dir, '--db', db.url!], fixture('postfix-5.1.1.eml'));
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toBe('read 1 mail: 1 matched a message, 0 did not, 0 ignored\nrecorded: 0 bounces, 0 soft bounces, 0 complaints, 0 unsubscribes (the rest were known already)\n');

    const notMail = join(ws.dir, 'notes.txt');
    writeFileSync(notMail, 'hello, this is no mail\n');
    const bad = await herald(['bounces', 'import', notMail, '--dir', ws.dir, '--db', db.url!], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`${notMail} is not a mail`);
    expect(bad.stderr).not.toMatch(/\n\s+at /);
    const missing = await herald(['bounces', 'import', join(ws.dir, 'nope.eml'), '--dir', ws.dir, '--db', db.url!], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('nope.eml: no such file or directory');
  }, 300_000);
});
