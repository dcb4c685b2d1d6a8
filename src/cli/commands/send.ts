import { printable } from '../../errors.js';
import { createLog } from '../../log.js';
import { sendCampaign } from '../../campaigns/send.js';
import { deliveryTransport, type Transport } from '../../channels/email/transport.js';
import { createProgress } from '../progress.js';
import { batchSize, clockFrom, workerCount } from '../options.js';
import { heraldPath, print, printJson, withDb, type GlobalOptions } from '../context.js';

export default async function send([campaign]: string[], opts: GlobalOptions & { json?: boolean; workers: string; batch?: string; now?: string }): Promise<void> {
  const workers = workerCount(opts.workers);
  const batch = batchSize(opts.batch);
  const clock = clockFrom(opts.now);
  let stopping = false;
  const stop = () => {
    stopping = true;
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  let transport: Transport | undefined;
  try {
    const result = await withDb(opts, async (db) => {
      const tr = (transport = await deliveryTransport(db, heraldPath(opts, 'outbox')));
      const progress = createProgress(db);
      try {
        const runs = await Promise.all(
          // Launching is idempotent: one worker materialises the audience, the others find it launched.
          Array.from({ length: workers }, () =>
            sendCampaign(db, { campaign: campaign!, transport: tr, now: clock(), clock, ...batch, log: createLog(), shouldStop: () => stopping, onBatch: (t) => progress.onBatch(t) }),
          ),
        );
        return runs.reduce((a, b) => ({
          ...a,
          materialised: a.materialised + b.materialised,
          sent: a.sent + b.sent,
          failed: a.failed + b.failed,
          bounced: a.bounced + b.bounced,
          retried: a.retried + b.retried,
          expired: a.expired + b.expired,
          unknown: a.unknown + b.unknown,
          suppressed: a.suppressed + b.suppressed,
          exited: a.exited + b.exited,
          capped: a.capped + b.capped,
          deferred: a.deferred + b.deferred,
          completed: a.completed || b.completed,
          paused: a.paused || b.paused,
          ...(b.retry ?? a.retry ? { retry: b.retry ?? a.retry } : {}),
        }));
      } finally {
        progress.stop();
      }
    });
    if (opts.json) printJson({ campaign, transport: transport?.description, ...result });
    else {
      const r = result;
      print(
        `${campaign}: ${r.sent} sent, ${r.failed} failed${r.bounced ? `, ${r.bounced} bounced` : ''}${r.retried ? `, ${r.retried} to retry` : ''}` +
          `${r.expired ? `, ${r.expired} expired` : ''}${r.unknown ? `, ${r.unknown} unknown` : ''}` +
          `${r.suppressed ? `, ${r.suppressed} suppressed since the audience was drawn` : ''}` +
          `${r.capped ? `, ${r.capped} skipped over the frequency cap` : ''}${r.deferred ? `, ${r.deferred} put off (quiet hours or the frequency cap)` : ''}` +
          `${r.completed ? ', campaign completed' : ''}` +
          `${r.paused ? ', paused by the circuit breaker' : ''} (${transport?.description}).`,
      );
      if (r.retry) {
        const x = r.retry;
        // The server's words: escaped, as they could hold anything.
        print(
          printable(
            `${x.waiting} message${x.waiting === 1 ? '' : 's'} wait${x.waiting === 1 ? 's' : ''} for a retry${x.count < x.waiting ? `, ${x.count} of them after` : ', after'}: ${x.response}`,
          ) + `\nThe first is due at ${x.nextAttemptAt.toISOString()}; \`herald run\` (or \`herald send ${campaign}\` again) retries them then, until delivery.max_age.`,
        );
      }
      if (stopping) print('Stopped on a signal after finishing the messages in flight; `herald send` or `herald run` resumes.');
      else if (r.sent + r.failed + r.bounced + r.retried === 0) print('Nothing due now: every message of this campaign is settled, waiting for its retry, or held by a worker that is still running (or was when the database last restarted: its messages are free again after their 60 s lease).');
    }
  } finally {
    transport?.close();
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  }
}
