import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { publishFolder, type PublishOptions } from '../../src/git/publish.js';
import { redactUrls } from '../../src/git/git.js';
import { useCleanups } from '../support/cleanup.js';
import { createOrigin, GIT_ENV, sh, write } from '../support/git.js';

/**
 * Committing and pushing a folder of generated files (reports/) with git on
 * disk: a bare repository as origin, clones of it with the workspace in a
 * subfolder (shop/), as a shop's repository may have it. `reports` stands
 * for the database: rewrite() writes the folder from it, as herald writes
 * the reports.
 */
const cleanup = useCleanups();

beforeAll(() => {
  // No identity and no config from this machine: what a GitHub runner has.
  Object.assign(process.env, GIT_ENV);
});

const WORKSPACE = {
  'shop/herald.yaml': 'sites: []\n',
  'shop/campaigns/winback.yaml': 'title: Win-back\n',
  'shop/reports/index.md': '# All mailings\n\nnothing yet\n',
  'README.md': 'The shop.\n',
};

function setup(opts: { shallow?: boolean } = {}) {
  const origin = createOrigin(WORKSPACE);
  cleanup(origin.remove);
  const repo = origin.clone('tick', opts);
  const dir = join(repo, 'shop');
  const reports: Record<string, string> = { 'index.md': '# All mailings\n\n2 mailings\n', 'winback.md': '# winback\n\n10 sent\n' };
  const rewrite = async () => write(join(dir, 'reports'), reports);
  const publish = (o: Partial<PublishOptions> = {}) =>
    publishFolder({ dir, folder: 'reports', message: 'herald: reports 2026-11-20T09:00:00Z [skip ci]', rewrite, push: { remote: 'origin' }, ...o });
  return { origin, repo, dir, reports, rewrite, publish };
}

const midRebase = (repo: string) => existsSync(join(repo, '.git', 'rebase-merge')) || existsSync(join(repo, '.git', 'rebase-apply'));

