import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { describe, expect, it } from 'vitest';
import { openDb } from '../../src/db/db.js';
import { herald } from '../support/cli.js';
import { useCleanups } from '../support/cleanup.js';
import { exampleWorkspace, repoRoot } from '../support/workspace.js';

/**
 * The CLI's stopping rules, as CI meets them: SIGTERM and the end of
 * `--budget` stop claiming, finish what is in flight, record it, and exit 0;
 * the next run resumes. The database is an embedded one in a folder, opened
 * by one process at a time.
 */
const cleanup = useCleanups();

/** An SMTP peer that takes `delayMs` over each message and remembers the Message-IDs. */
async function slowPeer(delayMs: number) {
  const ids: string[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, _s, cb) {
      let head = '';
      stream.on('data', (c: Buffer) => {
        if (head.length < 4096) head += c.toString('latin1');
      });
      stream.on('end', () => {
        setTimeout(() => {
          ids.push(/^Message-ID: (<[^>]+>)/im.exec(head)?.[1] ?? '?');
          cb();
        }, delayMs);
      });
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `smtp://127.0.0.1:${(server.server.address() as { port: number }).port}`, ids };
}

async function workspaceWithShop() {
  const ws = exampleWorkspace();
  const db = mkdtempSync(join(tmpdir(), 'herald-run-db-'));
  cleanup(ws.remove, () => rmSync(db, { recursive: true, force: true }));
  const seeded = await herald(['demo', '--customers', '1500', '--no-send', '--dir', ws.dir, '--db', db]);
  expect(seeded.code, seeded.stderr).toBe(0);
  return { dir: ws.dir, db };
}

async function ledger(dbDir: string) {
  const db = await openDb(dbDir);
  try {
    return await db.query<{ status: string; n: number }>("SELECT status, count(*)::int AS n FROM herald.messages WHERE source = 'winback' GROUP BY status ORDER BY status");
  } finally {
    await db.close();
  }
}

const count = (rows: { status: string; n: number }[], status: string) => rows.find((r) => r.status === status)?.n ?? 0;

describe('herald send and herald run stop cleanly', () => {
  it('SIGTERM drains: the batch in flight is finished and recorded, the process exits 0, and herald run resumes', async () => {
    const { dir, db } = await workspaceWithShop();
    const peer = await slowPeer(100);
    const env = { ...process.env, NO_COLOR: '1', HERALD_SMTP_URL: peer.url, HERALD_DATABASE_URL: '' };
    // Small batches: a worker has two in flight, and the budget must end with the send not done.
    const child = spawn(process.execPath, [join(repoRoot, 'dist', 'cli', 'main.js'), 'send', 'winback', '--batch', '10', '--dir', dir, '--db', db], { env });
    let stdout = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.resume();
    await expect.poll(() => peer.ids.length, { timeout: 120_000, interval: 50 }).toBeGreaterThanOrEqual(10);
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    expect(code).toBe(0);
    expect(stdout).toContain('Stopped on a signal after finishing the messages in flight');

    const stopped = await ledger(db);
    // Nothing left claimed: every message handed to the server is recorded as sent.
    expect(count(stopped, 'claimed')).toBe(0);
    expect(count(stopped, 'sent')).toBe(peer.ids.length);
    expect(count(stopped, 'queued')).toBeGreaterThan(0);

    const resumed = await herald(['run', '--budget', '5m', '--dir', dir, '--db', db], { HERALD_SMTP_URL: peer.url });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toContain('completed winback');
    const done = await ledger(db);
    expect(count(done, 'queued') + count(done, 'claimed')).toBe(0);
    expect(count(done, 'sent')).toBe(peer.ids.length);
    expect(new Set(peer.ids).size).toBe(peer.ids.length);
  }, 300_000);

  it('--budget: herald run delivers a batch, stops claiming at the end of its budget, exits 0, and the next run goes on', async () => {
    const { dir, db } = await workspaceWithShop();
    const peer = await slowPeer(150);
    // Launch with a short first run: the send is stopped by its budget before it is done.
    const first = await herald(['run', '--budget', '1s', '--dir', dir, '--db', db], { HERALD_SMTP_URL: peer.url });
    // winback has no schedule: only herald send launches it.
    expect(first.stdout).toContain('delivered: 0 sent');
    // Small batches: a worker has two in flight, and the budget must end with the send not done.
    const child = spawn(process.execPath, [join(repoRoot, 'dist', 'cli', 'main.js'), 'send', 'winback', '--batch', '10', '--dir', dir, '--db', db], {
      env: { ...process.env, HERALD_SMTP_URL: peer.url, HERALD_DATABASE_URL: '' },
    });
    child.stdout.resume();
    child.stderr.resume();
    await expect.poll(() => peer.ids.length, { timeout: 120_000, interval: 50 }).toBeGreaterThanOrEqual(1);
    child.kill('SIGTERM');
    expect(await new Promise<number | null>((r) => child.on('exit', r))).toBe(0);
    const before = peer.ids.length;

    // A budget shorter than starting up: the tick still delivers one batch, then stops.
    const budgeted = await herald(['run', '--budget', '1s', '--batch', '10', '--dir', dir, '--db', db], { HERALD_SMTP_URL: peer.url });
    expect(budgeted.code, budgeted.stderr).toBe(0);
    expect(budgeted.stdout).toContain('stopped at the end of the budget after finishing the messages in flight');
    const partial = await ledger(db);
    expect(count(partial, 'claimed')).toBe(0);
    expect(count(partial, 'sent')).toBe(peer.ids.length);
    expect(peer.ids.length).toBeGreaterThan(before);
    // It stopped at its budget, with the send not done: the next tick goes on.
    expect(count(partial, 'queued')).toBeGreaterThan(0);
  }, 300_000);

  it('herald run --now: the triggers are enabled without back-fill, the next day’s run sends what came due, and a second run at the same --now sends nothing', async () => {
    const { dir, db } = await workspaceWithShop();
    const peer = await slowPeer(0);
    const today = new Date();
    today.setUTCHours(0, 0, 0, 0);
    const t0 = new Date(today.getTime() + 10 * 3600_000).toISOString();
    const t1 = new Date(today.getTime() + 36 * 3600_000).toISOString();
    const run = async (now: string) => {
      const r = await herald(['run', '--now', now, '--json', '--dir', dir, '--db', db], { HERALD_SMTP_URL: peer.url });
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as { swept: { trigger: string; inserted: number; skippedByHorizon: number }[]; delivered: { sent: number } };
    };
    const first = await run(t0);
    expect(first.swept.map((w) => w.inserted)).toEqual(first.swept.map(() => 0));
    expect(first.swept.reduce((n, w) => n + w.skippedByHorizon, 0)).toBeGreaterThan(0);
    expect(first.delivered.sent).toBe(0);

    const next = await run(t1);
    const added = next.swept.reduce((n, w) => n + w.inserted, 0);
    expect(added).toBeGreaterThan(0);
    expect(next.delivered.sent).toBeGreaterThan(0);
    expect(peer.ids).toHaveLength(next.delivered.sent);

    const again = await run(t1);
    expect(again.swept.reduce((n, w) => n + w.inserted, 0)).toBe(0);
    expect(again.delivered.sent).toBe(0);
    expect(new Set(peer.ids).size).toBe(peer.ids.length);

    const bad = await herald(['run', '--now', 'tomorrow', '--dir', dir, '--db', db]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--now "tomorrow" is not an ISO date or time');
  }, 300_000);
});
