import { printable, UserError } from '../errors.js';
import { hasMarker, parsePlanMarker, planMarkerPrefix } from './marker.js';

/**
 * The one module that talks to GitHub's REST API: sticky PR comments and the
 * review fingerprint a merge applies. Configured as a workflow step is:
 * GITHUB_API_URL (GitHub Enterprise has its own), GITHUB_TOKEN and
 * GITHUB_REPOSITORY. The token goes in the Authorization header and nowhere
 * else: no message, log line or error names it.
 */
export interface GitHubOptions {
  env?: Record<string, string | undefined>;
  /** How to wait before retrying a rate-limited request; tests record instead of waiting. */
  sleep?: (ms: number) => Promise<void>;
  /** The most the waits for a rate limit may add up to before giving up. */
  maxWaitMs?: number;
  /** How many times a rate-limited request is retried. */
  retries?: number;
}

export interface GitHub {
  /** owner/name */
  readonly repository: string;
  readonly apiUrl: string;
  /** One request; path from the API root (`/repos/…`). */
  request<T>(method: string, path: string, body?: unknown): Promise<T>;
  /** Every page of a list, following the Link header's `next`. */
  list<T>(path: string): Promise<T[]>;
}

export interface IssueComment {
  id: number;
  body?: string | null;
  html_url?: string;
  user?: { login?: string; type?: string } | null;
}

export interface PullRequest {
  number: number;
  state?: string;
  merged_at?: string | null;
  merge_commit_sha?: string | null;
  html_url?: string;
}

/** GitHub's owner and repository names; `.` and `..` are not names (they would walk the URL's path). */
const REPOSITORY = /^[A-Za-z0-9-]+\/(?!\.\.?$)[A-Za-z0-9_.-]+$/;
/** GitHub refuses comment bodies longer than this many characters. */
const COMMENT_LIMIT = 65_536;
/** A list longer than this many pages is a loop, not a pull request's comments. */
const MAX_PAGES = 200;

