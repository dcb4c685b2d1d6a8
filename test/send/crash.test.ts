import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ledgerCounts, runPhase } from '../../src/send/ledger.js';
import { applyDir } from '../support/apply.js';
import { herald } from '../support/cli.js';
import { useCleanups } from '../support/cleanup.js';
import { createTestDb, serverUrl, type TestDb } from '../support/db.js';
import { lapsedShop } from '../support/shop.js';
import { startSmtpPeer, type KillWhen, type SmtpPeer } from '../support/smtp-peer.js';
import { exampleWorkspace, repoRoot } from '../support/workspace.js';

/**
 * kill -9 in the middle of `herald send`: the SMTP peer, in a process of its
 * own, SIGKILLs the sending process when its nth message arrives, before or
 * after replying 250. A rerun then finishes the campaign. Whatever n, every
 * recipient's message arrives, and the only messages that arrive twice are
 * those of the batches the dead process held: sent, but not yet recorded.
 *
 * The dead worker's leases last 60 s; rather than wait for them, the test
 * moves them into the past, as 60 s would.
 */
const CUSTOMERS = 300; // all lapsed; winback holds 5% out as its control group, so about 285 recipients
const BATCH = 50; // deliver.ts's default batch size

/**
 * Where to kill ('last': the campaign's last message), how, what finishes the
 * campaign (`herald send` again, or a `herald run` tick), and with how many
 * workers the killed process sent.
 */
const CASES: { at: number | 'last'; when: KillWhen; rerun: 'send' | 'run'; workers: number }[] = [
  ...([1, 7, 50, 51, 99, 150, 223, 'last'] as const).flatMap((at, i) =>
    (['before-reply', 'after-reply'] as const).map((when) => ({ at, when, rerun: i % 2 === 0 ? ('send' as const) : ('run' as const), workers: 1 })),
  ),
  // Three workers in the killed process: three batches in flight.
  { at: 120, when: 'before-reply', rerun: 'send', workers: 3 },
];

const cleanup = useCleanups();

async function setup(): Promise<{ db: TestDb; dir: string; peer: SmtpPeer; recipients: number }> {
  const db = await createTestDb();
  const ws = exampleWorkspace();
  const peer = await startSmtpPeer();
  cleanup(
    () => db.dispose(),
    ws.remove,
    () => peer.close(),
  );
  await lapsedShop(db, CUSTOMERS);
  const plan = await applyDir(db, ws.dir);
  const recipients = plan.audiences.find((a) => a.campaign === 'winback')!.recipients!;
  expect(recipients).toBeGreaterThan(CUSTOMERS * 0.9);
  return { db, dir: ws.dir, peer, recipients };
}

/**
 * Waits until PostgreSQL has finished what the killed process had already
 * sent it. A statement in flight at the kill (recording a batch's results)
 * still runs and commits; only then does its backend notice the client is
 * gone. Reading the ledger before that races it.
 */
async function deadClientSettled(db: TestDb): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const [{ n }] = (await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'",
    )) as [{ n: number }];
    if (n === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the killed process still has statements running in PostgreSQL after 5 s');
}

/** The dead worker's leases run out: 60 s in production, moved into the past here rather than waited for. */
async function expireLeases(db: TestDb): Promise<void> {
  await db.query("UPDATE herald.messages SET lease_until = now() - interval '1 second' WHERE campaign = 'winback' AND status = 'claimed'");
}

