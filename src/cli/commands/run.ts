import { join } from 'node:path';
import { UserError } from '../../errors.js';
import { createLog } from '../../log.js';
import { tick, type TickResult } from '../../send/run.js';
import { deliveryTransport, type Transport } from '../../send/transport.js';
import { createProgress } from '../progress.js';
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
  const budgetMs = budget(opts.budget);
  const workers = count(opts.workers, '--workers');
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
    else print(summary(result, stopping, Date.now() >= deadline));
  } finally {
    transport?.close();
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  }
}

export function summary(r: TickResult, signalled: boolean, overBudget: boolean): string {
  const lines = [
    ...r.launched.map((l) => `launched ${l.campaign}: ${l.rows} in the ledger`),
    ...r.decided.map((d) => `A/B winner of ${d.campaign}: ${d.decision.winner} (${d.decision.reason})`),
  ];
  const t = r.delivered;
  lines.push(
    `delivered: ${t.sent} sent, ${t.retried} to retry, ${t.failed} failed, ${t.bounced} bounced, ${t.expired} expired, ${t.unknown} unknown, ${t.suppressed} suppressed` +
      `${t.completed.length ? `; completed ${t.completed.join(', ')}` : ''}${t.paused.length ? `; paused by the circuit breaker: ${t.paused.join(', ')}` : ''}`,
  );
  if (signalled) lines.push('stopped on a signal after finishing the messages in flight; the next run resumes.');
  else if (overBudget) lines.push('stopped at the end of the budget after finishing the messages in flight; the next run resumes.');
  return lines.join('\n');
}

function budget(text: string): number {
  const m = /^(\d+)(s|m|h)$/.exec(text);
  if (!m) throw new UserError(`--budget ${text} is not a duration`, 'write it as 90s, 8m or 1h');
  return Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 's' | 'm' | 'h'];
}

export function count(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new UserError(`${flag} ${text} is not a number of workers`, 'give a whole number from 1 to 64');
  return n;
}

