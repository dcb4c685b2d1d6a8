import { createLog } from '../../log.js';
import { tick } from '../../tick/tick.js';
import { deliveryTransport, type Transport } from '../../channels/email/transport.js';
import { heraldPath, print, withDb, type GlobalOptions } from '../context.js';
import { createProgress } from '../progress.js';
import { batchSize, clockFrom, seconds, workerCount } from '../options.js';
import { tickSummary } from '../tick-summary.js';

interface DeliverOpts extends GlobalOptions {
  workers: string;
  batch?: string;
  idle: string;
  now?: string;
}

/**
 * `herald deliver --workers N`: a long-running host. N workers in this
 * process run ticks back to back, waiting `--idle` seconds when nothing is
 * due, until SIGTERM or Ctrl-C, then finish what is in flight. Any number of
 * such processes on any number of machines may run against one database:
 * they coordinate through it alone.
 */
export default async function deliverCommand(_args: string[], opts: DeliverOpts): Promise<void> {
  const workers = workerCount(opts.workers);
  const batch = batchSize(opts.batch);
  const idleMs = seconds(opts.idle, '--idle') * 1000;
  const clock = clockFrom(opts.now);
  let stopping = false;
  let wake: (() => void) | undefined;
  const stop = () => {
    stopping = true;
    wake?.();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  const log = createLog();
  let transport: Transport | undefined;
  try {
    await withDb(opts, async (db) => {
      const tr = (transport = await deliveryTransport(db, heraldPath(opts, 'outbox')));
      log.info({ workers }, 'delivering until stopped');
      while (!stopping) {
        const progress = createProgress(db);
        const r = await tick(db, { transport: tr, log, workers, ...batch, clock, shouldStop: () => stopping, onBatch: (t) => progress.onBatch(t) }).finally(() => progress.stop());
        const t = r.delivered;
        if (r.launched.length || r.decided.length || r.swept.some((w) => w.inserted || w.error) || r.attribution.attributed || r.attribution.error || t.sent + t.failed + t.bounced + t.expired + t.unknown + t.retried > 0) print(tickSummary(r, false, false));
        if (!stopping) await new Promise<void>((resolve) => {
          // A stop wakes the wait and clears its timer: a pending timer would keep the process alive for the rest of --idle.
          const timer = setTimeout(resolve, idleMs);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    });
    print('stopped after finishing the messages in flight.');
  } finally {
    transport?.close();
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  }
}
