import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Queryable } from '../../src/db/db.js';
import { runWorkflow, type RunnerOptions, type RunResult } from '../support/actions.js';
import { herald } from '../support/cli.js';
import { useCleanups } from '../support/cleanup.js';
import { createTestDb, serverUrl } from '../support/db.js';
import { startGitHubPeer } from '../support/github.js';
import { createShop } from '../support/shop.js';
import { startSmtpSink } from '../support/smtp.js';

/**
 * The whole GitOps loop as a shop runs it, on disk and against PostgreSQL:
 * a fresh `herald init` repository, used with exactly the commands its
 * README shows; then its own workflows, run step by step by a local runner
 * (test/support/actions.ts) with GitHub's variables, against a GitHub-shaped
 * API on 127.0.0.1: a pull request with a new campaign gets its checks and
 * sticky comments, the merge applies the reviewed plan, a stale merge is
 * refused and said so, and two ticks commit reports to a bare repository
 * (the second, with nothing new, commits nothing).
 */
const cleanup = useCleanups();
const REPO = 'example-shop/emails';
const TOKEN = 'ghs_thisIsTheWorkflowsToken0123456789';
const SECRET = 'a-link-signing-secret-of-at-least-32-bytes';

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 'Ada', GIT_AUTHOR_EMAIL: 'ada@example.com', GIT_COMMITTER_NAME: 'Ada', GIT_COMMITTER_EMAIL: 'ada@example.com' } }).trim();
}

/** The shop the scaffold's segment finds: customers of site `shop` whose last order is a year old. */
async function shop(db: Queryable, count: number): Promise<void> {
  await createShop(db, { customers: [] });
  await db.query(
    `INSERT INTO shop.customers (id, email, first_name, site, locale, created_at, email_opt_in)
     SELECT i, 'customer' || i || '@example.com', 'Customer ' || i, 'shop', 'en', now() - interval '2 years', true FROM generate_series(1, $1::int) AS i`,
    [count],
  );
  await db.query(
    `INSERT INTO shop.orders (id, customer_id, site, status, total, currency, created_at)
     SELECT i, i, 'shop', 'delivered', 100, 'EUR', now() - interval '1 year' FROM generate_series(1, $1::int) AS i`,
    [count],
  );
}

