import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { silentLog } from '../../src/log.js';
import { recordApply, writeObject } from '../../src/state/queries.js';
import { tick } from '../../src/tick/tick.js';
import { tickSummary } from '../../src/cli/tick-summary.js';
import { createTestDb } from '../support/db.js';
import { useCleanups } from '../support/cleanup.js';
import { imapServer } from '../support/imap.js';
import { sinkWithTransport } from '../support/smtp.js';
import { FIXTURE_RECIPIENTS, fixture, project, sentMessages, suppressions } from '../events/ledger.js';

const cleanup = useCleanups();
const SECRET = 'feedback-fixtures-secret-0123456789abcdef';

/** herald.yaml as deployed, with the bounce mailbox on `port`. */
async function deploy(db: Parameters<typeof writeObject>[0], port: number): Promise<void> {
  const spec = project({ tracking: { base_url: 'https://t.shop.example', secret_env: 'TEST_TICK_SECRET' }, bounces: { imap: { host: '127.0.0.1', port, secure: false, user: 'bounces', password_env: 'TEST_IMAP_PASSWORD' } } } as never);
  const applyId = await recordApply(db, { gitCommit: null, appliedBy: 'test', environment: null, changes: [] });
  await writeObject(db, { kind: 'project', name: 'herald', spec: spec as never, hash: 'h' }, { gitCommit: null, gitAuthor: null, applyId });
}

describe('herald run reads the bounce mailbox', () => {
  process.env.TEST_IMAP_PASSWORD = 'imap-test-password';
  process.env.TEST_TICK_SECRET = SECRET;

  it('applies it in the tick, and says so in the summary', async () => {
    const db = await createTestDb();
    cleanup(() => db.dispose());
    await sentMessages(db, { source: 'spring', addresses: FIXTURE_RECIPIENTS });
    const { port } = await imapServer(cleanup, [{ raw: fixture('postfix-5.1.1.eml') }, { raw: fixture('autoreply.eml') }]);
    await deploy(db, port);
    const { transport } = await sinkWithTransport(cleanup);
    const r = await tick(db, { transport, log: silentLog });
    expect(r.bounces && 'read' in r.bounces ? r.bounces.read : r.bounces).toBe(2);
    expect(await suppressions(db)).toEqual([{ email: 'alice@example.com', site: 'main', reason: 'bounced', source: 'dsn' }]);
    expect(tickSummary(r, false, false).split('\n')[0]).toBe('bounce mailbox INBOX: 2 read, 1 bounces, 0 soft bounces, 0 complaints, 0 unsubscribes, 1 suppressed, 1 ignored');
  });

  it('goes on delivering when the mailbox cannot be read, and says why', async () => {
    const db = await createTestDb();
    cleanup(() => db.dispose());
    // A port that refuses: taken, then freed.
    const probe = createServer();
    await new Promise<void>((res) => probe.listen(0, '127.0.0.1', res));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((res) => probe.close(() => res()));
    await deploy(db, port);
    const { transport } = await sinkWithTransport(cleanup);
    const r = await tick(db, { transport, log: silentLog });
    expect(r.bounces).toEqual({ error: expect.stringContaining('ECONNREFUSED') });
    expect(tickSummary(r, false, false)).toMatch(/^bounce mailbox: not read: .*ECONNREFUSED/m);
    expect(r.delivered.sent).toBe(0);
  });
});
