import { join } from 'node:path';
import { createLog } from '../../log.js';
import { tick } from '../../send/run.js';
import { deliveryTransport, type Transport } from '../../send/transport.js';
import { createProgress } from '../progress.js';
import { duration, workerCount } from '../options.js';
import { tickSummary } from '../tick-summary.js';
import { print, printJson, withDb, workspaceDir, type GlobalOptions } from '../context.js';

interface RunOpts extends GlobalOptions {
  budget: string;
  workers: string;
  json?: boolean;
}

/**
 * `herald run`: the scheduler tick CI calls. It stops claiming before the
 * budget ends (or on SIGTERM), drains what is in flight, and exits 0; the
 * next tick resumes.
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
      try {
        return await tick(db, { transport: tr, log, workers, shouldStop: () => stopping || Date.now() >= deadline, onBatch: (t) => progress.onBatch(t) });
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
