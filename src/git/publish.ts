import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { UserError } from '../errors.js';
import { git, gitSaid, type GitResult } from './git.js';

/**
 * Commits a folder of generated files (reports/) and pushes it, as the
 * scheduled tick does after `herald report --all`. Only that folder is
 * staged and committed (pathspecs), so a person's uncommitted changes
 * elsewhere in the working tree stay as they were, uncommitted.
 *
 * When the push is refused because the branch moved on the remote, the
 * commit is rebased onto it and pushed again, a bounded number of times.
 * When the rebase cannot be made (someone edited a report by hand, or the
 * working tree holds changes a rebase would have to stash), the rebase is
 * aborted and the branch moved onto the remote's with `reset --keep` (which
 * keeps uncommitted changes, and refuses rather than overwrite one). Either
 * way the files are then written again and committed: they are a function
 * of the database, so writing them again resolves any edit made to them
 * meanwhile. The repository is never left mid-rebase.
 */
export interface PublishOptions {
  /** The workspace: a folder in a git working tree, maybe below its top. */
  dir: string;
  /** The folder to commit, relative to `dir`. */
  folder: string;
  message: string;
  push?: { remote: string; branch?: string };
  /** Writes the folder's files again, after the branch was moved onto the remote's. */
  rewrite: () => Promise<void>;
  /** Pushes tried before giving up. */
  attempts?: number;
}

export interface Published {
  /** The commit holding the folder, or null when nothing in it changed. */
  commit: string | null;
  /** Files the commit changed. */
  files: number;
  pushed?: {
    remote: string;
    branch: string;
    attempts: number;
    /** Times the branch had moved and the commit was rebased onto it. */
    rebased: number;
    /** Times the rebase could not be made and the files were written again onto the remote's branch. */
    rewritten: number;
  };
}

/** The author of herald's commits when git config names none (a GitHub runner names none). */
export const DEFAULT_AUTHOR = { name: 'herald', email: 'herald@users.noreply.github.com' };

export async function publishFolder(o: PublishOptions): Promise<Published> {
  await inRepository(o.dir);
  await notMidOperation(o.dir);
  const identity = await identityArgs(o.dir);
  const first = await commitFolder(o.dir, o.folder, o.message, identity);
  if (!first || !o.push) return first ? { ...first } : { commit: null, files: 0 };

  const { remote } = o.push;
  const branch = o.push.branch ?? (await currentBranch(o.dir));
  const attempts = o.attempts ?? 5;
  let current: { commit: string; files: number } = first;
  let rebased = 0;
  let rewritten = 0;
  for (let attempt = 1; ; attempt++) {
    const push = await git(o.dir, ['push', '--porcelain', remote, `HEAD:refs/heads/${branch}`]);
    if (push.code === 0) return { ...current, pushed: { remote, branch, attempts: attempt, rebased, rewritten } };
    if (!branchMoved(push)) {
      throw new UserError(`git push to ${remote} ${branch} was refused:\n${gitSaid(push)}`, `the reports are committed here (${short(current.commit)}); fix what git says, then push them: git push ${remote} HEAD:${branch}`);
    }
    if (attempt >= attempts) {
      throw new UserError(
        `git push to ${remote} ${branch} was refused ${attempts} times: the branch kept moving`,
        `the reports are committed here (${short(current.commit)}); run herald report --all --commit --push again`,
      );
    }
    const upstream = await fetchBranch(o.dir, remote, branch);
    if (await rebaseOnto(o.dir, upstream, identity)) rebased++;
    else {
      await moveOnto(o.dir, o.folder, upstream, remote, branch, current.commit);
      rewritten++;
    }
    // Written again either way: a hand edit the rebase carried over without a
    // conflict is undone too, so what lands is what herald writes.
    await o.rewrite();
    const next = await commitFolder(o.dir, o.folder, o.message, identity, await oursOnTop(o.dir, upstream, o.message));
    // The remote's branch already holds these very files: nothing left to push.
    if (!next) return { commit: null, files: 0, pushed: { remote, branch, attempts: attempt, rebased, rewritten } };
    current = next;
  }
}

/** Runs git and returns its output, or throws a UserError with what git said. */
async function must(dir: string, args: string[], what = `git ${args[0]}`): Promise<string> {
  let r: GitResult;
  try {
    r = await git(dir, args);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new UserError('git is not installed (or not on PATH)', 'install git; herald runs it to commit and push the reports');
    throw err;
  }
  if (r.code !== 0) throw new UserError(`${what} failed:\n${gitSaid(r)}`);
  return r.stdout;
}

async function inRepository(dir: string): Promise<void> {
  if (!existsSync(dir)) throw new UserError(`the workspace ${dir} does not exist`);
  let r: GitResult;
  try {
    r = await git(dir, ['rev-parse', '--show-toplevel']);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new UserError('git is not installed (or not on PATH)', 'install git; herald runs it to commit and push the reports');
    throw err;
  }
  if (r.code !== 0) {
    throw new UserError(`the workspace ${dir} is not in a git repository (or not in its working tree)`, 'run herald from a clone of the workspace repository, or leave out --commit');
  }
}

/** A rebase, merge or cherry-pick someone left unfinished: committing into it would mix herald's commit with theirs. */
async function notMidOperation(dir: string): Promise<void> {
  for (const [state, what] of [
    ['rebase-merge', 'a rebase'],
    ['rebase-apply', 'a rebase'],
    ['MERGE_HEAD', 'a merge'],
    ['CHERRY_PICK_HEAD', 'a cherry-pick'],
    ['REVERT_HEAD', 'a revert'],
  ] as const) {
    if (existsSync(await gitPath(dir, state))) throw new UserError(`the repository is in the middle of ${what}`, 'finish it or abort it, then run herald again');
  }
}

