import { join } from 'node:path';
import { createLog } from '../../log.js';
import { tick } from '../../tick/tick.js';
import { deliveryTransport, type Transport } from '../../channels/email/transport.js';
import { createProgress } from '../progress.js';
import { clockFrom, duration, workerCount } from '../options.js';
import { tickSummary } from '../tick-summary.js';
import { print, printJson, withDb, workspaceDir, type GlobalOptions } from '../context.js';

interface RunOpts extends GlobalOptions {
  budget: string;
  workers: string;
  json?: boolean;
  now?: string;
}

/**
 * `herald run`: the scheduler tick CI calls. It stops claiming before the
 * budget ends (or on SIGTERM), drains what is in flight, and exits 0; the
 * next tick resumes. The budget stops claiming only once a batch has been
 * delivered: a tick whose budget went on starting up or on launching a big
 * audience (a slow runner, a million customers) still moves the send
 * forward, by one batch at most past its budget, instead of ending with
 * nothing done, tick after tick.
 */
export default async function run(_args: string[], opts: RunOpts): Promise<void> {
  const budgetMs = duration(opts.budget, '--budget');
  const workers = workerCount(opts.workers);
  const deadline = Date.now() + budgetMs;
  let stopping = false;
  const stop = () => {
    stopping = true;
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  const log = createLog();
  let transport: Transport | undefined;
  try {
    const result = await withDb(opts, async (db) => {
      const tr = (transport = await deliveryTransport(db, join(workspaceDir(opts), '.herald', 'outbox')));
      const progress = createProgress(db);
      let delivered = false;
      const onBatch = (t: Parameters<typeof progress.onBatch>[0]) => {
        delivered = true;
        progress.onBatch(t);
      };
      try {
        return await tick(db, { transport: tr, log, workers, clock: clockFrom(opts.now), shouldStop: () => stopping || (delivered && Date.now() >= deadline), onBatch });
      } finally {
        progress.stop();
      }
    });
    if (opts.json) printJson({ ...result, stopped: stopping ? 'signal' : Date.now() >= deadline ? 'budget' : 'done' });
    else print(tickSummary(result, stopping, Date.now() >= deadline));
  } finally {
    transport?.close();
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  }
}
