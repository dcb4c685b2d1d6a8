import { printable } from '../errors.js';
import type { TickResult } from '../tick/tick.js';
import type { BouncePoll } from '../tick/bounces.js';

/** What one scheduler tick did, as `herald run` and `herald deliver` print it. */
export function tickSummary(r: TickResult, signalled: boolean, overBudget: boolean): string {
  const lines = [
    ...r.launched.map((l) => `launched ${l.campaign}: ${l.rows} in the ledger`),
    ...r.swept
      .filter((w) => w.inserted || w.skippedByHorizon || w.error)
      .map((w) =>
        w.error
          ? `trigger ${w.trigger}: sweep failed: ${printable(w.error)}`
          : `swept ${w.trigger}: ${w.inserted} new${w.skippedByHorizon ? `, ${w.skippedByHorizon} due before it was enabled (back-fill horizon), not sent` : ''}`,
      ),
    ...r.decided.map((d) => `A/B winner of ${d.campaign}: ${d.decision.winner} (${d.decision.reason})`),
    ...(r.bounces ? [bouncesLine(r.bounces)] : []),
  ];
  const t = r.delivered;
  lines.push(
    `delivered: ${t.sent} sent, ${t.retried} to retry, ${t.failed} failed, ${t.bounced} bounced, ${t.expired} expired, ${t.unknown} unknown, ${t.suppressed} suppressed` +
      `${t.capped ? `, ${t.capped} capped` : ''}${t.exited ? `, ${t.exited} exited` : ''}${t.deferred ? `, ${t.deferred} put off (quiet hours or the frequency cap)` : ''}` +
      `${t.completed.length ? `; completed ${t.completed.join(', ')}` : ''}${t.paused.length ? `; paused by the circuit breaker: ${t.paused.join(', ')}` : ''}`,
  );
  if (signalled) lines.push('stopped on a signal after finishing the messages in flight; the next run resumes.');
  else if (overBudget) lines.push('stopped at the end of the budget after finishing the messages in flight; the next run resumes.');
  return lines.join('\n');
}

/** The bounce mailbox's part of the tick; what it names comes from strangers' mail, so it is escaped. */
function bouncesLine(b: BouncePoll): string {
  if ('error' in b) return `bounce mailbox: not read: ${printable(b.error)}`;
  const s = b.summary;
  const r = s.recorded;
  return printable(
    `bounce mailbox ${b.mailbox}: ${b.read} read, ${r.bounce} bounces, ${r.soft_bounce} soft bounces, ${r.complaint} complaints, ${r.unsubscribe} unsubscribes, ${s.suppressed.length} suppressed` +
      `${s.unmatched.length ? `, ${s.unmatched.length} unmatched` : ''}${s.ignored.length ? `, ${s.ignored.length} ignored` : ''}${s.paused.length ? `; paused for complaints: ${s.paused.map((p) => `${p.kind} ${p.name}`).join(', ')}` : ''}`,
  );
}
