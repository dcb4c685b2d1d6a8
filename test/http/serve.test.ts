import { spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clicksToken, openToken } from '../../src/links/tracking.js';
import { useCleanups } from '../support/cleanup.js';
import { createTestDb, serverUrl, type TestDb } from '../support/db.js';
import { MINIMAL, repoRoot, tempWorkspace } from '../support/workspace.js';
import { CHROME, SECRETS, SET, seed } from './fixture.js';

const cleanup = useCleanups();
let db: TestDb;
let ids: Awaited<ReturnType<typeof seed>>;
beforeAll(async () => {
  db = await createTestDb();
  ids = await seed(db);
});
afterAll(() => db?.dispose());

/** One request over a kept-alive connection; resolves with the status once the response has ended. */
function hit(agent: Agent, url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, headers: { 'user-agent': CHROME } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

describe.skipIf(!serverUrl)('herald serve', () => {
  it('listens where it says, and on SIGTERM writes every event it holds and exits 0', async () => {
    const ws = tempWorkspace(MINIMAL);
    cleanup(ws.remove);
    const child = spawn(process.execPath, [join(repoRoot, 'dist', 'cli', 'main.js'), 'serve', '--port', '0', '--dir', ws.dir, '--db', db.url!], {
      env: { ...process.env, NO_COLOR: '1', HERALD_DATABASE_URL: '', HERALD_SECRET: SECRETS[0] },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const exited = new Promise<number | null>((r) => child.on('exit', r));
    cleanup(() => void child.kill('SIGKILL'));
    await expect.poll(() => stdout + stderr, { timeout: 90_000, interval: 100 }).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+/);
    const base = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)![1]!;
    expect(stdout).toContain('(tracking.base_url https://mail.example.com)');

    // The workspace's base_url has no path: the routes are at the root.
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    cleanup(() => agent.destroy());
    const N = 300;
    const statuses = await Promise.all(
      Array.from({ length: N }, (_, i) => hit(agent, i % 2 ? `${base}/o/${openToken(ids.old, SECRETS[0]!)}` : `${base}/c/${clicksToken(ids.old, SET, SECRETS[0]!)}/0`)),
    );
    expect(statuses.filter((s) => s === 200)).toHaveLength(N / 2);
    expect(statuses.filter((s) => s === 302)).toHaveLength(N / 2);
    agent.destroy();
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const [row] = await db.query<{ opens: number; clicks: number }>(
      "SELECT count(*) FILTER (WHERE kind = 'open')::int AS opens, count(*) FILTER (WHERE kind = 'click')::int AS clicks FROM herald.message_events WHERE message_id = $1",
      [ids.old],
    );
    expect(row).toEqual({ opens: N / 2, clicks: N / 2 });
    expect(stderr).not.toMatch(/lost/);
  }, 300_000);
});
