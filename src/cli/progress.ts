import cliProgress from 'cli-progress';
import type { Db } from '../db/db.js';
import type { DeliverTotals } from '../ledger/worker.js';
import { pendingMessages } from '../ledger/runs.js';

/**
 * Delivery progress on stderr: a bar with rate and ETA on a terminal, a line
 * every few seconds in CI logs. The total is what was left to send when
 * delivery began (queued, claimed and waiting rows of the campaigns sending).
 */
export interface Progress {
  onBatch(t: DeliverTotals): void;
  stop(): void;
}

const LINE_EVERY_MS = 5000;

export function createProgress(db: Db): Progress {
  const started = Date.now();
  let total: number | undefined;
  let asked = false;
  let lastLine = 0;
  const tty = !!process.stderr.isTTY;
  const bar = tty
    ? new cliProgress.SingleBar(
        { format: 'sending {bar} {value}/{total} | {rate}/s | ETA {eta_formatted}', stream: process.stderr, hideCursor: true, etaBuffer: 50 },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  const done = (t: DeliverTotals) => t.sent + t.failed + t.bounced + t.expired + t.unknown + t.suppressed;
  return {
    onBatch(t) {
      if (!asked) {
        asked = true;
        pendingMessages(db)
          .then((n) => {
            total = n + done(t);
            bar?.start(total, done(t), { rate: 0 });
          })
          .catch(() => {});
      }
      const n = done(t);
      const seconds = (Date.now() - started) / 1000;
      const rate = seconds > 0 ? Math.round(n / seconds) : 0;
      if (bar) {
        if (total !== undefined) bar.update(Math.min(n, total), { rate });
        return;
      }
      if (Date.now() - lastLine < LINE_EVERY_MS) return;
      lastLine = Date.now();
      const eta = total !== undefined && rate > 0 ? `, ETA ${Math.ceil((total - n) / rate)}s` : '';
      process.stderr.write(`sending: ${n}${total !== undefined ? `/${total}` : ''} done (${t.sent} sent, ${t.retried} to retry), ${rate}/s${eta}\n`);
    },
    stop() {
      bar?.stop();
    },
  };
}