describe.skipIf(!serverUrl)('herald send killed with SIGKILL at its nth message', () => {
  for (const { at, when, rerun, workers } of CASES)
    it(`killed at message ${at}, ${when}, sending with ${workers} worker${workers > 1 ? 's' : ''}; herald ${rerun} finishes: all arrive, only what was in flight twice`, async () => {
      const { db, dir, peer, recipients } = await setup();
      const n = at === 'last' ? recipients : at;
      const args = ['--dir', dir, '--db', db.url!];
      const env = { HERALD_SMTP_URL: peer.url };

      peer.killAt(n, when);
      const first = start(['send', 'winback', '--workers', String(workers), ...args], env);
      peer.target(first.pid);
      const died = await first.exit;
      expect(died.signal, died.stderr).toBe('SIGKILL');
      const killed = await peer.killed();
      expect(killed).toMatchObject({ pid: first.pid, nth: n });
      await deadClientSettled(db);

      // What the dead worker held: claimed by it, its replies never recorded.
      const held = await db.query<{ id: number; worker: string }>("SELECT id, worker FROM herald.messages WHERE campaign = 'winback' AND status = 'claimed'");
      for (const r of held) expect(r.worker.startsWith(`${hostname()}:${first.pid}:`), r.worker).toBe(true);
      expect(held.length).toBeLessThanOrEqual(BATCH * workers);
      const left = recipients - (await ledgerCounts(db, 'winback')).sent;
      await expireLeases(db);

      if (rerun === 'send') {
        const r = await herald(['send', 'winback', ...args], env);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toMatch(new RegExp(`^winback: ${left} sent, 0 failed`));
      } else {
        const r = await herald(['run', '--json', ...args], env);
        expect(r.code, r.stderr).toBe(0);
        expect(JSON.parse(r.stdout)).toMatchObject({ delivered: { sent: left, failed: 0, retried: 0 }, stopped: 'done' });
      }
      expect(await runPhase(db, 'winback')).toBe('completed');
      expect(await ledgerCounts(db, 'winback')).toMatchObject({ recipients, sent: recipients, claimed: 0, queued: 0 });

      const { ids, missing } = await peer.accepted();
      expect(missing).toBe(0);
      // Every recipient's message arrived, and nothing else did.
      const ledgerIds = (await db.query<{ message_id: string }>("SELECT message_id FROM herald.messages WHERE campaign = 'winback' AND status = 'sent'")).map(
        (r) => r.message_id,
      );
      expect(new Set(ledgerIds).size).toBe(recipients);
      expect([...ids.keys()].sort()).toEqual([...ledgerIds].sort());
      // Twice at most, and only what the dead worker held.
      const twice = [...ids].filter(([, count]) => count > 1);
      for (const [, count] of twice) expect(count).toBe(2);
      const heldIds = new Set(held.map((r) => r.id));
      for (const [id] of twice) expect(heldIds, `${id} arrived twice but was not in flight`).toContain(ledgerId(id));
      // The message the peer received but never acknowledged was sent again: the window no sender can close.
      if (when === 'before-reply') expect(twice.map(([id]) => id)).toContain(killed.messageId);
    }, 60_000);

  it("a rerun while the dead worker's lease holds leaves its rows alone, and finishes them once the lease has run out", async () => {
    const { db, dir, peer, recipients } = await setup();
    const env = { HERALD_SMTP_URL: peer.url };
    peer.killAt(120, 'before-reply');
    const first = start(['send', 'winback', '--dir', dir, '--db', db.url!], env);
    peer.target(first.pid);
    expect((await first.exit).signal).toBe('SIGKILL');
    await deadClientSettled(db);
    const held = await db.query<{ id: number }>("SELECT id FROM herald.messages WHERE campaign = 'winback' AND status = 'claimed' ORDER BY id");
    expect(held.length).toBeGreaterThan(0);

    // For all the rerun knows, the worker is alive and still sending them.
    const early = await herald(['send', 'winback', '--dir', dir, '--db', db.url!], env);
    expect(early.code, early.stderr).toBe(0);
    expect(early.stdout).not.toMatch(/campaign completed/);
    expect(await db.query("SELECT id FROM herald.messages WHERE campaign = 'winback' AND status = 'claimed' ORDER BY id")).toEqual(held);

    await expireLeases(db);
    const late = await herald(['send', 'winback', '--dir', dir, '--db', db.url!], env);
    expect(late.code, late.stderr).toBe(0);
    expect(late.stdout).toMatch(new RegExp(`^winback: ${held.length} sent, 0 failed, campaign completed`));
    expect(await ledgerCounts(db, 'winback')).toMatchObject({ recipients, sent: recipients });
    const { ids } = await peer.accepted();
    expect(ids.size).toBe(recipients);
  }, 60_000);
});

/** `<winback.<ledger id>@domain>` → the ledger id. */
function ledgerId(messageId: string): number {
  return Number(/^<winback\.(\d+)@/.exec(messageId)?.[1]);
}

/** The built CLI as a subprocess whose pid is known at once (test/support/cli.ts gives it only at the end). */
function start(
  args: string[],
  env: Record<string, string>,
): { pid: number; exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> } {
  const child = spawn(process.execPath, [join(repoRoot, 'dist', 'cli', 'main.js'), ...args], {
    env: { ...process.env, NO_COLOR: '1', HERALD_DATABASE_URL: '', GITHUB_ACTIONS: '', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stderr })),
  );
  return { pid: child.pid!, exit };
}