async function gitPath(dir: string, name: string): Promise<string> {
  return resolve(dir, (await must(dir, ['rev-parse', '--git-path', name])).trim());
}

/**
 * `-c user.name=… -c user.email=…` for what git config does not set, so the
 * commit (and a rebase) works on a machine with no identity, such as a
 * GitHub runner, without writing anyone's git config.
 */
async function identityArgs(dir: string): Promise<string[]> {
  const args: string[] = [];
  for (const key of ['name', 'email'] as const) {
    const set = await git(dir, ['config', `user.${key}`]);
    if (set.code !== 0 || !set.stdout.trim()) args.push('-c', `user.${key}=${DEFAULT_AUTHOR[key]}`);
  }
  return args;
}

/**
 * Stages the folder (new, changed and deleted files) and commits it alone:
 * `git commit -- <folder>` leaves whatever else is staged staged, and the
 * working tree outside the folder is never read. Hooks are skipped: the
 * commit holds generated files, and a hook could change others. With
 * `amend`, HEAD is herald's own commit (rebased): the folder's changes go
 * into it, and it is returned even when there were none.
 */
async function commitFolder(dir: string, folder: string, message: string, identity: string[], amend = false): Promise<{ commit: string; files: number } | null> {
  await must(dir, ['add', '--all', '--', folder]);
  const changed = (await must(dir, ['diff', '--cached', '--name-only', '-z', '--', folder])).split('\0').filter(Boolean);
  if (changed.length > 0) await must(dir, [...identity, 'commit', '--quiet', '--no-verify', ...(amend ? ['--amend'] : []), '-m', message, '--', folder]);
  else if (!amend) return null;
  const files = (await must(dir, ['diff-tree', '--no-commit-id', '--name-only', '-r', '-z', '--root', 'HEAD', '--', folder])).split('\0').filter(Boolean);
  return { commit: await head(dir), files: files.length };
}

/** Whether HEAD is herald's commit, rebased: a rebase drops a commit whose change the remote's branch already made. */
async function oursOnTop(dir: string, upstream: string, message: string): Promise<boolean> {
  if ((await head(dir)) === upstream) return false;
  return (await must(dir, ['log', '-1', '--format=%B'])).trim() === message.trim();
}

async function head(dir: string): Promise<string> {
  return (await must(dir, ['rev-parse', 'HEAD'])).trim();
}

async function currentBranch(dir: string): Promise<string> {
  const r = await git(dir, ['symbolic-ref', '--quiet', '--short', 'HEAD']);
  if (r.code !== 0) {
    throw new UserError('HEAD is detached, so herald cannot tell which branch to push the reports to', 'name it with --branch (on GitHub Actions: --branch "$GITHUB_REF_NAME")');
  }
  return r.stdout.trim();
}

/** The remote refused because its branch has commits this one lacks, not for a reason of its own (a hook, protection, access). */
function branchMoved(r: GitResult): boolean {
  return /\[rejected\][^\n]*\((fetch first|non-fast-forward)\)/.test(`${r.stdout}\n${r.stderr}`);
}

async function fetchBranch(dir: string, remote: string, branch: string): Promise<string> {
  await must(dir, ['fetch', '--quiet', remote, `refs/heads/${branch}`], `git fetch ${remote} ${branch}`);
  return (await must(dir, ['rev-parse', '--verify', 'FETCH_HEAD^{commit}'])).trim();
}

/** Rebases the branch onto `upstream`; false, with the rebase aborted, when it cannot be made. */
async function rebaseOnto(dir: string, upstream: string, identity: string[]): Promise<boolean> {
  const r = await git(dir, [...identity, 'rebase', '--quiet', upstream]);
  if (r.code === 0) return true;
  if (existsSync(await gitPath(dir, 'rebase-merge')) || existsSync(await gitPath(dir, 'rebase-apply'))) {
    await must(dir, ['rebase', '--abort']);
  }
  return false;
}

/**
 * Puts the branch at `upstream`, dropping herald's own commit (its files
 * are written again next). Only herald's commit may be dropped: when the
 * branch holds other commits the remote lacks, this stops and says so.
 * `reset --keep` keeps uncommitted changes in the working tree (and refuses
 * rather than overwrite one) but unstages them, so what was staged outside
 * the folder is staged again afterwards: it applies cleanly, since --keep
 * moved none of those files.
 */
async function moveOnto(dir: string, folder: string, upstream: string, remote: string, branch: string, ours: string): Promise<void> {
  const onlyOurs = await git(dir, ['merge-base', '--is-ancestor', `${ours}^`, upstream]);
  if (onlyOurs.code !== 0) {
    throw new UserError(
      `the reports commit cannot be rebased onto ${remote} ${branch}, and this branch has other commits that ${remote} ${branch} does not`,
      `the reports are committed here (${short(ours)}); bring the branch up to date (git pull --rebase ${remote} ${branch}), then run herald again`,
    );
  }
  const staged = await must(dir, ['diff', '--cached', '--binary', '--full-index', '--', ':/', `:!${folder}`]);
  await must(dir, ['reset', '--quiet', '--keep', upstream], `moving the branch onto ${remote} ${branch} (git reset --keep)`);
  if (!staged) return;
  const patch = await gitPath(dir, 'herald-staged.patch');
  writeFileSync(patch, staged);
  try {
    await must(dir, ['apply', '--cached', patch], 'staging your staged changes again (git apply --cached)');
  } finally {
    rmSync(patch, { force: true });
  }
}

const short = (sha: string) => sha.slice(0, 12);
