import { describe, expect, it } from 'vitest';
import { connectGitHub, reviewedFingerprint, upsertComment, type GitHubOptions } from '../../src/ci/github.js';
import { planMarker, planMarkerPrefix } from '../../src/ci/marker.js';
import { UserError } from '../../src/errors.js';
import { useCleanups } from '../support/cleanup.js';
import { PERSON, startGitHubPeer, type GitHubPeer } from '../support/github.js';

const cleanup = useCleanups();

const REVIEW_A = 'a'.repeat(64);
const REVIEW_B = 'b'.repeat(64);
const SHA = '0123456789abcdef0123456789abcdef01234567';

async function peer(): Promise<GitHubPeer> {
  const p = await startGitHubPeer();
  cleanup(p.close);
  return p;
}

/** The adapter against the peer; waits are recorded, not slept. */
function client(p: GitHubPeer, opts: GitHubOptions & { waits?: number[] } = {}) {
  const waits = opts.waits ?? [];
  return connectGitHub({ env: p.env, sleep: async (ms) => void waits.push(ms), ...opts });
}

async function userError(promise: Promise<unknown>): Promise<UserError> {
  const e = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(UserError);
  return e as UserError;
}

describe('GitHub adapter: sticky comments', () => {
  it('creates the comment, then updates it: one comment after two runs', async () => {
    const p = await peer();
    const gh = client(p);
    const marker = planMarkerPrefix('production');
    const first = await upsertComment(gh, 7, marker, `${planMarker('production', REVIEW_A)}\nfirst`);
    expect(first.action).toBe('created');
    const second = await upsertComment(gh, 7, marker, `${planMarker('production', REVIEW_B)}\nsecond`);
    expect(second).toMatchObject({ action: 'updated', id: first.id });
    expect(p.commentsOf(7).map((c) => c.body)).toEqual([`${planMarker('production', REVIEW_B)}\nsecond`]);
    expect(p.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /repos/shop/emails/issues/7/comments',
      'POST /repos/shop/emails/issues/7/comments',
      'GET /repos/shop/emails/issues/7/comments',
      `PATCH /repos/shop/emails/issues/comments/${first.id}`,
    ]);
    expect(p.requests.every((r) => r.authorization === `Bearer ${p.token}`)).toBe(true);
    // The same body again changes nothing.
    expect((await upsertComment(gh, 7, marker, `${planMarker('production', REVIEW_B)}\nsecond`)).action).toBe('unchanged');
    expect(p.requests.filter((r) => r.method !== 'GET')).toHaveLength(2);
  });

  it("leaves a person's comment quoting the marker alone, and another environment's comment too", async () => {
    const p = await peer();
    const production = p.addComment(7, `${planMarker('production', REVIEW_A)}\nold`);
    // Newer than the bot's: were it taken for herald's, it would be the one updated.
    const human = p.addComment(7, `${planMarker('production', REVIEW_A)}\nI quote the bot`, PERSON);
    const staging = p.addComment(7, `${planMarker('staging', REVIEW_A)}\nstaging`);
    // `env=prod` must not find env=production's comment.
    const prod = await upsertComment(client(p), 7, planMarkerPrefix('prod'), `${planMarker('prod', REVIEW_B)}\nprod`);
    expect(prod.action).toBe('created');
    const r = await upsertComment(client(p), 7, planMarkerPrefix('production'), `${planMarker('production', REVIEW_B)}\nnew`);
    expect(r).toMatchObject({ action: 'updated', id: production.id });
    expect(p.comments.find((c) => c.id === human.id)!.body).toBe(`${planMarker('production', REVIEW_A)}\nI quote the bot`);
    expect(p.comments.find((c) => c.id === staging.id)!.body).toBe(`${planMarker('staging', REVIEW_A)}\nstaging`);
  });

  it('finds its comment past the first 100, following the Link header', async () => {
    const p = await peer();
    for (let i = 0; i < 230; i++) p.addComment(9, `comment ${i}`, i % 2 ? PERSON : { login: 'renovate[bot]', type: 'Bot' });
    const mine = p.addComment(9, '<!-- herald:preview -->\nold grid');
    for (let i = 0; i < 20; i++) p.addComment(9, `later ${i}`, PERSON);
    const r = await upsertComment(client(p), 9, '<!-- herald:preview -->', '<!-- herald:preview -->\nnew grid');
    expect(r).toMatchObject({ action: 'updated', id: mine.id });
    const pages = p.requests.filter((q) => q.method === 'GET').map((q) => [q.query.per_page, q.query.page ?? '1']);
    expect(pages).toEqual([['100', '1'], ['100', '2'], ['100', '3']]);
    expect(p.commentsOf(9)).toHaveLength(251);
  });

  it('refuses a body that does not open with its marker, or an empty marker', async () => {
    const p = await peer();
    expect((await userError(upsertComment(client(p), 7, '<!-- herald:preview -->', 'no marker here'))).message).toContain('does not open with its marker');
    expect((await userError(upsertComment(client(p), 7, ' ', ' body'))).message).toContain('marker is empty');
    expect(p.requests).toHaveLength(0);
  });
});

