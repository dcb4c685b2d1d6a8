import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { herald } from '../support/cli.js';
import { useCleanups } from '../support/cleanup.js';
import { createTestDb, serverUrl, type TestDb } from '../support/db.js';
import { createOrigin, GIT_ENV, sh } from '../support/git.js';
import { createShop } from '../support/shop.js';
import { exampleWorkspace, repoRoot } from '../support/workspace.js';

/**
 * The scheduled tick as the workflow runs it, through the built CLI (dist/:
 * `npm run build` first), on real PostgreSQL and git on disk: `herald run
 * --every 15m`, then `herald report --all --commit --push` from a clone of
 * a bare repository whose workspace is in a subfolder (shop/). git runs
 * without any config of this machine, as on a GitHub runner.
 */
const cleanup = useCleanups();
const T0 = '2026-11-20T09:07:00Z';
const plus = (min: number) => new Date(Date.parse(T0) + min * 60_000).toISOString();

async function shop(): Promise<TestDb> {
  const db = await createTestDb();
  cleanup(() => db.dispose());
  await createShop(db, {
    customers: [
      { id: 1, email: 'anna@example.com', first_name: 'Anna' },
      { id: 2, email: 'boris@example.com', first_name: 'Boris', locale: 'ru', site: 'shop-ru' },
    ],
    products: ['OW-001', 'SH-001', 'BG-001', 'AC-002', 'CR-001', 'CR-002', 'CR-003', 'CR-004'].map((sku) => ({ sku, category: 'demo' })),
  });
  return db;
}

/** The example workspace in shop/ of a repository on disk, applied to a database; `repo` is the tick's clone. */
async function setup() {
  const origin = createOrigin({ 'README.md': 'The shop.\n', '.gitignore': '.herald/\n' });
  cleanup(origin.remove);
  const seed = origin.clone('author');
  const ws = exampleWorkspace();
  cleanup(ws.remove);
  cpSync(ws.dir, join(seed, 'shop'), { recursive: true });
  sh(seed, 'add', '--all');
  sh(seed, 'commit', '--quiet', '-m', 'the workspace');
  sh(seed, 'push', '--quiet', 'origin', 'main');
  const repo = origin.clone('tick');
  const db = await shop();
  const args = ['--dir', join(repo, 'shop'), '--db', db.url!];
  const applied = await herald(['apply', '--auto-approve', ...args]);
  expect(applied.code, applied.stderr).toBe(0);
  return { origin, repo, db, args };
}

const env = { ...GIT_ENV, GITHUB_STEP_SUMMARY: '' };

