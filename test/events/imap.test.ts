import { ImapFlow } from 'imapflow';
import { describe, expect, it } from 'vitest';
import { pollMailbox } from '../../src/events/imap.js';
import { silentLog } from '../../src/log.js';
import { createTestDb } from '../support/db.js';
import { useCleanups } from '../support/cleanup.js';
import { imapServer } from '../support/imap.js';
import { FIXTURE_RECIPIENTS, FIXTURE_SECRET, fixture, project, sentMessages, suppressions } from './ledger.js';

const cleanup = useCleanups();

async function mailboxStatus(port: number, mailbox: string): Promise<{ messages: number; unseen: number }> {
  const client = new ImapFlow({ host: '127.0.0.1', port, secure: false, auth: { user: 'bounces', pass: 'imap-test-password' }, logger: false });
  await client.connect();
  try {
    const s = await client.status(mailbox, { messages: true, unseen: true });
    if (!s) throw new Error(`no status for ${mailbox}`);
    return { messages: s.messages ?? -1, unseen: s.unseen ?? -1 };
  } finally {
    await client.logout();
  }
}

async function setUp(processed?: string) {
  const db = await createTestDb();
  cleanup(() => db.dispose());
  await sentMessages(db, { source: 'spring', addresses: FIXTURE_RECIPIENTS });
  const { port } = await imapServer(cleanup, [
    { raw: fixture('postfix-5.1.1.eml') },
    { raw: fixture('yahoo-arf.eml') },
    { raw: fixture('autoreply.eml') },
    // Read by a person before herald got to it: left alone.
    { raw: fixture('exim-5.1.1.eml'), seen: true },
  ]);
  process.env.TEST_IMAP_PASSWORD = 'imap-test-password';
  const p = project({ bounces: { imap: { host: '127.0.0.1', port, secure: false, user: 'bounces', password_env: 'TEST_IMAP_PASSWORD', ...(processed ? { processed_mailbox: processed } : {}) } } } as never);
  return { db, port, p };
}

describe('polling the bounce mailbox over IMAP', () => {
  it('applies the unseen mails, then marks them seen; the next poll reads nothing', async () => {
    const { db, port, p } = await setUp();
    const first = await pollMailbox(db, p, { secrets: [FIXTURE_SECRET], log: silentLog });
    expect(first?.read).toBe(3);
    expect(first?.summary.ignored.map((i) => i.why)).toEqual(['autoresponder (Auto-Submitted: auto-replied)']);
    expect(await suppressions(db)).toEqual([
      { email: 'alice@example.com', site: 'main', reason: 'bounced', source: 'dsn' },
      { email: 'ivan@yahoo.example', site: null, reason: 'complained', source: 'arf' },
    ]);
    expect(await db.query("SELECT DISTINCT detail->>'via' AS via FROM herald.message_events")).toEqual([{ via: 'imap' }]);
    expect(await mailboxStatus(port, 'INBOX')).toEqual({ messages: 4, unseen: 0 });
    expect((await pollMailbox(db, p, { secrets: [FIXTURE_SECRET], log: silentLog }))?.read).toBe(0);
  });

  it('moves what it applied to processed_mailbox', async () => {
    const { db, port, p } = await setUp('Processed');
    expect((await pollMailbox(db, p, { secrets: [FIXTURE_SECRET], log: silentLog }))?.read).toBe(3);
    expect(await mailboxStatus(port, 'Processed')).toEqual({ messages: 3, unseen: 3 });
    expect(await mailboxStatus(port, 'INBOX')).toEqual({ messages: 1, unseen: 0 });
  });
});
