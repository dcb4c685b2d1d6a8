import { appendFileSync } from 'node:fs';
import { createLog, type Log } from '../../log.js';
import { retrying } from '../../db/retry.js';
import { tick, type TickResult } from '../../tick/tick.js';
import { finishTick, startTick, tickCounts, type TickStop } from '../../tick/ticks.js';
import { gapWarning } from '../../tick/gap.js';
import { deliveryTransport, type Transport } from '../../channels/email/transport.js';
import { createProgress } from '../progress.js';
import { batchSize, clockFrom, duration, workerCount } from '../options.js';
import { tickMarkdown, tickSummary } from '../tick-summary.js';
import { heraldPath, print, printJson, withDb, type GlobalOptions } from '../context.js';

interface RunOpts extends GlobalOptions {
  budget: string;
  every?: string;
  workers: string;
  batch?: string;
  json?: boolean;
  now?: string;
}

/**
 * `herald run`: the scheduler tick CI calls. It stops claiming before the
 * budget ends (or on SIGTERM), drains what is in flight, and exits 0; the
 * next tick resumes. The budget stops claiming only once a batch has been
 * delivered: a tick whose budget went on starting up or on launching a big
 * audience (a slow runner, a million customers) still moves the send
 * forward, by at most two batches (the one in flight and the one claimed behind it) past its budget, instead of ending with
 * nothing done, tick after tick.
 *
 * Each tick is recorded in herald.ticks (src/tick/ticks.ts), its start
 * before any work, and warns when it started more than twice the schedule's
 * interval (--every) after the previous one. On GitHub Actions
 * ($GITHUB_STEP_SUMMARY set) what it did also goes to the job summary.
 */
export default async function run(_args: string[], opts: RunOpts): Promise<void> {
  const budgetMs = duration(opts.budget, '--budget');
  const everySeconds = opts.every === undefined ? null : duration(opts.every, '--every') / 1000;
  const workers = workerCount(opts.workers);
  const batch = batchSize(opts.batch);
  const clock = clockFrom(opts.now);
  const deadline = Date.now() + budgetMs;
  let stopping = false;
  const stop = () => {
    stopping = true;
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  const log = createLog();
  let transport: Transport | undefined;
  const stopped = (): TickStop => (stopping ? 'signal' : Date.now() >= deadline ? 'budget' : 'done');
  try {
    const { result, how, warning, startedAt } = await withDb(opts, async (db) => {
      const startedAt = clock();
      const started = await retrying(log, () => startTick(db, startedAt, everySeconds));
      const warning = gapWarning(startedAt, started.previous?.startedAt, started.everySeconds);
      // Said at once, so a tick that then fails or is killed has said it.
      if (warning && !opts.json) print(warning);
      let result: TickResult;
      try {
        const tr = (transport = await deliveryTransport(db, heraldPath(opts, 'outbox')));
        const progress = createProgress(db);
        let delivered = false;
        const onBatch = (t: Parameters<typeof progress.onBatch>[0]) => {
          delivered = true;
          progress.onBatch(t);
        };
        try {
          result = await tick(db, { transport: tr, log, workers, ...batch, clock, shouldStop: () => stopping || (delivered && Date.now() >= deadline), onBatch });
        } finally {
          progress.stop();
        }
      } catch (err) {
        jobSummary(log, () => tickMarkdown(undefined, { startedAt, signalled: false, overBudget: false, failed: true, ...(warning ? { warning } : {}) }));
        throw err;
      }
      const how = stopped();
      await retrying(log, () => finishTick(db, started.id, clock(), tickCounts(result, how)));
      return { result, how, warning, startedAt };
    });
    const [signalled, overBudget] = [how === 'signal', how === 'budget'];
    if (opts.json) printJson({ ...result, stopped: how, ...(warning ? { warning } : {}) });
    else print(tickSummary(result, signalled, overBudget));
    jobSummary(log, () => tickMarkdown(result, { startedAt, signalled, overBudget, ...(warning ? { warning } : {}) }));
  } finally {
    transport?.close();
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  }
}

/**
 * Appends to the GitHub Actions job summary when there is one. The tick's
 * work is done and recorded by then: a summary that cannot be written is
 * logged, and does not fail the tick (nor keep the reports from being
 * committed in the workflow's next step).
 */
function jobSummary(log: Log, markdown: () => string): void {
  const file = process.env.GITHUB_STEP_SUMMARY;
  if (!file) return;
  try {
    appendFileSync(file, markdown());
  } catch (err) {
    log.warn({ file, err: (err as Error).message }, 'cannot write the job summary ($GITHUB_STEP_SUMMARY)');
  }
}
