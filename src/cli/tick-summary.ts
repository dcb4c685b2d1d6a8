import { printable } from '../errors.js';
import type { TickResult } from '../tick/tick.js';
import type { BouncePoll } from '../tick/bounces.js';

/** What one scheduler tick did, as `herald run` and `herald deliver` print it. */
export function tickSummary(r: TickResult, signalled: boolean, overBudget: boolean): string {
  return tickLines(r, signalled, overBudget).join('\n');
}

/**
 * The same, for a GitHub Actions job summary ($GITHUB_STEP_SUMMARY): a
 * heading with the tick's start, the schedule's warning on top, then one
 * list item per line. Every line is escaped: it names campaigns and carries
 * error text and what a bounce mailbox held, and must show as text, never
 * as a link, an image or HTML.
 */
export function tickMarkdown(r: TickResult | undefined, o: { startedAt: Date; signalled: boolean; overBudget: boolean; warning?: string; failed?: boolean }): string {
  const lines = r ? tickLines(r, o.signalled, o.overBudget) : [];
  return [
    `### herald run, ${o.startedAt.toISOString().replace(/\.\d{3}Z$/, 'Z')}`,
    '',
    ...(o.warning ? [`> ⚠️ ${mdText(o.warning)}`, ''] : []),
    ...(o.failed ? ['**The tick failed**: the job log has the error. What it did before is recorded; the next tick resumes.', ''] : []),
    ...lines.map((l) => `- ${mdText(l)}`),
    '',
  ].join('\n');
}

/** Text in Markdown: shown as written, never markup, one line. */
export function mdText(text: string): string {
  return printable(text)
    .replace(/[\\`*_[\]|<>&#~]/g, (c) => (c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '&' ? '&amp;' : `\\${c}`))
    .replace(/^([-+])|^(\d+)([.)])/, (_m, sign: string | undefined, n: string, dot: string) => (sign ? `\\${sign}` : `${n}\\${dot}`));
}

function tickLines(r: TickResult, signalled: boolean, overBudget: boolean): string[] {
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
    ...(r.attribution.error
      ? [`attribution failed: ${printable(r.attribution.error)}`]
      : r.attribution.attributed
        ? [`attributed ${r.attribution.attributed} order${r.attribution.attributed === 1 ? '' : 's'} to messages`]
        : []),
  ];
  const t = r.delivered;
  lines.push(
    `delivered: ${t.sent} sent, ${t.retried} to retry, ${t.failed} failed, ${t.bounced} bounced, ${t.expired} expired, ${t.unknown} unknown, ${t.suppressed} suppressed` +
      `${t.capped ? `, ${t.capped} capped` : ''}${t.exited ? `, ${t.exited} exited` : ''}${t.deferred ? `, ${t.deferred} put off (quiet hours or the frequency cap)` : ''}` +
      `${t.completed.length ? `; completed ${t.completed.join(', ')}` : ''}${t.paused.length ? `; paused by the circuit breaker: ${t.paused.join(', ')}` : ''}`,
  );
  if (signalled) lines.push('stopped on a signal after finishing the messages in flight; the next run resumes.');
  else if (overBudget) lines.push('stopped at the end of the budget after finishing the messages in flight; the next run resumes.');
  return lines;
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
