import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * git repositories on disk for the tests of committing and pushing: a bare
 * repository as `origin` and clones of it. Tests run git with no global or
 * system config, as on a GitHub runner (no identity set); the commits the
 * tests make themselves name their author on the command line.
 */
export const GIT_ENV = { GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0' };

/** git in `cwd`, as someone else: its output without the final newline; throws when git fails. */
export function sh(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=Someone Else', '-c', 'user.email=someone@example.com', ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, ...GIT_ENV },
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trimEnd();
}

export interface Origin {
  /** The bare repository. */
  bare: string;
  /** A new clone of it in a folder of its own (`--depth 1` as actions/checkout makes them, when asked). */
  clone(name: string, opts?: { shallow?: boolean }): string;
  /** Commits `files` in a fresh clone and pushes them: someone else moving the branch. */
  pushFrom(name: string, files: Record<string, string>, message: string): void;
  /** The branch's commits in the bare repository, newest first: subject and the files each changed. */
  log(): { subject: string; author: string; files: string[] }[];
  remove(): void;
}

export function createOrigin(initial: Record<string, string>): Origin {
  const root = mkdtempSync(join(tmpdir(), 'herald-git-'));
  const bare = join(root, 'origin.git');
  sh(root, 'init', '--quiet', '--bare', '-b', 'main', bare);
  const seed = join(root, 'seed');
  sh(root, 'init', '--quiet', '-b', 'main', seed);
  write(seed, initial);
  sh(seed, 'add', '--all');
  sh(seed, 'commit', '--quiet', '-m', 'the workspace');
  sh(seed, 'push', '--quiet', bare, 'main');
  const clone = (name: string, opts: { shallow?: boolean } = {}) => {
    const dir = join(root, name);
    sh(root, 'clone', '--quiet', ...(opts.shallow ? ['--depth', '1', `file://${bare}`] : [bare]), dir);
    return dir;
  };
  return {
    bare,
    clone,
    pushFrom(name, files, message) {
      const dir = clone(name);
      write(dir, files);
      sh(dir, 'add', '--all');
      sh(dir, 'commit', '--quiet', '-m', message);
      sh(dir, 'push', '--quiet', 'origin', 'main');
    },
    log() {
      const out = sh(bare, 'log', '--format=%x00%s%x01%an <%ae>', '--name-only', 'main');
      return out
        .split('\0')
        .filter(Boolean)
        .map((entry) => {
          const [subject, rest] = entry.split('\x01') as [string, string];
          const [author, ...files] = rest.split('\n').filter(Boolean);
          return { subject, author: author!, files };
        });
    },
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

export function write(dir: string, files: Record<string, string>): void {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
}
