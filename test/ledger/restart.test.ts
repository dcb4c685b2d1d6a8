import { ledgerIdOfMessageId } from '../../src/events/feedback.js';
import { spawn } from 'node:child_process';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { ledgerCounts } from '../../src/ledger/ledger.js';
import { runPhase } from '../../src/ledger/runs.js';
import { applyDir } from '../support/apply.js';
import { herald, type CliResult } from '../support/cli.js';
import { useCleanups } from '../support/cleanup.js';
import { createTestDb, serverUrl, withDatabase, type TestDb } from '../support/db.js';
import { lapsedShop } from '../support/shop.js';
import { startSmtpPeer, type SmtpPeer } from '../support/smtp-peer.js';
import { exampleWorkspace, repoRoot } from '../support/workspace.js';
import { campaign } from '../support/sources.js';

/**
 * The database goes away in the middle of `herald send`: every connection of
 * the sending process is terminated (pg_terminate_backend, as a restart of
 * PostgreSQL would), three times: once wherever the worker happens to be,
 * once while it is recording a batch's replies, once while it is claiming.
 * For the last two a table lock holds the worker in that statement, so the
 * connection dies under a statement in flight, not only in the idle pool. The
 * worker reconnects and finishes: nothing lost, nothing sent twice.
 *
 * And the server unreachable for a while, as while it restarts: the sending
 * process reaches it through a TCP proxy, which drops every connection and
 * refuses new ones, then comes back. And the database refusing connections
 * (ALTER DATABASE … ALLOW_CONNECTIONS false, SQLSTATE 55000 at connect), for
 * a while and for longer than the outage grace.
 */
const CUSTOMERS = 2_000; // all lapsed; winback holds 5% out as its control group

const cleanup = useCleanups();

describe.skipIf(!serverUrl)('herald send through a database restart', () => {
  it('connections terminated, three times: it reconnects and finishes, every message sent once', async () => {
    const { db, dir, peer } = await setup();
    // The test's own connection, under a name the terminations spare.
    const admin = new pg.Client({ connectionString: db.url!, application_name: 'herald test' });
    await admin.connect();
    cleanup(() => admin.end());
    const sent = async () =>
      (await admin.query<{ n: number }>("SELECT count(*)::int AS n FROM herald.messages WHERE source = 'winback' AND status = 'sent'")).rows[0]!.n;
    /** Terminates every connection of the sending process; how many there were. */
    const terminate = async () =>
      (
        await admin.query<{ n: number }>(
          "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = 'herald' AND datname = current_database()",
        )
      ).rows[0]!.n;
    const terminateIn = async (lock: string) => {
      const hold = await holdIn(db, lock);
      const n = await terminate();
      await hold.release();
      return n;
    };

    const send = herald(['send', 'winback', '--dir', dir, '--db', db.url!], { HERALD_SMTP_URL: peer.url });
    await until(async () => (await sent()) >= 200, '200 sent');
    expect(await terminate()).toBeGreaterThan(0);
    await until(async () => (await sent()) >= 700, '700 sent');
    // While a batch is out with the SMTP server, its rows locked: the worker waits in recordOutcomes (claims skip locked rows).
    expect(await terminateIn("SELECT id FROM herald.messages WHERE source = 'winback' AND status = 'claimed' FOR UPDATE")).toBeGreaterThan(0);
    await until(async () => (await sent()) >= 1_200, '1,200 sent');
    // Only claimBatch reads herald.objects while sending: the worker waits in its claim.
    expect(await terminateIn('LOCK TABLE herald.objects IN ACCESS EXCLUSIVE MODE')).toBeGreaterThan(0);
    const r = await send;

    // The two statements cut off in flight were tried again.
    expect(r.stderr.match(/database connection lost; retrying/g)?.length ?? 0).toBeGreaterThanOrEqual(2);
    await expectAllSentOnce(r, db, peer);
  }, 300_000);

  it('the connection cut while the worker claims, and the claim commits anyway: the worker takes those rows back at once', async () => {
    const { db, dir, peer } = await setup();
    const proxy = await startProxy(new URL(db.url!));
    cleanup(() => proxy.close());
    const send = herald(['send', 'winback', '--dir', dir, '--db', proxy.url], { HERALD_SMTP_URL: peer.url });
    await until(async () => (await ledgerCounts(db, campaign('winback'))).sent >= 500, '500 sent');
    // Hold the worker in its next claim (only claimBatch reads herald.objects)
    // and cut it off there; the server finishes and commits the claim, whose
    // rows never reach the worker.
    const hold = await holdIn(db, 'LOCK TABLE herald.objects IN ACCESS EXCLUSIVE MODE');
    await proxy.down();
    await hold.release();
    await new Promise((r) => setTimeout(r, 2_000));
    await proxy.up();
    const r = await send;

    expect(r.stderr).toMatch(/database connection lost; retrying/);
    // Not left to wait out their lease (a minute) for the next send.
    await expectAllSentOnce(r, db, peer);
  }, 300_000);

  it('the server unreachable for 16 s in a statement on the run: the worker waits it out, reconnects and finishes', async () => {
    const { db, dir, peer } = await setup();
    const proxy = await startProxy(new URL(db.url!));
    cleanup(() => proxy.close());
    const send = herald(['send', 'winback', '--dir', dir, '--db', proxy.url], { HERALD_SMTP_URL: peer.url });
    await until(async () => (await ledgerCounts(db, campaign('winback'))).sent >= 500, '500 sent');
    // Hold the worker in its next statement on herald.runs (the circuit
    // breaker's count, or the campaign's completion once the last batch is
    // recorded), and take the server away from there: a completion that
    // commits but whose reply is lost must still be reported as completed.
    const hold = await holdIn(db, 'LOCK TABLE herald.runs IN EXCLUSIVE MODE');
    await proxy.down();
    await hold.release();
    // Longer than a restart usually takes; the worker retries with backoff meanwhile.
    await new Promise((r) => setTimeout(r, 16_000));
    await proxy.up();
    const r = await send;

    expect(r.stderr).toMatch(/database connection lost; retrying/);
    await expectAllSentOnce(r, db, peer);
  }, 300_000);
});