export function connectGitHub(opts: GitHubOptions = {}): GitHub {
  const env = opts.env ?? process.env;
  const token = env.GITHUB_TOKEN;
  if (!token) throw new UserError('GITHUB_TOKEN is not set', 'in the workflow step, set env: GITHUB_TOKEN: ${{ github.token }} (with permissions: pull-requests: write to comment)');
  const repository = env.GITHUB_REPOSITORY ?? '';
  if (!REPOSITORY.test(repository)) {
    throw new UserError(repository ? `GITHUB_REPOSITORY ${JSON.stringify(repository)} is not owner/name` : 'GITHUB_REPOSITORY is not set', 'GitHub Actions sets it; elsewhere, export GITHUB_REPOSITORY=owner/name');
  }
  const apiUrl = apiBase(env.GITHUB_API_URL);
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const maxWaitMs = opts.maxWaitMs ?? 60_000;
  const retries = opts.retries ?? 3;
  // Whatever GitHub or the network says is printed escaped, and without the token should it ever be echoed.
  const clean = (s: string) => printable(s.split(token).join('***')).slice(0, 300);

  async function send(method: string, url: string, body?: unknown): Promise<{ data: unknown; headers: Headers }> {
    let waited = 0;
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await fetch(url, {
          method,
          headers: {
            Authorization: `Bearer ${token}`,
            Accept: 'application/vnd.github+json',
            'X-GitHub-Api-Version': '2022-11-28',
            'User-Agent': 'herald',
            ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
      } catch (e) {
        const cause = (e as { cause?: { code?: string; message?: string } }).cause;
        throw new UserError(`cannot reach the GitHub API at ${apiUrl}: ${clean(cause?.code ?? cause?.message ?? (e as Error).message)}`, 'check GITHUB_API_URL and the network');
      }
      const text = await res.text();
      if (res.ok) return { data: json(text, `${method} ${new URL(url).pathname}`), headers: res.headers };
      const message = clean(githubMessage(text) || res.statusText);
      const what = `${method} ${new URL(url).pathname}`;
      const wait = rateLimitWait(res);
      if (wait !== undefined) {
        if (attempt < retries && waited + wait <= maxWaitMs) {
          waited += wait;
          await sleep(wait);
          continue;
        }
        throw new UserError(
          `GitHub's rate limit stopped ${what} (${res.status}: ${message}); it asks to wait ${Math.ceil(wait / 1000)} s more`,
          'run the job again later; fewer runs at once (a concurrency group) keep under the limit',
        );
      }
      if (res.status === 401) throw new UserError(`GitHub refused the token for ${what} (401: ${message})`, 'check GITHUB_TOKEN: in a workflow, set env: GITHUB_TOKEN: ${{ github.token }}');
      if (res.status === 403) throw new UserError(`GitHub did not allow ${what} (403: ${message})`, 'give the workflow the permission it needs, e.g. permissions: pull-requests: write to comment');
      if (res.status === 404) throw new UserError(`GitHub found nothing at ${what} (404: ${message})`, `check GITHUB_REPOSITORY (${repository}) and the number, and that the token can see the repository`);
      throw new UserError(`GitHub answered ${what} with ${res.status}: ${message}`);
    }
  }

  return {
    repository,
    apiUrl,
    async request<T>(method: string, path: string, body?: unknown): Promise<T> {
      return (await send(method, `${apiUrl}${path}`, body)).data as T;
    },
    async list<T>(path: string): Promise<T[]> {
      const out: T[] = [];
      let url: string | undefined = `${apiUrl}${path}${path.includes('?') ? '&' : '?'}per_page=100`;
      for (let page = 0; url; page++) {
        if (page >= MAX_PAGES) throw new UserError(`GitHub's list at ${new URL(url).pathname} goes on past ${MAX_PAGES} pages`);
        const { data, headers } = await send('GET', url);
        if (!Array.isArray(data)) throw new UserError(`GitHub answered GET ${new URL(url).pathname} with something other than a list`);
        out.push(...(data as T[]));
        url = nextPage(headers.get('link'), apiUrl);
      }
      return out;
    },
  };
}

/**
 * Posts `body` on an issue or pull request, or updates herald's comment from
 * before: the newest one a bot wrote whose first line opens with `marker`.
 * A person's comment quoting the marker is never touched.
 */
export async function upsertComment(gh: GitHub, issue: number, marker: string, body: string): Promise<{ action: 'created' | 'updated' | 'unchanged'; id: number; url: string }> {
  if (!marker.trim()) throw new UserError('the comment marker is empty', 'a marker finds the comment again: give --marker, or open the body with <!-- … -->');
  if (!hasMarker(body, marker)) throw new UserError(`the comment body does not open with its marker ${JSON.stringify(marker)}`, 'the next run finds the comment by it: put the marker on the first line');
  if (body.length > COMMENT_LIMIT) throw new UserError(`the comment body is ${body.length} characters; GitHub takes at most ${COMMENT_LIMIT}`, 'herald plan --format markdown cuts its body to fit');
  const comments = await gh.list<IssueComment>(`/repos/${gh.repository}/issues/${issue}/comments`);
  const mine = newest(comments.filter((c) => isBot(c) && hasMarker(c.body ?? '', marker)));
  if (mine && mine.body === body) return { action: 'unchanged', id: mine.id, url: mine.html_url ?? '' };
  const c = mine
    ? await gh.request<IssueComment>('PATCH', `/repos/${gh.repository}/issues/comments/${mine.id}`, { body })
    : await gh.request<IssueComment>('POST', `/repos/${gh.repository}/issues/${issue}/comments`, { body });
  return { action: mine ? 'updated' : 'created', id: c.id, url: c.html_url ?? '' };
}

/** The pull requests a commit belongs to (for a merge commit, the one it merged). */
export async function pullRequestsForCommit(gh: GitHub, sha: string): Promise<PullRequest[]> {
  return gh.list<PullRequest>(`/repos/${gh.repository}/commits/${encodeURIComponent(sha)}/pulls`);
}

/**
 * The review fingerprint of an environment's plan, as herald's comment on the
 * pull request that brought `commit` carries it: a merged pull request whose
 * merge commit this is comes first. Only comments a bot wrote count.
 */
export async function reviewedFingerprint(gh: GitHub, commit: string, environment: string | null): Promise<{ review: string; pullRequest: number; url: string }> {
  const env = environment ?? 'default';
  const none = (why: string) =>
    new UserError(`no reviewed plan for environment ${env} on the pull request of commit ${commit}: ${why}`, 'the pull request workflow posts it (herald plan --format markdown, then herald github comment); a change merged without it was never reviewed: open a pull request for it');
  const pulls = await pullRequestsForCommit(gh, commit);
  if (pulls.length === 0) throw none('no pull request contains it');
  const ordered = [...pulls].sort((a, b) => Number(b.merge_commit_sha === commit) - Number(a.merge_commit_sha === commit));
  const prefix = planMarkerPrefix(env);
  for (const pr of ordered) {
    const comments = await gh.list<IssueComment>(`/repos/${gh.repository}/issues/${pr.number}/comments`);
    const found = newest(comments.filter((c) => isBot(c) && hasMarker(c.body ?? '', prefix) && parsePlanMarker(c.body ?? '')?.environment === env));
    if (found) return { review: parsePlanMarker(found.body ?? '')!.review, pullRequest: pr.number, url: found.html_url ?? '' };
  }
  const numbers = ordered.map((p) => `#${p.number}`).join(', ');
  throw none(`pull request${ordered.length === 1 ? '' : 's'} ${numbers} ${ordered.length === 1 ? 'has' : 'have'} no herald plan comment for it from a bot`);
}

function isBot(c: IssueComment): boolean {
  return c.user?.type === 'Bot';
}

function newest(comments: readonly IssueComment[]): IssueComment | undefined {
  return comments.reduce<IssueComment | undefined>((a, c) => (!a || c.id > a.id ? c : a), undefined);
}

function apiBase(url: string | undefined): string {
  const base = (url || 'https://api.github.com').replace(/\/+$/, '');
  let u: URL | undefined;
  try {
    u = new URL(base);
  } catch {
    u = undefined;
  }
  if (!u || (u.protocol !== 'https:' && u.protocol !== 'http:')) throw new UserError(`GITHUB_API_URL ${JSON.stringify(url)} is not an http(s) URL`, 'GitHub Actions sets it; leave it unset for github.com');
  return base;
}

/**
 * How long GitHub asks to wait, for a rate-limited answer: 429, or 403 with
 * Retry-After or no requests left. Undefined for any other answer.
 */
function rateLimitWait(res: Response): number | undefined {
  const after = res.headers.get('retry-after');
  const remaining = res.headers.get('x-ratelimit-remaining');
  const reset = res.headers.get('x-ratelimit-reset');
  if (res.status !== 429 && !(res.status === 403 && (after !== null || remaining === '0'))) return undefined;
  if (after !== null && /^\d+$/.test(after.trim())) return Number(after.trim()) * 1000;
  if (after !== null && !Number.isNaN(Date.parse(after))) return Math.max(0, Date.parse(after) - Date.now());
  if (remaining === '0' && reset && /^\d+$/.test(reset)) return Math.max(0, Number(reset) * 1000 - Date.now());
  // GitHub's advice for a secondary limit without a header: wait a minute.
  return 60_000;
}

/** The Link header's `next`, followed only on the API's own origin: the token goes nowhere else. */
function nextPage(link: string | null, apiUrl: string): string | undefined {
  const m = link?.split(',').map((part) => /<([^>]+)>\s*;\s*rel="?next"?/.exec(part.trim())).find(Boolean);
  if (!m) return undefined;
  const next = new URL(m[1]!, apiUrl);
  if (next.origin !== new URL(apiUrl).origin) throw new UserError(`GitHub's next page is on another host (${next.origin}); herald sends its token to ${new URL(apiUrl).origin} only`);
  return next.href;
}

function json(text: string, what: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new UserError(`GitHub answered ${what} with something other than JSON`, 'check GITHUB_API_URL: it names the API, e.g. https://api.github.com');
  }
}

function githubMessage(text: string): string {
  try {
    const m = (JSON.parse(text) as { message?: unknown }).message;
    return typeof m === 'string' ? m : '';
  } catch {
    return text.slice(0, 200);
  }
}
