import { ImapFlow } from 'imapflow';
import type { Db } from '../db/db.js';
import { UserError } from '../errors.js';
import type { Log } from '../log.js';
import type { Project } from '../workspace/model.js';
import { applyFeedback, type FeedbackSummary } from './feedback.js';
import { readFeedback } from './match.js';
import { bytesToText } from './mime.js';

/** Mails read per poll: a backlog is worked off over several ticks, each of them short. */
export const IMAP_BATCH = 500;

export interface ImapPoll {
  mailbox: string;
  /** Mails read this time. */
  read: number;
  summary: FeedbackSummary;
}

/**
 * `herald run` polls the mailbox herald.yaml names (bounces.imap): the
 * unseen mails are read, applied as `herald bounces import` applies files,
 * and only then marked seen, or moved to processed_mailbox; a tick that fails
 * half-way leaves them unseen, and the next one reads them again, which
 * records nothing twice (src/events/feedback.ts).
 */
export async function pollMailbox(db: Db, project: Project, o: { secrets: readonly string[]; log: Log; clock?: () => Date }): Promise<ImapPoll | undefined> {
  const config = project.bounces?.imap;
  if (!config) return undefined;
  const pass = process.env[config.password_env];
  if (!pass) throw new UserError(`bounces.imap: $${config.password_env} is not set`, `export ${config.password_env}=… (the password of ${config.user} on ${config.host})`);
  const secure = config.secure ?? true;
  const mailbox = config.mailbox ?? 'INBOX';
  const client = new ImapFlow({ host: config.host, port: config.port ?? (secure ? 993 : 143), secure, auth: { user: config.user, pass }, logger: false });
  await client.connect();
  try {
    const lock = await client.getMailboxLock(mailbox);
    try {
      const found = await client.search({ seen: false }, { uid: true });
      const uids = (found || []).slice(0, IMAP_BATCH);
      if (uids.length === 0) return { mailbox, read: 0, summary: await applyFeedback(db, project, []) };
      const mails: { uid: number; raw: string }[] = [];
      // source: the whole message, fetched with BODY.PEEK so nothing is marked seen before it is applied.
      for await (const m of client.fetch(uids, { uid: true, source: true }, { uid: true })) {
        if (m.source) mails.push({ uid: m.uid, raw: bytesToText(m.source) });
      }
      const feedback = mails.map((m) => readFeedback(m.raw, `imap ${mailbox} uid ${m.uid}`, o.secrets, 'imap'));
      const summary = await applyFeedback(db, project, feedback, o.clock ? { clock: o.clock } : {});
      const done = mails.map((m) => m.uid);
      if (config.processed_mailbox) await client.messageMove(done, config.processed_mailbox, { uid: true });
      else await client.messageFlagsAdd(done, ['\\Seen'], { uid: true });
      o.log.info({ mailbox, read: mails.length, matched: summary.matched, recorded: summary.recorded, suppressed: summary.suppressed.length }, 'bounce mailbox read');
      return { mailbox, read: mails.length, summary };
    } finally {
      lock.release();
    }
  } finally {
    await client.logout().catch(() => client.close());
  }
}
