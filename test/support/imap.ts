import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';

interface Hoodiecrow {
  listen(port: number, host: string, cb: () => void): void;
  close(cb: () => void): void;
  server: { address(): AddressInfo };
}
// hoodiecrow-imap: an IMAP4rev1 server for client tests, by imapflow's author; all in memory.
const hoodiecrow = createRequire(import.meta.url)('hoodiecrow-imap') as (o: object) => Hoodiecrow;

/**
 * A real IMAP peer on 127.0.0.1 whose INBOX holds these mails; `seen` ones are flagged \Seen already; user `bounces`, password `imap-test-password`.
 */
export async function imapServer(cleanup: (...f: (() => Promise<void> | void)[]) => void, mails: { raw: string; seen?: boolean }[]): Promise<{ port: number }> {
  const server = hoodiecrow({
    plugins: ['ID', 'UNSELECT', 'ENABLE', 'MOVE', 'UIDPLUS', 'SPECIAL-USE', 'NAMESPACE'],
    users: { bounces: { password: 'imap-test-password' } },
    storage: {
      INBOX: { messages: mails.map((m) => ({ raw: m.raw.replace(/\r?\n/g, '\r\n'), flags: m.seen ? ['\\Seen'] : [], internaldate: new Date('2026-11-20T09:00:00Z') })) },
      '': { separator: '/', folders: { Processed: { messages: [] } } },
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup(() => new Promise<void>((r) => server.close(() => r())));
  return { port: server.server.address().port };
}

