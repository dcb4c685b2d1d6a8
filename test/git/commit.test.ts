import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { describeCommit, gitCommit } from '../../src/git/commit.js';
import { useCleanups } from '../support/cleanup.js';
import { GIT_ENV, sh, write } from '../support/git.js';

/**
 * The commit plan and apply record, and whether the workspace has changes it
 * does not explain, read from one `git status`: a repository with the
 * workspace in a subfolder (shop/), as a shop's repository may have it.
 */
const cleanup = useCleanups();

beforeAll(() => {
  Object.assign(process.env, GIT_ENV);
});

function repo(): { root: string; shop: string } {
  const root = mkdtempSync(join(tmpdir(), 'herald-git-commit-'));
  cleanup(() => rmSync(root, { recursive: true, force: true }));
  sh(root, 'init', '--quiet', '-b', 'main');
  return { root, shop: join(root, 'shop') };
}

describe('gitCommit', () => {
  it('is the commit checked out, dirty only for changes inside the workspace', () => {
    const { root, shop } = repo();
    write(root, { 'shop/herald.yaml': 'sites: []\n', 'README.md': 'The shop.\n' });
    sh(root, 'add', '--all');
    sh(root, 'commit', '--quiet', '-m', 'the workspace');
    const head = sh(root, 'rev-parse', 'HEAD');
    expect(gitCommit(shop)).toEqual({ commit: head, dirty: false });

    // Outside the workspace: not its change.
    writeFileSync(join(root, 'README.md'), 'The shop, changed.\n');
    expect(gitCommit(shop)).toEqual({ commit: head, dirty: false });

    writeFileSync(join(shop, 'herald.yaml'), 'sites: [] # changed\n');
    expect(gitCommit(shop)).toEqual({ commit: head, dirty: true });
    expect(describeCommit(gitCommit(shop))).toBe(`${head}+dirty`);

    sh(root, 'checkout', '--quiet', '--', 'shop/herald.yaml');
    write(shop, { 'segments/new.yaml': 'where: {}\n' });
    expect(gitCommit(shop), 'an untracked file').toEqual({ commit: head, dirty: true });
  });

  it('is no commit before the first commit, and outside a repository', () => {
    const { shop } = repo();
    write(shop, { 'herald.yaml': 'sites: []\n' });
    expect(gitCommit(shop)).toEqual({ commit: null, dirty: false });

    const plain = mkdtempSync(join(tmpdir(), 'herald-no-git-'));
    cleanup(() => rmSync(plain, { recursive: true, force: true }));
    expect(gitCommit(plain)).toEqual({ commit: null, dirty: false });
  });
});