describe.skipIf(!serverUrl)('the scheduled tick', () => {
  it('herald run, then herald report --all --commit --push: the reports land in one [skip ci] commit of reports/ alone; the next tick with nothing new commits nothing', async () => {
    const { origin, repo, args } = await setup();
    // Someone's work in progress in the clone: it must stay as it is, uncommitted.
    const campaign = join(repo, 'shop', 'campaigns', 'winback.yaml');
    const edited = readFileSync(campaign, 'utf8').replace('title: We miss you', 'title: We really miss you');
    writeFileSync(campaign, edited);

    const ran = await herald(['run', '--budget', '1m', '--every', '15m', '--now', T0, ...args], env);
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.stdout).not.toContain('warning');
    const before = origin.log();
    const reported = await herald(['report', '--all', '--commit', '--push', ...args], env);
    expect(reported.code, reported.stderr).toBe(0);
    expect(reported.stdout).toMatch(/^Committed \d+ files in reports\/ as [0-9a-f]{12}\.$/m);
    expect(reported.stdout).toContain('Pushed to origin main.');

    const log = origin.log();
    expect(log).toHaveLength(before.length + 1);
    expect(log[0]!.subject).toMatch(/^herald: reports \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z \[skip ci\]$/);
    expect(log[0]!.author).toBe('herald <herald@users.noreply.github.com>');
    expect(log[0]!.files).toContain('shop/reports/index.md');
    expect(log[0]!.files).toContain('shop/reports/winback.md');
    expect(log[0]!.files).toContain('shop/reports/triggers/welcome.md');
    expect(log[0]!.files.filter((f) => !f.startsWith('shop/reports/'))).toEqual([]);
    expect(sh(repo, 'status', '--porcelain')).toBe(' M shop/campaigns/winback.yaml');
    expect(readFileSync(campaign, 'utf8')).toBe(edited);

    const head = sh(origin.bare, 'rev-parse', 'main');
    const next = await herald(['run', '--budget', '1m', '--every', '15m', '--now', plus(15), ...args], env);
    expect(next.code, next.stderr).toBe(0);
    const again = await herald(['report', '--all', '--commit', '--push', ...args], env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('reports unchanged; nothing to commit');
    expect(again.stdout).not.toContain('Pushed');
    expect(sh(origin.bare, 'rev-parse', 'main')).toBe(head);
    expect(sh(repo, 'status', '--porcelain')).toBe(' M shop/campaigns/winback.yaml');
  }, 300_000);

  it('the branch moved meanwhile: the push is retried after a rebase and lands; a report edited by hand on the remote is written again and lands', async () => {
    const { origin, repo, db, args } = await setup();
    origin.pushFrom('someone', { 'shop/campaigns/spring.yaml': 'title: Spring\n' }, 'a spring draft');
    const moved = await herald(['report', '--all', '--commit', '--push', ...args], env);
    expect(moved.code, moved.stderr).toBe(0);
    expect(moved.stdout).toContain('Pushed to origin main (the branch had moved: rebased onto it once).');
    expect(origin.log().slice(0, 2).map((c) => c.subject)).toEqual([expect.stringMatching(/\[skip ci\]$/), 'a spring draft']);

    // A hand edit of winback's report on the remote, and something new for it in the database: a message sent.
    origin.pushFrom('editor', { 'shop/reports/winback.md': '# winback\n\nedited by hand\n' }, 'a hand edit of a report');
    await db.query(
      `INSERT INTO herald.messages (source_kind, source, customer_id, address, site, locale, status, sent_at)
       VALUES ('campaign', 'winback', 1, 'anna@example.com', 'shop-en', 'en', 'sent', '2026-11-20T10:00:00Z')`,
    );
    const rewritten = await herald(['report', '--all', '--commit', '--push', ...args], env);
    expect(rewritten.code, rewritten.stderr).toBe(0);
    expect(rewritten.stdout).toContain('Pushed to origin main (the branch had moved: wrote the reports again onto it once, as the rebase could not be made).');
    const log = origin.log();
    expect(log.slice(0, 2).map((c) => c.subject)).toEqual([expect.stringMatching(/\[skip ci\]$/), 'a hand edit of a report']);
    expect(log[0]!.files).toContain('shop/reports/winback.md');
    const landed = sh(origin.bare, 'show', 'main:shop/reports/winback.md');
    expect(landed).toMatch(/\| Sent \| 1 /);
    expect(`${landed}\n`).toBe(readFileSync(join(repo, 'shop', 'reports', 'winback.md'), 'utf8'));
    expect(existsSync(join(repo, '.git', 'rebase-merge'))).toBe(false);
    expect(sh(repo, 'status', '--porcelain')).toBe('');
    expect(sh(repo, 'rev-parse', 'HEAD')).toBe(sh(origin.bare, 'rev-parse', 'main'));
  }, 300_000);

  it('--every: a warning when the previous tick started more than twice the interval ago, in the output and the job summary; none within it', async () => {
    const { db, args } = await setup();
    const summary = join(mkdtempSync(join(tmpdir(), 'herald-summary-')), 'step-summary.md');
    cleanup(() => rmSync(join(summary, '..'), { recursive: true, force: true }));
    const run = async (now: string, extra: string[] = []) => {
      const r = await herald(['run', '--budget', '1m', '--now', now, ...extra, ...args], { ...env, GITHUB_STEP_SUMMARY: summary });
      expect(r.code, r.stderr).toBe(0);
      return r.stdout;
    };
    expect(await run(T0, ['--every', '15m'])).not.toContain('warning');
    // 47 minutes later; the interval is the one the previous tick recorded.
    const late = await run(plus(47));
    const warning = 'warning: the previous tick started 47 min ago, more than twice the 15 min interval: GitHub delays and drops scheduled runs under load; messages due in between went out late';
    expect(late.split('\n')[0]).toBe(warning);
    expect(late).toContain('\ndelivered: ');
    const md = readFileSync(summary, 'utf8').split('### herald run, ');
    expect(md).toHaveLength(3);
    expect(md[1]).not.toContain('warning');
    expect(md[2]!.startsWith(`${plus(47).replace('.000Z', 'Z')}\n\n> ⚠️ ${warning}\n\n- `)).toBe(true);
    expect(md[2]).toMatch(/\n- delivered: \d+ sent, [^\n]*\n$/);
    // 28 minutes later: within twice the interval (the edge itself is test/tick/ticks.test.ts's).
    const json = JSON.parse(await run(plus(75), ['--json'])) as { warning?: string; stopped: string };
    expect(json.warning).toBeUndefined();
    expect(json.stopped).toBe('done');
    const onTime = JSON.parse(await run(plus(140), ['--json', '--every', '30m'])) as { warning?: string };
    expect(onTime.warning).toBe('warning: the previous tick started 65 min ago, more than twice the 30 min interval: GitHub delays and drops scheduled runs under load; messages due in between went out late');

    const ticks = await db.query<{ started_at: Date; finished_at: Date | null; every_seconds: number; summary: { stopped: string; sent: number } }>(
      'SELECT started_at, finished_at, every_seconds, summary FROM herald.ticks ORDER BY started_at',
    );
    expect(ticks.map((t) => t.every_seconds)).toEqual([900, 900, 900, 1800]);
    expect(ticks.every((t) => t.finished_at && t.summary.stopped === 'done' && typeof t.summary.sent === 'number')).toBe(true);
    expect(ticks.map((t) => t.started_at.toISOString().slice(0, 16))).toEqual([T0, plus(47), plus(75), plus(140)].map((t) => t.slice(0, 16)));

    // A tick that fails after its start: the job summary still has the warning, and says it failed.
    const failed = await herald(['run', '--budget', '1m', '--now', plus(400), ...args], { ...env, GITHUB_STEP_SUMMARY: summary, HERALD_SMTP_URL: 'ftp://mail.example.com' });
    expect(failed.code).toBe(1);
    expect(failed.stdout).toBe('warning: the previous tick started 4 h 20 min ago, more than twice the 30 min interval: GitHub delays and drops scheduled runs under load; messages due in between went out late\n');
    expect(failed.stderr).toContain('HERALD_SMTP_URL has the scheme "ftp:"');
    const last = readFileSync(summary, 'utf8').split('### herald run, ').at(-1)!;
    expect(last).toContain('> ⚠️ warning: the previous tick started 4 h 20 min ago');
    expect(last).toContain('**The tick failed**: the job log has the error.');
    const [unfinished] = await db.query<{ finished_at: Date | null }>('SELECT finished_at FROM herald.ticks ORDER BY started_at DESC LIMIT 1');
    expect(unfinished!.finished_at).toBeNull();
  }, 300_000);

  it('a tick killed midway leaves its start; the next tick measures its gap from it', async () => {
    const { db, args } = await setup();
    // Hold the attribution pass's row: the tick waits there, after it recorded its start.
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    const holder = db.transaction(async (tx) => {
      await tx.query('INSERT INTO herald.attribution_passes DEFAULT VALUES ON CONFLICT (id) DO NOTHING');
      await tx.query('SELECT 1 FROM herald.attribution_passes FOR UPDATE');
      locked();
      await released;
    });
    cleanup(async () => {
      release();
      await holder;
    });
    await isLocked;
    const wallBefore = Date.now();
    const child = spawn(process.execPath, [join(repoRoot, 'dist', 'cli', 'main.js'), 'run', '--every', '15m', '--now', T0, ...args], {
      env: { ...process.env, ...env, NO_COLOR: '1', HERALD_DATABASE_URL: '', HERALD_SMTP_URL: '' },
    });
    child.stdout.resume();
    child.stderr.resume();
    const exited = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_code, signal) => r(signal)));
    await expect
      .poll(async () => (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"))[0]!.n, {
        timeout: 120_000,
        interval: 100,
      })
      .toBe(1);
    const wallAfter = Date.now();
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    release();
    await holder;

    const [tick] = await db.query<{ started_at: Date; finished_at: Date | null; every_seconds: number; summary: unknown }>('SELECT * FROM herald.ticks');
    expect(tick).toMatchObject({ finished_at: null, every_seconds: 900, summary: null });
    // Its start is on the --now clock: T0, and the time the process had run before it recorded it.
    const offset = tick!.started_at.getTime() - Date.parse(T0);
    expect(offset).toBeGreaterThanOrEqual(0);
    expect(offset).toBeLessThanOrEqual(wallAfter - wallBefore);

    const next = await herald(['run', '--budget', '1m', '--now', plus(120), ...args], env);
    expect(next.code, next.stderr).toBe(0);
    expect(next.stdout.split('\n')[0]).toMatch(/^warning: the previous tick started 2 h ago, more than twice the 15 min interval: /);
  }, 300_000);
});

describe('the tick options', () => {
  it('refuses --every that is not a duration, and the git options without what they need', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-opts-'));
    cleanup(() => rmSync(dir, { recursive: true, force: true }));
    const cases: [string[], string][] = [
      [['run', '--every', '15'], 'herald: --every "15" is not a duration'],
      [['report', '--all', '--push'], 'herald: --push pushes the commit --commit makes: it needs --commit'],
      [['report', 'winback', '--commit'], 'herald: --commit commits every report: it needs --all'],
      [['report', '--all', '--commit', '--branch', 'main'], 'herald: --branch says where to push: it needs --push'],
      [['report', '--all', '--commit', '--push', '--branch', '--force'], 'herald: --branch "--force" is not a branch name'],
      [['report', '--all', '--commit', '--push', '--remote', 'https://x@y/z'], 'herald: --remote "https://x@y/z" is not the name of a remote'],
    ];
    for (const [args, message] of cases) {
      const r = await herald([...args, '--dir', dir], env);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr.split('\n')[0]).toBe(message);
    }
  }, 120_000);
});
