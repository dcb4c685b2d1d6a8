import type { Db } from '../db/db.js';
import { printable } from '../errors.js';
import { pollMailbox, type ImapPoll } from '../events/imap.js';
import { linkSecrets } from '../links/secret.js';
import type { Log } from '../log.js';
import { loadObject } from '../state/queries.js';
import type { Project } from '../workspace/model.js';

export type BouncePoll = ImapPoll | { error: string };

/**
 * The tick's read of the bounce mailbox (bounces.imap in the deployed
 * herald.yaml), before delivering, so an address that bounced is suppressed
 * before the next claim. A mailbox that cannot be read is reported and
 * logged, and the tick goes on: sending must not wait on the mail server.
 */
export async function pollBounces(db: Db, log: Log, clock: () => Date): Promise<BouncePoll | undefined> {
  const project = await loadObject<Project>(db, 'project', 'herald');
  if (!project?.bounces?.imap) return undefined;
  try {
    return await pollMailbox(db, project, { secrets: await linkSecrets(db, project.tracking), log, clock });
  } catch (err) {
    const error = printable((err as Error).message ?? String(err));
    log.error({ err: error, host: project.bounces.imap.host }, 'the bounce mailbox could not be read; the next tick tries again');
    return { error };
  }
}
