import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { planMarker } from '../../src/ci/marker.js';
import { herald, type CliResult } from '../support/cli.js';
import { useCleanups } from '../support/cleanup.js';
import { PERSON, startGitHubPeer } from '../support/github.js';
import { repoRoot, tempWorkspace } from '../support/workspace.js';

const cleanup = useCleanups();
const SHA = '89abcdef0123456789abcdef0123456789abcdef';

async function setup() {
  const peer = await startGitHubPeer();
  cleanup(peer.close);
  const dir = tempWorkspace({});
  cleanup(dir.remove);
  const event = join(dir.dir, 'event.json');
  writeFileSync(event, JSON.stringify({ action: 'synchronize', number: 7, pull_request: { number: 7, base: { ref: 'main' } } }));
  return { peer, dir: dir.dir, write: dir.write, env: { ...peer.env, GITHUB_EVENT_PATH: event, GITHUB_SHA: '' } };
}

/** herald with `input` on standard input. */
function heraldStdin(args: string[], env: Record<string, string>, input: string): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(repoRoot, 'dist', 'cli', 'main.js'), ...args], { env: { ...process.env, NO_COLOR: '1', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.end(input);
  });
}

describe('herald github comment', () => {
  it("posts on the event's pull request, then updates the same comment: the marker comes from the body", async () => {
    const { peer, dir, write, env } = await setup();
    write('body.md', `${planMarker('production', 'a'.repeat(64))}\n**herald plan for production**: 1 to create\n`);
    const first = await herald(['github', 'comment', '--body-file', join(dir, 'body.md')], env);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const [c] = peer.commentsOf(7);
    expect(first.stdout).toBe(`Posted the comment on pull request #7: ${c!.html_url}\n`);
    // The next push: a new fingerprint, the same environment's comment.
    write('body.md', `${planMarker('production', 'b'.repeat(64))}\n**herald plan for production**: 2 to create\n`);
    const second = await herald(['github', 'comment', '--body-file', join(dir, 'body.md')], env);
    expect(second.stdout).toBe(`Updated the comment on pull request #7: ${c!.html_url}\n`);
    expect(peer.commentsOf(7).map((x) => x.body)).toEqual([`${planMarker('production', 'b'.repeat(64))}\n**herald plan for production**: 2 to create\n`]);
    expect(first.stdout + first.stderr + second.stdout + second.stderr).not.toContain(peer.token);
  });

  it('reads the body from standard input, with --marker and --pr, and retries a rate-limited request', async () => {
    const { peer, env } = await setup();
    peer.failNext({ status: 429, headers: { 'retry-after': '0' }, body: { message: 'You have exceeded a secondary rate limit' } });
    const r = await heraldStdin(['github', 'comment', '--body-file', '-', '--pr', '12', '--marker', '<!-- herald:preview'], env, '<!-- herald:preview -->\nthe grid\n');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(peer.commentsOf(12).map((c) => c.body)).toEqual(['<!-- herald:preview -->\nthe grid\n']);
    expect(peer.requests.map((q) => q.method)).toEqual(['GET', 'GET', 'POST']);
  });

  it('says what is missing: a marker, a pull request, the token', async () => {
    const { dir, write, env } = await setup();
    write('plain.md', 'no marker\n');
    const noMarker = await herald(['github', 'comment', '--body-file', join(dir, 'plain.md')], env);
    expect(noMarker.code).toBe(1);
    expect(noMarker.stderr).toContain("herald: the body's first line is not an HTML comment to find it again by");
    write('body.md', '<!-- herald:preview -->\nx\n');
    const noPr = await herald(['github', 'comment', '--body-file', join(dir, 'body.md')], { ...env, GITHUB_EVENT_PATH: '' });
    expect(noPr.stderr).toContain('herald: GITHUB_EVENT_PATH is not set, so there is no pull request to comment on\n  hint: pass --pr <number>');
    const noToken = await herald(['github', 'comment', '--body-file', join(dir, 'body.md')], { ...env, GITHUB_TOKEN: '' });
    expect(noToken.stderr).toContain('herald: GITHUB_TOKEN is not set');
    const badToken = await herald(['github', 'comment', '--body-file', join(dir, 'body.md')], { ...env, GITHUB_TOKEN: 'ghs_notTheRightOne77' });
    expect(badToken.code).toBe(1);
    expect(badToken.stderr).toContain('herald: GitHub refused the token for GET /repos/shop/emails/issues/7/comments (401: Bad credentials)');
    expect(badToken.stderr).not.toContain('ghs_notTheRightOne77');
  });
});

describe('herald github reviewed', () => {
  it("prints the environment's review fingerprint from the merged pull request's plan comment", async () => {
    const { peer, env } = await setup();
    peer.setPulls(SHA, [{ number: 7, merge_commit_sha: SHA, merged_at: '2026-11-20T12:00:00Z' }]);
    peer.addComment(7, `${planMarker('production', 'c'.repeat(64))}\nplan`);
    peer.addComment(7, `${planMarker(null, 'd'.repeat(64))}\nplan`);
    peer.addComment(7, `${planMarker('production', 'e'.repeat(64))}\nquoted by a person`, PERSON);
    const r = await herald(['github', 'reviewed', '--env', 'production', '--commit', SHA], env);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${'c'.repeat(64)}\n`);
    // Without --env, the default environment's; the commit from GITHUB_SHA.
    const d = await herald(['github', 'reviewed'], { ...env, GITHUB_SHA: SHA });
    expect(d.stdout).toBe(`${'d'.repeat(64)}\n`);
  });

  it('exits 1 saying there is no reviewed plan', async () => {
    const { peer, env } = await setup();
    peer.setPulls(SHA, [{ number: 7, merge_commit_sha: SHA }]);
    const r = await herald(['github', 'reviewed', '--env', 'staging', '--commit', SHA], env);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`herald: no reviewed plan for environment staging on the pull request of commit ${SHA}: pull request #7 has no herald plan comment for it from a bot\n`);
    const bad = await herald(['github', 'reviewed', '--commit', 'HEAD; rm -rf /'], env);
    expect(bad.stderr).toContain('is not a commit hash');
  });
});