describe('GitHub adapter: the reviewed fingerprint', () => {
  it("reads the fingerprint from a bot's plan comment on the commit's pull request", async () => {
    const p = await peer();
    p.setPulls(SHA, [{ number: 3, merge_commit_sha: 'f'.repeat(40) }, { number: 12, merge_commit_sha: SHA, merged_at: '2026-11-20T12:00:00Z' }]);
    p.addComment(12, `${planMarker('production', REVIEW_A)}\nthe plan`);
    p.addComment(12, `${planMarker('staging', REVIEW_B)}\nstaging`);
    // Newer, but a person's: a quote of a different fingerprint must not be approved.
    p.addComment(12, `${planMarker('production', REVIEW_B)}\nquoted`, PERSON);
    const r = await reviewedFingerprint(client(p), SHA, 'production');
    expect(r).toMatchObject({ review: REVIEW_A, pullRequest: 12 });
    expect(p.requests[0]!.path).toBe(`/repos/shop/emails/commits/${SHA}/pulls`);
    expect((await reviewedFingerprint(client(p), SHA, 'staging')).review).toBe(REVIEW_B);
  });

  it('says clearly when there is none', async () => {
    const p = await peer();
    const none = await userError(reviewedFingerprint(client(p), SHA, 'production'));
    expect(none.message).toBe(`no reviewed plan for environment production on the pull request of commit ${SHA}: no pull request contains it`);
    p.setPulls(SHA, [{ number: 12, merge_commit_sha: SHA }]);
    p.addComment(12, `${planMarker('production', REVIEW_A)}\nquoted`, PERSON);
    const human = await userError(reviewedFingerprint(client(p), SHA, 'production'));
    expect(human.message).toBe(`no reviewed plan for environment production on the pull request of commit ${SHA}: pull request #12 has no herald plan comment for it from a bot`);
  });
});

describe('GitHub adapter: errors', () => {
  it('a refused token gives a clear error that does not name the token', async () => {
    const p = await peer();
    const gh = connectGitHub({ env: { ...p.env, GITHUB_TOKEN: 'ghs_wrongSecretToken42' } });
    const e = await userError(upsertComment(gh, 7, '<!-- x -->', '<!-- x -->\nbody'));
    expect(e.message).toBe('GitHub refused the token for GET /repos/shop/emails/issues/7/comments (401: Bad credentials)');
    expect(`${e.message} ${e.hint}`).not.toContain('ghs_wrongSecretToken42');
    expect(p.requests[0]!.authorization).toBe('Bearer ghs_wrongSecretToken42');
  });

  it('says what is missing: the token, the repository', () => {
    expect(() => connectGitHub({ env: { GITHUB_REPOSITORY: 'a/b' } })).toThrow('GITHUB_TOKEN is not set');
    expect(() => connectGitHub({ env: { GITHUB_TOKEN: 't' } })).toThrow('GITHUB_REPOSITORY is not set');
    expect(() => connectGitHub({ env: { GITHUB_TOKEN: 't', GITHUB_REPOSITORY: '../etc' } })).toThrow('GITHUB_REPOSITORY "../etc" is not owner/name');
    expect(() => connectGitHub({ env: { GITHUB_TOKEN: 't', GITHUB_REPOSITORY: 'shop/..' } })).toThrow('is not owner/name');
  });

  it('403 and 404 name what was refused and what to check, with GitHub echoing the token masked', async () => {
    const p = await peer();
    p.failNext({ status: 403, body: { message: `Resource not accessible by integration (token ${p.token})` } });
    const forbidden = await userError(upsertComment(client(p), 7, '<!-- x -->', '<!-- x -->\nbody'));
    expect(forbidden.message).toBe('GitHub did not allow GET /repos/shop/emails/issues/7/comments (403: Resource not accessible by integration (token ***))');
    expect(forbidden.hint).toContain('pull-requests: write');
    const missing = await userError(upsertComment(connectGitHub({ env: { ...p.env, GITHUB_REPOSITORY: 'shop/other' } }), 7, '<!-- x -->', '<!-- x -->\nbody'));
    expect(missing.message).toBe('GitHub found nothing at GET /repos/shop/other/issues/7/comments (404: Not Found)');
  });

  it('honours Retry-After on a 429 and a rate-limited 403, then succeeds', async () => {
    const p = await peer();
    p.failNext({ status: 429, headers: { 'retry-after': '2' } }, { status: 403, headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(Math.floor(Date.now() / 1000)) } });
    const waits: number[] = [];
    const r = await upsertComment(client(p, { waits }), 7, '<!-- x -->', '<!-- x -->\nbody');
    expect(r.action).toBe('created');
    expect(waits[0]).toBe(2000);
    expect(waits).toHaveLength(2);
    expect(p.requests.map((q) => q.method)).toEqual(['GET', 'GET', 'GET', 'POST']);
    expect(p.commentsOf(7)).toHaveLength(1);
  });

  it('gives up clearly when GitHub asks to wait longer than the bound, or keeps refusing', async () => {
    const p = await peer();
    p.failNext({ status: 429, headers: { 'retry-after': '3600' }, body: { message: 'API rate limit exceeded' } });
    const waits: number[] = [];
    const long = await userError(upsertComment(client(p, { waits }), 7, '<!-- x -->', '<!-- x -->\nbody'));
    expect(long.message).toBe("GitHub's rate limit stopped GET /repos/shop/emails/issues/7/comments (429: API rate limit exceeded); it asks to wait 3600 s more");
    expect(waits).toEqual([]);

    p.failNext(...Array.from({ length: 4 }, () => ({ status: 429, headers: { 'retry-after': '1' } })));
    const again = await userError(upsertComment(client(p, { waits }), 7, '<!-- x -->', '<!-- x -->\nbody'));
    expect(again.message).toContain("GitHub's rate limit stopped");
    expect(waits).toEqual([1000, 1000, 1000]);
    expect(p.commentsOf(7)).toHaveLength(0);
  });

  it('cannot reach the API: a clear error', async () => {
    const p = await peer();
    await p.close();
    const e = await userError(upsertComment(client(p), 7, '<!-- x -->', '<!-- x -->\nbody'));
    expect(e.message).toBe(`cannot reach the GitHub API at ${p.url}: ECONNREFUSED`);
  });
});
