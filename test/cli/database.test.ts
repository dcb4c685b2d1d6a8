import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CliResult } from '../support/cli.js';
import { useCleanups } from '../support/cleanup.js';
import { serverUrl } from '../support/db.js';
import { MINIMAL, repoRoot, tempWorkspace } from '../support/workspace.js';

/**
 * What `--db`, HERALD_DATABASE_URL and an environment's URL may name: a
 * PostgreSQL URL, or the folder of an embedded database. Anything else is
 * refused before herald opens, creates or plans against anything.
 */
const cleanup = useCleanups();

/** The CLI in a folder of its own, so a value taken as a relative folder would show up there. */
function heraldIn(cwd: string, args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(repoRoot, 'dist', 'cli', 'main.js'), ...args],
      { cwd, env: { ...process.env, NO_COLOR: '1', HERALD_DATABASE_URL: '', HERALD_SMTP_URL: '', GITHUB_ACTIONS: '', ...env }, timeout: 120_000 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, stdout, stderr }),
    );
  });
}

function setup() {
  const ws = tempWorkspace(MINIMAL);
  const cwd = mkdtempSync(join(tmpdir(), 'herald-cwd-'));
  cleanup(ws.remove, () => rmSync(cwd, { recursive: true, force: true }));
  return { ws, cwd };
}

const URL_HINT = '  hint: a PostgreSQL server is postgres://user@host/db; an embedded database is a folder path (write ./name for a folder whose name has a colon)\n';

