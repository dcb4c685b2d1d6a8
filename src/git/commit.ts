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

/**
 * The commit checked out and whether the workspace has changes it does not
 * explain, from one `git status` (plan runs this on every push: each git
 * started costs tens of milliseconds). --porcelain=v2 --branch heads the
 * changes with "# branch.oid <sha>", "(initial)" before the first commit.
 */
export function gitCommit(dir: string): Pick<GitInfo, 'commit' | 'dirty'> {
  const status = gitOutput(dir, 'status', '--porcelain=v2', '--branch', '--', '.');
  if (status === null) return { commit: null, dirty: false };
  const lines = status.split('\n');
  const oid = lines.find((l) => l.startsWith('# branch.oid '))?.slice('# branch.oid '.length);
  const commit = oid && /^[0-9a-f]+$/.test(oid) ? oid : null;
  return { commit, dirty: commit !== null && lines.some((l) => l !== '' && !l.startsWith('# ')) };
}

/** Who runs herald, as git knows them, else as CI or the system does. */
export function gitUser(dir: string): string | null {
  return gitOutput(dir, 'config', 'user.email') ?? process.env.GITHUB_ACTOR ?? process.env.USER ?? null;
}

export function gitInfo(dir: string): GitInfo {
  return { ...gitCommit(dir), user: gitUser(dir) };
}

/** The commit as apply records it: `abc123…` or `abc123…+dirty`. */
export function describeCommit(info: Pick<GitInfo, 'commit' | 'dirty'>): string | null {
  if (!info.commit) return null;
  return info.dirty ? `${info.commit}+dirty` : info.commit;
}
