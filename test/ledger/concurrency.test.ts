import { describe, expect, it } from 'vitest';
import { ledgerCounts } from '../../src/ledger/ledger.js';
import { runPhase } from '../../src/ledger/runs.js';
import { applyDir } from '../support/apply.js';
import { herald } from '../support/cli.js';
import { useCleanups } from '../support/cleanup.js';
import { createTestDb, serverUrl, type TestDb } from '../support/db.js';
import { lapsedShop } from '../support/shop.js';
import { startSmtpPeer } from '../support/smtp-peer.js';
import { exampleWorkspace } from '../support/workspace.js';
import { campaign } from '../support/sources.js';

/**
 * Many workers on one campaign: four `herald send` processes started at once
 * (all four try to launch it; one materialises the audience), and a
 * `herald run` tick with two workers of its own joining while they send.
 * They coordinate through the database alone; the SMTP peer, in a process of
 * its own, counts what arrives by Message-ID.
 */
const CUSTOMERS = 21_100; // all lapsed; winback holds 5% out as its control group, leaving 20,000 and a few

const cleanup = useCleanups();

describe.skipIf(!serverUrl)('workers in five processes sending one campaign', () => {
  it('send 20,000 messages exactly once between them', async () => {
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
    expect(recipients).toBeGreaterThanOrEqual(20_000);
    const args = ['--dir', ws.dir, '--db', db.url!];
    const env = { HERALD_SMTP_URL: peer.url };

    const sends = Array.from({ length: 4 }, () => herald(['send', 'winback', ...args], env));
    // The tick joins once the others are well under way.
    await until(async () => (await ledgerCounts(db, campaign('winback'))).sent >= 2_000, '2,000 sent');
    const tick = herald(['run', '--workers', '2', '--json', ...args], env);
    const results = await Promise.all([...sends, tick]);
    for (const r of results) expect(r.code, r.stderr).toBe(0);

    const sentBy = results.slice(0, 4).map((r) => Number(/^winback: (\d+) sent, 0 failed/.exec(r.stdout)?.[1]));
    const ticked = JSON.parse(results[4]!.stdout) as { delivered: { sent: number; failed: number; retried: number } };
    expect(ticked.delivered).toMatchObject({ failed: 0, retried: 0 });
    // Every process did its share, and the shares add up to the audience.
    for (const n of [...sentBy, ticked.delivered.sent]) expect(n).toBeGreaterThan(0);
    expect(sentBy.reduce((a, b) => a + b, 0) + ticked.delivered.sent).toBe(recipients);

    expect(await ledgerCounts(db, campaign('winback'))).toEqual({
      audience: CUSTOMERS,
      control: CUSTOMERS - recipients,
      left_out: 0,
      recipients,
      queued: 0,
      waiting: 0,
      claimed: 0,
      sent: recipients,
      failed: 0,
      bounced: 0,
      expired: 0,
      unknown: 0,
      suppressed: 0,
      capped: 0,
      exited: 0,
      deferred: 0,
    });
    expect(await runPhase(db, campaign('winback'))).toBe('completed');
    // Nobody claimed a row another worker held.
    expect(await db.query("SELECT max(attempts)::int AS attempts FROM herald.messages WHERE source = 'winback' AND status = 'sent'")).toEqual([
      { attempts: 1 },
    ]);

    const { ids, total, missing } = await peer.accepted();
    expect(missing).toBe(0);
    expect(total).toBe(recipients);
    expect([...ids.values()].filter((n) => n !== 1)).toEqual([]);
    const ledgerIds = (await db.query<{ message_id: string }>("SELECT message_id FROM herald.messages WHERE source = 'winback' AND status = 'sent'")).map(
      (r) => r.message_id,
    );
    expect(new Set(ledgerIds)).toEqual(new Set(ids.keys()));
  }, 300_000);
});

async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