describe('choosing the database', () => {
  it('refuses a URL herald does not know, never printing its password, and creates nothing', async () => {
    const { ws, cwd } = setup();
    for (const [spec, shown] of [
      ['postgress://shop:s3cret-pw@db.example.com/shop', 'postgress://shop:***@db.example.com/shop'],
      ['http://db.example.com/shop', 'http://db.example.com/shop'],
      ['mysql://root:s3cret-pw@localhost/shop?password=s3cret-pw', 'mysql://root:***@localhost/shop?password=***'],
      ['postgres:db.example.com/shop', 'postgres:db.example.com/shop'],
    ] as const) {
      const r = await heraldIn(cwd, ['plan', '--dir', ws.dir, '--db', spec]);
      expect(r.code, spec).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe(`herald: --db ${shown} is not a database herald can open: ${spec.startsWith('postgres:') ? 'postgres: needs //, as in postgres://host/db' : `unknown scheme ${spec.slice(0, spec.indexOf(':') + 1)}`}\n${URL_HINT}`);
      expect(r.stderr).not.toContain('s3cret');
    }
    // A value cannot drive the terminal: control characters print escaped.
    const ansi = await heraldIn(cwd, ['plan', '--dir', ws.dir, '--db', 'postgress://h/\x1b[2J\x1b]0;owned\x07db']);
    expect(ansi.code).toBe(1);
    expect(ansi.stderr).toContain('herald: --db postgress://h/\\x1b[2J\\x1b]0;owned\\x07db is not a database herald can open');
    expect(ansi.stderr).not.toMatch(/[\x00-\x09\x0b-\x1f]/);
    expect(readdirSync(cwd)).toEqual([]);
    expect(existsSync(join(ws.dir, '.herald', 'db'))).toBe(false);
  });

  it.runIf(serverUrl)('hides a password given as a parameter when the server refuses the login', async () => {
    const { ws, cwd } = setup();
    const url = new URL(serverUrl!);
    url.username = 'herald_nobody';
    url.search = '?password=s3cret-pw';
    const r = await heraldIn(cwd, ['plan', '--dir', ws.dir, '--db', url.toString()]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`herald: cannot use the database postgres://herald_nobody@${url.host}${url.pathname}?password=***: `);
    expect(r.stderr).not.toContain('s3cret');
  });

  it('refuses an empty --db', async () => {
    const { ws, cwd } = setup();
    const r = await heraldIn(cwd, ['plan', '--dir', ws.dir, '--db', '']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('herald: --db is empty\n  hint: give postgres://user@host/db, or the folder of an embedded database; without --db herald uses .herald/db in the workspace\n');
  });

  it('creates no folder but the default one: a folder that does not exist is refused', async () => {
    const { ws, cwd } = setup();
    const r = await heraldIn(cwd, ['plan', '--dir', ws.dir, '--db', 'not a url']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `herald: --db names the folder ${join(cwd, 'not a url')}, which does not exist; herald creates only the default embedded database (.herald/db in the workspace)\n` +
        `  hint: for a new embedded database there, create the folder first (mkdir -p '${join(cwd, 'not a url')}'); for a server give postgres://user@host/db\n`,
    );
    expect(readdirSync(cwd)).toEqual([]);

    // A folder that holds something else is not turned into a database either.
    writeFileSync(join(cwd, 'notes.txt'), 'mine');
    const full = await heraldIn(cwd, ['plan', '--dir', ws.dir, '--db', '.']);
    expect(full.code).toBe(1);
    expect(full.stderr).toBe(
      `herald: --db names the folder ${cwd}, which is not an embedded database (it has no PG_VERSION) and is not empty\n` +
        '  hint: give an empty folder for a new embedded database, or the folder of an existing one\n',
    );
    const file = await heraldIn(cwd, ['plan', '--dir', ws.dir, '--db', 'notes.txt']);
    expect(file.code).toBe(1);
    expect(file.stderr).toContain(`herald: --db names ${join(cwd, 'notes.txt')}, which is not a folder\n`);
    expect(readdirSync(cwd)).toEqual(['notes.txt']);

    // An empty folder made on purpose becomes a database; so does the default, silently.
    mkdirSync(join(cwd, 'my db'));
    const made = await heraldIn(cwd, ['state', 'list', '--dir', ws.dir, '--db', 'my db']);
    expect(made.code, made.stderr).toBe(0);
    expect(existsSync(join(cwd, 'my db', 'PG_VERSION'))).toBe(true);
    const reopened = await heraldIn(cwd, ['state', 'list', '--dir', ws.dir, '--db', 'my db']);
    expect(reopened.code, reopened.stderr).toBe(0);
    const byDefault = await heraldIn(cwd, ['state', 'list', '--dir', ws.dir]);
    expect(byDefault.code, byDefault.stderr).toBe(0);
    expect(existsSync(join(ws.dir, '.herald', 'db', 'PG_VERSION'))).toBe(true);
    // Three embedded databases opened and migrated: room for a busy machine.
  }, 300_000);

  it('checks HERALD_DATABASE_URL and an environment\'s variable the same way', async () => {
    const { ws, cwd } = setup();
    const env = await heraldIn(cwd, ['plan', '--dir', ws.dir], { HERALD_DATABASE_URL: 'https://admin:s3cret-pw@db.example.com/shop' });
    expect(env.code).toBe(1);
    expect(env.stderr).toBe(`herald: $HERALD_DATABASE_URL https://admin:***@db.example.com/shop is not a database herald can open: unknown scheme https:\n${URL_HINT}`);

    ws.write('herald.yaml', MINIMAL['herald.yaml']! + 'environments:\n  staging:\n    database_url_env: HERALD_TEST_STAGING_URL\n');
    const staging = await heraldIn(cwd, ['plan', '--dir', ws.dir, '--env', 'staging'], { HERALD_TEST_STAGING_URL: 'postgress://app:s3cret-pw@db/shop' });
    expect(staging.code).toBe(1);
    expect(staging.stderr).toBe(`herald: $HERALD_TEST_STAGING_URL (environment staging) postgress://app:***@db/shop is not a database herald can open: unknown scheme postgress:\n${URL_HINT}`);
    const missing = await heraldIn(cwd, ['plan', '--dir', ws.dir, '--env', 'staging'], { HERALD_TEST_STAGING_URL: 'staging-db' });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`herald: $HERALD_TEST_STAGING_URL (environment staging) names the folder ${join(cwd, 'staging-db')}, which does not exist;`);
    expect(readdirSync(cwd)).toEqual([]);
  });
});