/** Runs a shell line as the README shows it, with herald on the PATH as the action (or a global install) puts it. */
function sh(line: string, cwd: string, env: Record<string, string>): { code: number; out: string } {
  try {
    const out = execFileSync('bash', ['-c', line], { cwd, encoding: 'utf8', env: { ...process.env, HERALD_DATABASE_URL: '', HERALD_SMTP_URL: '', GITHUB_ACTIONS: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    return { code: 0, out };
  } catch (err) {
    const e = err as { status: number; stdout: string; stderr: string };
    return { code: e.status, out: `${e.stdout}${e.stderr}` };
  }
}

function failed(r: RunResult): string {
  return r.steps
    .filter((s) => s.status === 'failure')
    .map((s) => `${s.job} / ${s.name}:\n${s.stdout}\n${s.stderr}`)
    .join('\n');
}

describe.skipIf(!serverUrl)('the GitOps loop of a fresh herald init repository', () => {
  it('runs as its README and workflows say: PR checks and comments, apply on merge, stale merges refused, ticks that commit reports', async () => {
    const root = mkdtempSync(join(tmpdir(), 'herald-gitops-'));
    cleanup(() => rmSync(root, { recursive: true, force: true }));
    const dir = join(root, 'emails');
    const origin = join(root, 'origin.git');

    // ---- herald init, and the README's own commands ----
    const init = await herald(['init', dir]);
    expect(init.code, init.stderr).toBe(0);
    // The scaffold's quiet hours (21:00 to 09:00, Berlin) would hold the
    // tick's messages back at night: this test sends on the real clock.
    const yaml = readFileSync(join(dir, 'herald.yaml'), 'utf8');
    writeFileSync(join(dir, 'herald.yaml'), yaml.replace(/^ {2}quiet_hours:.*\n/m, ''));
    expect(readFileSync(join(dir, 'herald.yaml'), 'utf8')).not.toBe(yaml);

    const staging = await createTestDb();
    const production = await createTestDb();
    cleanup(() => staging.dispose(), () => production.dispose());
    await shop(staging, 20);
    await shop(production, 40);

    const install = mkdtempSync(join(root, 'bin-'));
    const pathFile = join(install, 'path');
    execFileSync('bash', [join(__dirname, '..', '..', 'scripts', 'action-install.sh')], { env: { ...process.env, GITHUB_PATH: pathFile, RUNNER_TEMP: install } });
    const PATH = `${readFileSync(pathFile, 'utf8').trim()}:${process.env.PATH}`;
    const readme = readFileSync(join(dir, 'README.md'), 'utf8');
    const block = /## Working on it[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)![1]!;
    const commands = block.split('\n').map((l) => l.replace(/#.*$/, '').trim()).filter(Boolean);
    expect(commands).toEqual(['herald validate', 'herald plan', 'herald apply', 'herald run']);
    for (const line of commands) {
      // apply asks on a terminal; a script answers with --auto-approve, as its error says.
      const r = sh(line === 'herald apply' ? 'herald apply --auto-approve' : line, dir, { PATH, HERALD_DATABASE_URL: staging.url! });
      expect(r.code, `${line}\n${r.out}`).toBe(0);
    }

    // ---- the repository on GitHub: a bare origin, a GitHub-shaped API ----
    execFileSync('git', ['init', '-q', '--bare', '-b', 'main', origin]);
    git(dir, 'init', '-q', '-b', 'main');
    git(dir, 'add', '-A');
    git(dir, 'commit', '-q', '-m', 'herald init');
    git(dir, 'remote', 'add', 'origin', origin);
    git(dir, 'push', '-q', 'origin', 'main');

    const github = await startGitHubPeer({ token: TOKEN, repository: REPO });
    cleanup(() => github.close());
    const smtp = await startSmtpSink();
    cleanup(() => smtp.close());

    const environments = {
      staging: { HERALD_DATABASE_URL: staging.url! },
      production: { HERALD_DATABASE_URL: production.url!, HERALD_SMTP_URL: smtp.url, HERALD_SECRET: SECRET },
    };
    const runner = (event: RunnerOptions['event'], eventName: string, extra: Record<string, string>): RunnerOptions => ({
      dir,
      event,
      eventName,
      github: { repository: REPO, api_url: github.url, server_url: 'https://github.com', run_id: '4242', sha: git(dir, 'rev-parse', 'HEAD'), ...extra },
      secrets: { GITHUB_TOKEN: TOKEN, HERALD_STAGING_PLAN_DATABASE_URL: staging.url!, HERALD_PRODUCTION_PLAN_DATABASE_URL: production.url! },
      environments,
      machine: { HERALD_CHROMIUM: process.env.HERALD_CHROMIUM ?? '/usr/bin/chromium' },
    });
    const deployed = async (db: Queryable) =>
      (await db.query<{ key: string }>("SELECT kind || '/' || name AS key FROM herald.objects WHERE archived_at IS NULL ORDER BY 1")).map((r) => r.key);

    // ---- a pull request with a new campaign ----
    const openPullRequest = (number: number, branch: string, title: string) => {
      git(dir, 'checkout', '-q', '-b', branch, 'main');
      writeFileSync(
        join(dir, `campaigns/${branch}.yaml`),
        `# yaml-language-server: $schema=../schemas/campaign.schema.json\ntitle: ${title}\nsite: shop\naudience:\n  segment: lapsed\ntemplate: hello\nstatus: ready\nschedule:\n  at: now\n`,
      );
      git(dir, 'add', '-A');
      git(dir, 'commit', '-q', '-m', title);
      git(dir, 'push', '-q', 'origin', branch);
      const pull = { number, head: { ref: branch, sha: git(dir, 'rev-parse', 'HEAD'), repo: { full_name: REPO } }, base: { ref: 'main', repo: { full_name: REPO } } };
      return () => runWorkflow('.github/workflows/herald-pr.yml', runner({ pull_request: pull, number }, 'pull_request', { base_ref: 'main', head_ref: branch, ref: `refs/pull/${number}/merge` }));
    };
    const merge = async (number: number, branch: string) => {
      git(dir, 'checkout', '-q', 'main');
      git(dir, 'merge', '-q', '--no-ff', '-m', `Merge pull request #${number} from ${branch}`, branch);
      git(dir, 'push', '-q', 'origin', 'main');
      github.setPulls(git(dir, 'rev-parse', 'HEAD'), [{ number, state: 'closed' }]);
      return runWorkflow('.github/workflows/herald-apply.yml', runner({ ref: 'refs/heads/main', after: git(dir, 'rev-parse', 'HEAD') }, 'push', { ref: 'refs/heads/main', ref_name: 'main' }));
    };

    const autumn = openPullRequest(7, 'autumn', 'Autumn news');
    const first = await autumn();
    expect(failed(first)).toBe('');
    expect(first.jobs).toEqual({ validate: 'success', preview: 'success', plan: 'success' });
    const comments = (n: number) => github.commentsOf(n);
    expect(comments(7).map((c) => c.body.split('\n')[0]).sort()).toEqual([
      expect.stringMatching(/^<!-- herald:plan env=production review=[0-9a-f]{64} -->$/),
      expect.stringMatching(/^<!-- herald:plan env=staging review=[0-9a-f]{64} -->$/),
      expect.stringMatching(/^<!-- herald:preview/),
    ]);
    const planOf = (n: number, env: string) => comments(n).find((c) => c.body.startsWith(`<!-- herald:plan env=${env} `))!.body;
    expect(planOf(7, 'production')).toContain('campaign/autumn');
    expect(planOf(7, 'production')).toMatch(/\b40 recipients/);
    expect(planOf(7, 'staging')).toMatch(/\b20 recipients/);
    expect(planOf(7, 'production')).toContain('https://github.com/example-shop/emails/actions/runs/4242');
    expect(first.summaries['plan (production)']).toContain('campaign/autumn');
    expect(Object.keys(first.artifacts).sort()).toEqual(['herald-plan-production', 'herald-plan-staging', 'herald-preview']);

    // Another push to the pull request: the same three comments, updated in place.
    const ids = comments(7).map((c) => c.id).sort();
    const again = await autumn();
    expect(failed(again)).toBe('');
    expect(comments(7).map((c) => c.id).sort()).toEqual(ids);

    // ---- merge: apply exactly the reviewed plan, staging then production ----
    const merged = await merge(7, 'autumn');
    expect(failed(merged)).toBe('');
    expect(merged.jobs).toEqual({ 'apply-staging': 'success', 'apply-production': 'success' });
    expect(await deployed(production)).toContain('campaign/autumn');
    expect(await deployed(staging)).toContain('campaign/autumn');

    // ---- a stale merge: reviewed, then main moved before the merge ----
    const winter = openPullRequest(8, 'winter', 'Winter news');
    expect(failed(await winter())).toBe('');
    git(dir, 'checkout', '-q', 'main');
    writeFileSync(join(dir, 'campaigns/autumn.yaml'), readFileSync(join(dir, 'campaigns/autumn.yaml'), 'utf8').replace('title: Autumn news', 'title: Autumn news, revised'));
    git(dir, 'commit', '-q', '-am', 'Autumn news, revised (pushed straight to main)');
    git(dir, 'push', '-q', 'origin', 'main');
    const stale = await merge(8, 'winter');
    expect(stale.jobs).toEqual({ 'apply-staging': 'failure', 'apply-production': 'skipped' });
    expect(failed(stale)).toContain('stale plan, re-review');
    expect(await deployed(staging)).not.toContain('campaign/winter');
    const said = comments(8).find((c) => c.body.startsWith('<!-- herald:apply env=staging -->'));
    expect(said?.body).toContain('stale plan, re-review');

    // ---- the scheduled tick: sends, then commits the reports; a second one commits nothing ----
    git(dir, 'checkout', '-q', 'main');
    const head = () => execFileSync('git', ['--git-dir', origin, 'rev-parse', 'main'], { encoding: 'utf8' }).trim();
    const before = head();
    const tick = () => runWorkflow('.github/workflows/herald-tick.yml', runner({ schedule: '7,22,37,52 * * * *' }, 'schedule', { ref: 'refs/heads/main', ref_name: 'main' }));
    const t1 = await tick();
    expect(failed(t1)).toBe('');
    expect(smtp.messages.length, t1.steps.map((s) => `${s.name}: ${s.stdout}${s.stderr}`).join('\n')).toBe(40);
    const committed = head();
    expect(committed).not.toBe(before);
    const log = execFileSync('git', ['--git-dir', origin, 'log', '-1', '--format=%s', '--name-only', 'main'], { encoding: 'utf8' });
    expect(log).toMatch(/^herald: reports .* \[skip ci\]\n/);
    const files = log.trim().split('\n').slice(2);
    expect(files.every((f) => f.startsWith('reports/')), files.join(', ')).toBe(true);
    expect(files).toEqual(expect.arrayContaining(['reports/index.md', 'reports/autumn.md', 'reports/calendar.md']));

    const t2 = await tick();
    expect(failed(t2)).toBe('');
    expect(head()).toBe(committed);
    expect(smtp.messages.length).toBe(40);
  }, 600_000);
});
