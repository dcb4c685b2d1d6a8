import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A GitHub-shaped REST peer on 127.0.0.1, for tests of what herald asks of
 * github.com: issue comments (listed a page at a time with a Link header,
 * created, updated) and the pull requests of a commit. It checks the
 * Authorization header as GitHub does, records every request, and answers
 * with queued failures (a 429 with Retry-After, a 500) when a test asks.
 */
export interface PeerComment {
  id: number;
  issue: number;
  body: string;
  user: { login: string; type: 'Bot' | 'User' };
  html_url: string;
  created_at: string;
  updated_at: string;
}

export interface PeerPullRequest {
  number: number;
  state: 'open' | 'closed';
  merged_at: string | null;
  merge_commit_sha: string | null;
}

export interface RecordedRequest {
  method: string;
  /** The path without the query. */
  path: string;
  query: Record<string, string>;
  authorization: string | undefined;
  body: unknown;
}

export interface QueuedAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

export interface GitHubPeer {
  /** The API root, for GITHUB_API_URL. */
  url: string;
  token: string;
  /** owner/name, for GITHUB_REPOSITORY. */
  repository: string;
  /** GITHUB_API_URL, GITHUB_TOKEN and GITHUB_REPOSITORY for this peer. */
  env: Record<string, string>;
  requests: RecordedRequest[];
  /** Every comment, in the order made; what herald posts is written by `github-actions[bot]`. */
  comments: PeerComment[];
  /** The comments of one issue or pull request. */
  commentsOf(issue: number): PeerComment[];
  /** A comment as if made earlier, by a bot or a person. */
  addComment(issue: number, body: string, author?: { login: string; type: 'Bot' | 'User' }): PeerComment;
  /** The pull requests GET /commits/:sha/pulls answers for a commit. */
  setPulls(sha: string, pulls: Partial<PeerPullRequest>[]): void;
  /** Answers the next request(s) with these, one each, before serving normally again. */
  failNext(...answers: QueuedAnswer[]): void;
  close(): Promise<void>;
}

export const BOT = { login: 'github-actions[bot]', type: 'Bot' } as const;
export const PERSON = { login: 'octocat', type: 'User' } as const;

export async function startGitHubPeer(opts: { token?: string; repository?: string } = {}): Promise<GitHubPeer> {
  const token = opts.token ?? 'ghs_peerToken0123456789';
  const repository = opts.repository ?? 'shop/emails';
  const requests: RecordedRequest[] = [];
  const comments: PeerComment[] = [];
  const pulls = new Map<string, PeerPullRequest[]>();
  const queued: QueuedAnswer[] = [];
  let nextId = 1000;
  let url = '';

  const addComment = (issue: number, body: string, author: { login: string; type: 'Bot' | 'User' } = BOT): PeerComment => {
    const id = nextId++;
    const now = new Date(Date.UTC(2026, 10, 20, 12, 0, id - 1000)).toISOString();
    const c: PeerComment = { id, issue, body, user: { ...author }, html_url: `https://github.com/${repository}/pull/${issue}#issuecomment-${id}`, created_at: now, updated_at: now };
    comments.push(c);
    return c;
  };

  const send = (res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
    res.end(body === undefined ? '' : JSON.stringify(body));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const u = new URL(req.url ?? '/', url);
    const body = raw ? (JSON.parse(raw) as unknown) : undefined;
    requests.push({ method: req.method ?? '', path: u.pathname, query: Object.fromEntries(u.searchParams), authorization: req.headers.authorization, body });
    const failure = queued.shift();
    if (failure) return send(res, failure.status, failure.body ?? { message: `queued ${failure.status}` }, failure.headers);
    if (req.headers.authorization !== `Bearer ${token}` && req.headers.authorization !== `token ${token}`) {
      return send(res, 401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' });
    }
    const notFound = () => send(res, 404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' });
    const m = /^\/repos\/([^/]+\/[^/]+)\/(.*)$/.exec(u.pathname);
    if (!m || m[1] !== repository) return notFound();
    const rest = m[2]!;
    let r: RegExpExecArray | null;
    if ((r = /^issues\/(\d+)\/comments$/.exec(rest))) {
      const issue = Number(r[1]);
      if (req.method === 'GET') {
        const all = comments.filter((c) => c.issue === issue);
        const perPage = Math.min(Number(u.searchParams.get('per_page') ?? 30), 100);
        const page = Number(u.searchParams.get('page') ?? 1);
        const last = Math.max(1, Math.ceil(all.length / perPage));
        const link = (p: number) => {
          const l = new URL(u);
          l.searchParams.set('page', String(p));
          l.searchParams.set('per_page', String(perPage));
          return l.href;
        };
        const rels = [...(page < last ? [`<${link(page + 1)}>; rel="next"`, `<${link(last)}>; rel="last"`] : []), ...(page > 1 ? [`<${link(1)}>; rel="first"`, `<${link(page - 1)}>; rel="prev"`] : [])];
        return send(res, 200, all.slice((page - 1) * perPage, page * perPage), rels.length ? { link: rels.join(', ') } : {});
      }
      if (req.method === 'POST') {
        const text = (body as { body?: unknown } | undefined)?.body;
        if (typeof text !== 'string') return send(res, 422, { message: 'Validation Failed' });
        return send(res, 201, addComment(issue, text));
      }
    }
    if ((r = /^issues\/comments\/(\d+)$/.exec(rest)) && req.method === 'PATCH') {
      const c = comments.find((x) => x.id === Number(r![1]));
      const text = (body as { body?: unknown } | undefined)?.body;
      if (!c) return notFound();
      if (typeof text !== 'string') return send(res, 422, { message: 'Validation Failed' });
      c.body = text;
      c.updated_at = new Date(Date.parse(c.updated_at) + 1000).toISOString();
      return send(res, 200, c);
    }
    if ((r = /^commits\/([^/]+)\/pulls$/.exec(rest)) && req.method === 'GET') {
      return send(res, 200, pulls.get(r[1]!) ?? []);
    }
    return notFound();
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: Error) => send(res, 500, { message: e.message }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    token,
    repository,
    env: { GITHUB_API_URL: url, GITHUB_TOKEN: token, GITHUB_REPOSITORY: repository },
    requests,
    comments,
    commentsOf: (issue) => comments.filter((c) => c.issue === issue),
    addComment,
    setPulls: (sha, list) => pulls.set(sha, list.map((p, i) => ({ number: p.number ?? i + 1, state: p.state ?? 'closed', merged_at: p.merged_at ?? null, merge_commit_sha: p.merge_commit_sha ?? null }))),
    failNext: (...answers) => void queued.push(...answers),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