describe.skipIf(!serverUrl)('herald send while the database refuses connections', () => {
  // Issue 12, item 10: this killed `herald send` at once with an internal error
  // (exit 70), and resuming sent the batch in flight a second time.
  it('refusing for a while: the worker rides it out, and finishes with every message sent once', async () => {
    const { db, dir, peer } = await setup();
    const a = await adminOf(db);
    const { admin, name } = a;
    const sent = async () => (await admin.query<{ n: number }>("SELECT count(*)::int AS n FROM herald.messages WHERE source = 'winback' AND status = 'sent'")).rows[0]!.n;

    const send = start(['send', 'winback', '--dir', dir, '--db', db.url!], { HERALD_SMTP_URL: peer.url });
    await until(async () => (await sent()) >= 300, '300 sent');
    // Take the database away at a moment when the server has accepted messages the ledger has not recorded yet
    // (between two batches nothing is in flight: waiting for that after the flip could wait forever).
    await until(async () => (await peer.accepted()).total > (await sent()), 'messages accepted and not yet recorded');
    await refuseConnections(a);
    // The worker noticed, and keeps trying.
    await until(async () => /database connection lost; retrying/.test(send.stderr()), 'a retry logged');
    await a.allow(true);
    const r = await send.exit;

    expect(r.stderr).not.toMatch(/internal error/);
    await expectAllSentOnce(r, db, peer);
  }, 300_000);

  it('refusing for longer than the grace: "lost the database", exit 1; the rerun finishes', async () => {
    const { db, dir, peer } = await setup();
    const a = await adminOf(db);
    const { admin, name } = a;
    const sent = async () => (await admin.query<{ n: number }>("SELECT count(*)::int AS n FROM herald.messages WHERE source = 'winback' AND status = 'sent'")).rows[0]!.n;

    // A grace of 3 s rather than the minute production waits.
    const send = start(['send', 'winback', '--dir', dir, '--db', db.url!], { HERALD_SMTP_URL: peer.url, HERALD_DB_OUTAGE_SECONDS: '3' });
    await until(async () => (await sent()) >= 300, '300 sent');
    await refuseConnections(a);
    const r = await send.exit;
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`herald: lost the database: database "${name}" is not currently accepting connections\n  hint: `));
    expect(r.stderr).not.toMatch(/internal error/);
    // What it held when it gave up: claimed, results unrecorded. Only those may go out twice.
    const unrecorded = new Set((await admin.query<{ id: number }>("SELECT id FROM herald.messages WHERE source = 'winback' AND status = 'claimed'")).rows.map((x) => Number(x.id)));

    await a.allow(true);
    const rerun = await herald(['send', 'winback', '--dir', dir, '--db', db.url!], { HERALD_SMTP_URL: peer.url });
    expect(rerun.code, rerun.stderr).toBe(0);
    const counts = await ledgerCounts(db, campaign('winback'));
    expect(counts).toMatchObject({ sent: counts.recipients, queued: 0, claimed: 0 });
    const { ids, missing } = await peer.accepted();
    expect(missing).toBe(0);
    expect(ids.size).toBe(counts.recipients);
    for (const [id, n] of ids) if (n > 1) expect(unrecorded, `${id} arrived ${n} times`).toContain(ledgerIdOfMessageId(id));
  }, 300_000);
});

/**
 * The test's own connection to the database, opened before it refuses
 * connections, and one to the server's `postgres` database, which switches
 * them off and on (a database cannot do that to itself).
 */
