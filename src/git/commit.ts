import { execFileSync } from 'node:child_process';

/** What git says about the workspace: the commit apply records, and its author. */
export interface GitInfo {
  commit: string | null;
  /** Uncommitted changes in the workspace: the apply is not fully explained by `commit`. */
  dirty: boolean;
  user: string | null;
}

/** What `git -C dir <args>` prints, trimmed; null when git fails or is not there (not a repository, no such ref). */
export function gitOutput(dir: string, ...args: string[]): string | null {
  try {
    return execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

export function gitInfo(dir: string): GitInfo {
  const git = (...args: string[]) => gitOutput(dir, ...args);
  const commit = git('rev-parse', 'HEAD');
  const status = commit ? git('status', '--porcelain', '--', '.') : null;
  const user = git('config', 'user.email') ?? process.env.GITHUB_ACTOR ?? process.env.USER ?? null;
  return { commit, dirty: !!status, user };
}

/** The commit as apply records it: `abc123…` or `abc123…+dirty`. */
export function describeCommit(info: GitInfo): string | null {
  if (!info.commit) return null;
  return info.dirty ? `${info.commit}+dirty` : info.commit;
}