describe('publishFolder', () => {
  it('commits only the folder, as herald when git names no author, pushes it, and commits nothing when nothing changed', async () => {
    const { origin, repo, dir, rewrite, publish } = setup();
    await rewrite();
    // A person's work in progress: changed, staged, and new, outside reports/.
    writeFileSync(join(dir, 'campaigns', 'winback.yaml'), 'title: Win-back, draft 2\n');
    writeFileSync(join(repo, 'README.md'), 'The shop, staged.\n');
    sh(repo, 'add', 'README.md');
    writeFileSync(join(dir, 'campaigns', 'new.yaml'), 'title: New\n');

    const first = await publish();
    expect(first.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(first.files).toBe(2);
    expect(first.pushed).toEqual({ remote: 'origin', branch: 'main', attempts: 1, rebased: 0, rewritten: 0 });
    const log = origin.log();
    expect(log).toHaveLength(2);
    expect(log[0]).toEqual({ subject: 'herald: reports 2026-11-20T09:00:00Z [skip ci]', author: 'herald <herald@users.noreply.github.com>', files: ['shop/reports/index.md', 'shop/reports/winback.md'] });
    // The person's changes are where they were: still changed, still staged, still new.
    expect(sh(repo, 'status', '--porcelain')).toBe(['M  README.md', ' M shop/campaigns/winback.yaml', '?? shop/campaigns/new.yaml'].join('\n'));
    expect(readFileSync(join(dir, 'campaigns', 'winback.yaml'), 'utf8')).toBe('title: Win-back, draft 2\n');

    const head = sh(origin.bare, 'rev-parse', 'main');
    await rewrite();
    expect(await publish()).toEqual({ commit: null, files: 0 });
    expect(sh(origin.bare, 'rev-parse', 'main')).toBe(head);
    expect(sh(repo, 'rev-parse', 'HEAD')).toBe(head);
  });

  it('commits as the author git config names, when it names one', async () => {
    const { repo, rewrite, publish } = setup();
    sh(repo, 'config', 'user.name', 'CRM Team');
    sh(repo, 'config', 'user.email', 'crm@shop.example');
    await rewrite();
    await publish({ push: undefined });
    expect(sh(repo, 'log', '-1', '--format=%an <%ae> / %cn <%ce>')).toBe('CRM Team <crm@shop.example> / CRM Team <crm@shop.example>');
  });

  it('a branch that moved meanwhile (an unrelated commit): rebases onto it in a shallow clone and lands, both commits in the history', async () => {
    const { origin, rewrite, publish } = setup({ shallow: true });
    origin.pushFrom('someone', { 'shop/campaigns/spring.yaml': 'title: Spring\n' }, 'a spring campaign');
    await rewrite();
    const done = await publish();
    expect(done.pushed).toEqual({ remote: 'origin', branch: 'main', attempts: 2, rebased: 1, rewritten: 0 });
    expect(origin.log().map((c) => c.subject)).toEqual(['herald: reports 2026-11-20T09:00:00Z [skip ci]', 'a spring campaign', 'the workspace']);
    expect(origin.log()[0]!.files).toEqual(['shop/reports/index.md', 'shop/reports/winback.md']);
    expect(sh(origin.bare, 'rev-parse', 'main')).toBe(done.commit);
  });

  it('a report edited by hand on the remote: the rebase is aborted, the reports written again onto the remote branch, and they land', async () => {
    const { origin, repo, dir, reports, rewrite, publish } = setup();
    origin.pushFrom('someone', { 'shop/reports/index.md': '# All mailings\n\nedited by hand\n', 'shop/reports/notes.md': 'Our notes.\n' }, 'notes on the reports');
    writeFileSync(join(dir, 'campaigns', 'winback.yaml'), 'title: Win-back, draft 2\n');
    await rewrite();
    const done = await publish();
    expect(done.pushed).toEqual({ remote: 'origin', branch: 'main', attempts: 2, rebased: 0, rewritten: 1 });
    expect(midRebase(repo)).toBe(false);
    expect(origin.log().map((c) => c.subject)).toEqual(['herald: reports 2026-11-20T09:00:00Z [skip ci]', 'notes on the reports', 'the workspace']);
    // The generated file is herald's again; a file herald does not write stays.
    expect(sh(origin.bare, 'show', 'main:shop/reports/index.md')).toBe(reports['index.md']!.trim());
    expect(sh(origin.bare, 'show', 'main:shop/reports/notes.md')).toBe('Our notes.');
    expect(sh(repo, 'status', '--porcelain')).toBe(' M shop/campaigns/winback.yaml');
  });

  it('a hand edit on the remote that the rebase carries over without a conflict is written over too', async () => {
    const { origin, repo, reports, rewrite, publish } = setup();
    await rewrite();
    await publish();
    origin.pushFrom('someone', { 'shop/reports/winback.md': '# winback\n\n1,000,000 sent\n' }, 'a better number');
    reports['index.md'] = '# All mailings\n\n3 mailings\n';
    await rewrite();
    const done = await publish({ message: 'herald: reports 2026-11-20T09:15:00Z [skip ci]' });
    expect(done).toMatchObject({ files: 2, pushed: { attempts: 2, rebased: 1, rewritten: 0 } });
    expect(origin.log().map((c) => [c.subject, c.files])).toEqual([
      ['herald: reports 2026-11-20T09:15:00Z [skip ci]', ['shop/reports/index.md', 'shop/reports/winback.md']],
      ['a better number', ['shop/reports/winback.md']],
      ['herald: reports 2026-11-20T09:00:00Z [skip ci]', ['shop/reports/index.md', 'shop/reports/winback.md']],
      ['the workspace', ['README.md', 'shop/campaigns/winback.yaml', 'shop/herald.yaml', 'shop/reports/index.md']],
    ]);
    expect(sh(origin.bare, 'show', 'main:shop/reports/winback.md')).toBe('# winback\n\n10 sent');
    expect(sh(repo, 'status', '--porcelain')).toBe('');
  });

  it('a moved branch and uncommitted changes a rebase would have to stash: moved onto the remote branch with the changes kept, and lands', async () => {
    const { origin, repo, dir, rewrite, publish } = setup();
    origin.pushFrom('someone', { 'README.md': 'The shop, by someone else.\n' }, 'a README');
    writeFileSync(join(dir, 'campaigns', 'winback.yaml'), 'title: Win-back, draft 2\n');
    writeFileSync(join(dir, 'herald.yaml'), 'sites: [] # staged\n');
    sh(repo, 'add', 'shop/herald.yaml');
    await rewrite();
    const done = await publish();
    expect(done.pushed).toMatchObject({ attempts: 2, rewritten: 1 });
    expect(origin.log().map((c) => c.subject)).toEqual(['herald: reports 2026-11-20T09:00:00Z [skip ci]', 'a README', 'the workspace']);
    expect(origin.log()[0]!.files).toEqual(['shop/reports/index.md', 'shop/reports/winback.md']);
    // Still changed, and still staged.
    expect(sh(repo, 'status', '--porcelain')).toBe([' M shop/campaigns/winback.yaml', 'M  shop/herald.yaml'].join('\n'));
    expect(readFileSync(join(dir, 'campaigns', 'winback.yaml'), 'utf8')).toBe('title: Win-back, draft 2\n');
    expect(readFileSync(join(repo, 'README.md'), 'utf8')).toBe('The shop, by someone else.\n');
  });

  it('the remote already holds the very reports: the rebase leaves nothing of the commit, and nothing is pushed', async () => {
    const { origin, reports, rewrite, publish } = setup();
    origin.pushFrom('other-tick', Object.fromEntries(Object.entries(reports).map(([f, c]) => [`shop/reports/${f}`, c])), 'herald: reports from another tick [skip ci]');
    const head = sh(origin.bare, 'rev-parse', 'main');
    await rewrite();
    const done = await publish();
    expect(done).toEqual({ commit: null, files: 0, pushed: { remote: 'origin', branch: 'main', attempts: 1, rebased: 1, rewritten: 0 } });
    expect(sh(origin.bare, 'rev-parse', 'main')).toBe(head);
  });

  it('stops after the attempts it is given, with the commit kept and no rebase left open', async () => {
    const { origin, repo, rewrite, publish } = setup();
    origin.pushFrom('someone', { 'shop/campaigns/spring.yaml': 'title: Spring\n' }, 'a spring campaign');
    await rewrite();
    const err = await publish({ attempts: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toBe('git push to origin main was refused 1 times: the branch kept moving');
    expect(sh(repo, 'log', '-1', '--format=%s')).toBe('herald: reports 2026-11-20T09:00:00Z [skip ci]');
    expect(midRebase(repo)).toBe(false);
  });

  it('a push refused for another reason: what git said, with the credentials in URLs blanked', async () => {
    const { origin, rewrite, publish } = setup();
    const hook = join(origin.bare, 'hooks', 'pre-receive');
    writeFileSync(hook, '#!/bin/sh\necho "protected branch; see https://ci-bot:ghp_secret123@git.example.com/rules" >&2\nexit 1\n', { mode: 0o755 });
    await rewrite();
    const err = (await publish().catch((e: unknown) => e)) as UserError;
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toContain('git push to origin main was refused:');
    expect(err.message).toContain('protected branch; see https://***@git.example.com/rules');
    expect(err.message).toContain('pre-receive hook declined');
    expect(err.message).not.toContain('ghp_secret123');
    expect(err.hint).toMatch(/^the reports are committed here \([0-9a-f]{12}\)/);
  });

  it('refuses to drop commits of the branch the remote lacks when the rebase cannot be made', async () => {
    const { origin, repo, dir, rewrite, publish } = setup();
    origin.pushFrom('someone', { 'shop/reports/index.md': 'edited by hand\n' }, 'a hand edit');
    write(dir, { 'campaigns/autumn.yaml': 'title: Autumn\n' });
    sh(repo, 'add', '--all');
    sh(repo, 'commit', '--quiet', '-m', 'an autumn campaign, not pushed yet');
    await rewrite();
    const err = (await publish().catch((e: unknown) => e)) as UserError;
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toBe('the reports commit cannot be rebased onto origin main, and this branch has other commits that origin main does not');
    expect(sh(repo, 'log', '--format=%s')).toBe(['herald: reports 2026-11-20T09:00:00Z [skip ci]', 'an autumn campaign, not pushed yet', 'the workspace'].join('\n'));
    expect(midRebase(repo)).toBe(false);
  });

  it('clear errors: not a repository, a detached HEAD without --branch, a rebase left open', async () => {
    const plain = mkdtempSync(join(tmpdir(), 'herald-nogit-'));
    cleanup(() => rmSync(plain, { recursive: true, force: true }));
    await expect(publishFolder({ dir: plain, folder: 'reports', message: 'm', rewrite: async () => {} })).rejects.toThrow(/is not in a git repository/);

    const { repo, rewrite, publish } = setup();
    sh(repo, 'checkout', '--quiet', '--detach');
    await rewrite();
    await expect(publish()).rejects.toThrow('HEAD is detached, so herald cannot tell which branch to push the reports to');
    // With --branch it goes.
    sh(repo, 'reset', '--quiet', '--hard', 'origin/main');
    await rewrite();
    expect((await publish({ push: { remote: 'origin', branch: 'main' } })).pushed?.branch).toBe('main');

    const other = setup();
    sh(other.repo, 'checkout', '--quiet', '-b', 'side');
    write(other.repo, { 'README.md': 'one\n' });
    sh(other.repo, 'commit', '--quiet', '-am', 'one');
    sh(other.repo, 'checkout', '--quiet', 'main');
    write(other.repo, { 'README.md': 'two\n' });
    sh(other.repo, 'commit', '--quiet', '-am', 'two');
    expect(() => sh(other.repo, 'rebase', 'side')).toThrow();
    await other.rewrite();
    await expect(other.publish()).rejects.toThrow('the repository is in the middle of a rebase');
  });
});

describe('redactUrls', () => {
  it('blanks what stands before @ in a URL, and nothing else', () => {
    expect(redactUrls("fatal: unable to access 'https://x-access-token:ghs_abc@github.com/o/r.git/': 403")).toBe("fatal: unable to access 'https://***@github.com/o/r.git/': 403");
    expect(redactUrls('To git@github.com:o/r.git and mail me@example.com')).toBe('To git@github.com:o/r.git and mail me@example.com');
  });
});