async function adminOf(db: TestDb): Promise<{ admin: pg.Client; name: string; allow(yes: boolean): Promise<void> }> {
  const name = new URL(db.url!).pathname.slice(1);
  const admin = new pg.Client({ connectionString: db.url!, application_name: 'herald test' });
  const server = new pg.Client({ connectionString: withDatabase(db.url!, 'postgres'), application_name: 'herald test' });
  await admin.connect();
  await server.connect();
  const allow = async (yes: boolean) => void (await server.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS ${yes}`));
  cleanup(async () => {
    await allow(true).catch(() => {});
    await admin.end();
    await server.end();
  });
  return { admin, name, allow };
}

/** New connections are refused (55000), and the sending process's sessions are ended, so it must connect again. */
async function refuseConnections(a: Awaited<ReturnType<typeof adminOf>>): Promise<void> {
  await a.allow(false);
  await a.admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'herald' AND datname = current_database()");
}

/** The built CLI as a subprocess whose stderr can be read while it runs. */
function start(args: string[], env: Record<string, string>): { stderr(): string; exit: Promise<CliResult> } {
  const child = spawn(process.execPath, [join(repoRoot, 'dist', 'cli', 'main.js'), ...args], {
    env: { ...process.env, NO_COLOR: '1', HERALD_DATABASE_URL: '', GITHUB_ACTIONS: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  cleanup(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const exit = new Promise<CliResult>((resolve) => child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr })));
  return { stderr: () => stderr, exit };
}

/**
 * Takes `lock` (a LOCK TABLE, or a SELECT … FOR UPDATE that must find rows) in
 * a transaction of the test's own, and waits until the sending process is
 * stuck behind it; release() lets it go on.
 */
async function holdIn(db: TestDb, lock: string): Promise<{ release(): Promise<void> }> {
  const locker = new pg.Client({ connectionString: db.url!, application_name: 'herald test' });
  await locker.connect();
  cleanup(() => locker.end());
  for (;;) {
    await locker.query('BEGIN');
    if ((await locker.query(lock)).rowCount !== 0) break;
    await locker.query('ROLLBACK');
    await new Promise((r) => setTimeout(r, 10));
  }
  // pg_locks, not pg_stat_activity: the latter is a snapshot within a transaction. Only herald works on this database.
  await until(
    async () => (await locker.query('SELECT 1 FROM pg_locks WHERE NOT granted AND pg_backend_pid() = ANY (pg_blocking_pids(pid))')).rowCount! > 0,
    `the sending process waiting behind "${lock}"`,
  );
  return { release: async () => void (await locker.query('COMMIT')) };
}

async function setup(): Promise<{ db: TestDb; dir: string; peer: SmtpPeer }> {
  const db = await createTestDb();
  const ws = exampleWorkspace();
  // A slow server, so the send lasts a few seconds.
  const peer = await startSmtpPeer({ delayMs: 10 });
  cleanup(
    () => db.dispose(),
    ws.remove,
    () => peer.close(),
  );
  await lapsedShop(db, CUSTOMERS);
  await applyDir(db, ws.dir);
  return { db, dir: ws.dir, peer };
}

/** The send finished, and every recipient's message arrived once: none lost, none twice. */
async function expectAllSentOnce(r: CliResult, db: TestDb, peer: SmtpPeer): Promise<void> {
  expect(r.code, r.stderr).toBe(0);
  const counts = await ledgerCounts(db, campaign('winback'));
  expect(counts.recipients).toBeGreaterThan(CUSTOMERS * 0.9);
  expect(r.stdout).toMatch(new RegExp(`^winback: ${counts.recipients} sent, 0 failed, campaign completed`));
  expect(counts).toMatchObject({ sent: counts.recipients, queued: 0, claimed: 0, failed: 0, unknown: 0 });
  expect(await runPhase(db, campaign('winback'))).toBe('completed');
  const { ids, total, missing } = await peer.accepted();
  expect(missing).toBe(0);
  expect([...ids].filter(([, n]) => n !== 1)).toEqual([]);
  expect(total).toBe(counts.recipients);
  const ledgerIds = (await db.query<{ message_id: string }>("SELECT message_id FROM herald.messages WHERE source = 'winback' AND status = 'sent'")).map(
    (x) => x.message_id,
  );
  expect(new Set(ledgerIds)).toEqual(new Set(ids.keys()));
}

/**
 * A TCP proxy to the PostgreSQL server. down() drops every connection and
 * stops listening, so new ones are refused, as while the server restarts;
 * up() listens on the same port again.
 */
async function startProxy(target: URL): Promise<{ url: string; down(): Promise<void>; up(): Promise<void>; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const track = (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
  };
  let server: Server;
  const listen = (port: number) =>
    new Promise<number>((resolve) => {
      server = createServer((client) => {
        const upstream = connect(Number(target.port || 5432), target.hostname);
        track(client);
        track(upstream);
        client.pipe(upstream).pipe(client);
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
      });
      server.listen(port, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
    });
  const port = await listen(0);
  const down = async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of sockets) s.destroy();
    await closed;
  };
  const url = new URL(target);
  url.host = `127.0.0.1:${port}`;
  return { url: url.toString(), down, up: async () => void (await listen(port)), close: () => (server.listening ? down() : Promise.resolve()) };
}

async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

