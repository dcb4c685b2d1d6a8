import type { LedgerCounts } from '../send/ledger.js';

/** A campaign's report: a plain value built from ledger counts. */
export interface Report {
  campaign: string;
  title: string;
  status: 'not started' | 'sending' | 'completed';
  recipients: number;
  sent: number;
  failed: number;
  /** Rows whose address was suppressed (unsubscribed, bounced) after the audience was drawn. */
  suppressed: number;
  pending: number;
}

export function buildReport(
  campaign: string,
  title: string,
  phase: 'sending' | 'completed' | undefined,
  counts: LedgerCounts,
): Report {
  return {
    campaign,
    title,
    status: phase ?? 'not started',
    recipients: counts.recipients,
    sent: counts.sent,
    failed: counts.failed,
    suppressed: counts.suppressed,
    pending: counts.queued + counts.claimed,
  };
}

export function reportMarkdown(r: Report): string {
  const pct = (n: number) => (r.recipients ? ` (${((100 * n) / r.recipients).toFixed(1)}%)` : '');
  return [
    `# ${r.title}`,
    '',
    `Campaign \`${r.campaign}\` — ${r.status}.`,
    '',
    '| | messages |',
    '|---|---:|',
    `| Recipients | ${r.recipients} |`,
    `| Sent | ${r.sent}${pct(r.sent)} |`,
    `| Failed | ${r.failed}${pct(r.failed)} |`,
    `| Suppressed | ${r.suppressed}${pct(r.suppressed)} |`,
    `| Pending | ${r.pending}${pct(r.pending)} |`,
    '',
  ].join('\n');
}

export function reportText(r: Report): string {
  return [
    `${r.title} (${r.campaign}): ${r.status}`,
    `  recipients ${r.recipients}`,
    `  sent       ${r.sent}`,
    `  failed     ${r.failed}`,
    `  suppressed ${r.suppressed}`,
    `  pending    ${r.pending}`,
  ].join('\n');
}
