import { printable } from '../errors.js';
import { escapedText, type LeftOutProduct } from '../render/products.js';
import type { LedgerCounts, ReasonCount } from '../ledger/ledger.js';
import type { StoredDecision } from '../campaigns/winner.js';
import { mdCell, reasonsMarkdown, reasonsText } from './reasons.js';
import { resultsMarkdown, resultsText, type Results } from './results.js';
import { chartsMarkdown, type ChartSeries } from './charts.js';
import type { ChannelFigures } from './outcomes.js';

export type ReportStatus = 'not started' | 'sending' | 'paused' | 'cancelled' | 'completed';

/** Where a campaign's run stands: its phase in the ledger and the status in force (an override's, else its file's). */
export interface RunState {
  phase: 'sending' | 'completed' | undefined;
  inForce: string;
  reason?: string;
}

/** A campaign's report: a plain value built from ledger counts and its A/B decision. */
export interface Report {
  campaign: string;
  title: string;
  status: ReportStatus;
  /** Why it is paused or cancelled: the reason given with herald pause or cancel, or the circuit breaker's. */
  status_reason?: string;
  /** Everyone the audience held when the campaign launched. */
  audience: number;
  /** Held out to measure the campaign's effect (control_group); never sent. */
  control: number;
  /** Could not be written to when the audience was drawn: no usable address, no consent, suppressed. */
  left_out: number;
  /** The messages the campaign sends: the audience less the control group and those left out. */
  recipients: number;
  sent: number;
  failed: number;
  /** Hard bounces (5xx x.1.x); their addresses are now suppressed. */
  bounced: number;
  /** Still failing (4xx, dropped connections) after delivery.max_age. */
  expired: number;
  /** No reply after the whole message was sent: perhaps delivered, never resent. */
  unknown: number;
  /** Found suppressed (unsubscribed, bounced) after the audience was drawn; not sent. */
  suppressed: number;
  /** Over the frequency cap when a worker took it (when_capped: skip, a campaign's default); not sent. */
  capped: number;
  /** Queued, being sent, or waiting for a retry or for the A/B winner. */
  pending: number;
  /**
   * Put off at least once by quiet hours or the frequency cap (when_capped:
   * defer), whatever happened next: most are sent later, and counted there too.
   */
  deferred: number;
  /** Skipped at claim time (capped, suppressed) and put off (deferred), by reason. */
  reasons: ReasonCount[];
  /**
   * The campaign's products its messages leave out: a link that is not
   * http(s) on the sites' domains, or an image off them (checked against the
   * shop's data as the report is built; a send checks it as it starts).
   */
  products_left_out: LeftOutProduct[];
  /** Per channel, when the campaign sends on more than email. */
  by_channel?: ChannelFigures[];
  /** What the messages achieved: engagement from their events, lift against the control group (results.ts); absent before the report reads them. */
  engagement?: Results['engagement'];
  lift?: Results['lift'];
  /** The figures behind its charts (charts.ts), per hour or day in UTC; absent before the report reads them. */
  series?: ChartSeries;
  ab?: {
    metric: string;
    winner: string;
    significant: boolean;
    p_value: number | null;
    reason: string;
    decided_at: string;
    figures: StoredDecision['figures'];
  };
}

export function buildReport(
  campaign: string,
  title: string,
  run: RunState,
  counts: LedgerCounts,
  decision?: StoredDecision,
  productsLeftOut: readonly LeftOutProduct[] = [],
  reasons: readonly ReasonCount[] = [],
  results?: Results,
): Report {
  const status = reportStatus(run);
  return {
    campaign,
    title,
    status,
    ...((status === 'paused' || status === 'cancelled') && run.reason ? { status_reason: run.reason } : {}),
    audience: counts.audience,
    control: counts.control,
    left_out: counts.left_out,
    recipients: counts.recipients,
    sent: counts.sent,
    failed: counts.failed,
    bounced: counts.bounced,
    expired: counts.expired,
    unknown: counts.unknown,
    suppressed: counts.suppressed,
    capped: counts.capped,
    pending: counts.queued + counts.claimed + counts.waiting,
    deferred: counts.deferred,
    reasons: [...reasons],
    products_left_out: [...productsLeftOut],
    ...(results ? { engagement: results.engagement, lift: results.lift } : {}),
    ...(decision
      ? {
          ab: {
            metric: decision.metric,
            winner: decision.winner,
            significant: decision.significant,
            p_value: decision.p_value,
            reason: decision.reason,
            decided_at: new Date(decision.decided_at).toISOString(),
            figures: decision.figures,
          },
        }
      : {}),
  };
}

function reportStatus(run: RunState): ReportStatus {
  if (!run.phase) return 'not started';
  if (run.phase === 'completed') return 'completed';
  return run.inForce === 'paused' || run.inForce === 'cancelled' ? run.inForce : 'sending';
}

/** The outcome rows: label and count, in the order a reader follows a message. */
function outcomes(r: Report): [string, number][] {
  return [
    ['Sent', r.sent],
    ['Failed', r.failed],
    ['Bounced', r.bounced],
    ['Expired', r.expired],
    ['Unknown', r.unknown],
    ['Suppressed', r.suppressed],
    ['Capped', r.capped],
    [r.status === 'cancelled' ? 'Not sent (cancelled)' : 'Pending', r.pending],
  ];
}

export function reportMarkdown(r: Report): string {
  const pct = (n: number) => (r.recipients ? ` (${((100 * n) / r.recipients).toFixed(1)}%)` : '');
  const lines = [
    `# ${mdCell(r.title)}`,
    '',
    `Campaign \`${r.campaign}\` — ${mdCell(statusLine(r))}.`,
    '',
    '| | messages |',
    '|---|---:|',
    `| Audience | ${r.audience} |`,
    `| Control group (held out) | ${r.control} |`,
    `| Left out (no address, no consent, suppressed) | ${r.left_out} |`,
    `| Recipients | ${r.recipients} |`,
    ...outcomes(r).map(([label, n]) => `| ${label} | ${n}${pct(n)} |`),
    '',
    ...(r.deferred > 0 ? [`${r.deferred} message${r.deferred === 1 ? ' was' : 's were'} put off at least once by quiet hours or the frequency cap.`, ''] : []),
    ...channelsMarkdown(r.by_channel),
    ...chartsMarkdown(r.campaign, r.series),
    ...reasonsMarkdown(r.reasons),
    ...(r.engagement ? resultsMarkdown({ engagement: r.engagement, lift: r.lift ?? null }) : []),
  ];
  if (r.products_left_out.length > 0) {
    lines.push(
      '## Products left out',
      '',
      "The shop's data for these products is not fit to send, so no message shows them.",
      '',
      '| Product | Why |',
      '|---|---|',
      ...r.products_left_out.map((p) => `| ${mdCell(p.sku)} | ${mdCell(p.reason)} |`),
      '',
    );
  }
  if (r.ab) {
    lines.push(
      `## A/B test: ${r.ab.winner} won`,
      '',
      `${r.ab.reason}. Decided ${r.ab.decided_at} on ${r.ab.metric}${r.ab.metric === 'opens' || r.ab.metric === 'clicks' ? ' by people (machine opens and clicks left out)' : ''}${r.ab.significant ? '' : ' (no significant difference: the fallback)'}.`,
      '',
      '| Variant | Sent | Converted | Rate |',
      '|---|---:|---:|---:|',
      ...r.ab.figures.map((f) => `| ${f.variant} | ${f.sent} | ${f.converted} | ${(100 * f.rate).toFixed(1)}% |`),
      '',
    );
  }
  return lines.join('\n');
}

export function reportText(r: Report): string {
  // A label longer than the column ("not sent (cancelled)") still gets its space.
  const pad = (s: string) => `${s} `.padEnd(11);
  return [
    `${lineStart(r.title)} (${r.campaign}): ${printable(statusLine(r))}`,
    `  ${pad('audience')}${r.audience} (control ${r.control}, left out ${r.left_out})`,
    `  ${pad('recipients')}${r.recipients}`,
    ...outcomes(r)
      .filter(([label, n]) => n > 0 || ['Sent', 'Failed', 'Pending'].includes(label))
      .map(([label, n]) => `  ${pad(label.toLowerCase())}${n}`),
    ...(r.deferred > 0 ? [`  ${pad('deferred')}${r.deferred} (put off at least once: quiet hours, frequency cap)`] : []),
    ...(r.by_channel ? [`  ${pad('channels')}${r.by_channel.map((c) => `${c.channel} ${c.sent} sent, ${c.delivered} delivered, ${c.opened} opened`).join('; ')}`] : []),
    ...(r.engagement ? resultsText({ engagement: r.engagement, lift: r.lift ?? null }, pad) : []),
    ...(r.products_left_out.length > 0 ? [`  ${pad('products')}${r.products_left_out.length} left out (${r.products_left_out.map((p) => escapedText(p.sku)).join(', ')})`] : []),
    ...(r.ab ? [`  A/B winner ${r.ab.winner}: ${r.ab.reason}`] : []),
    ...reasonsText(r.reasons),
  ].join('\n');
}

/** The "By channel" section; nothing for an email-only campaign. */
export function channelsMarkdown(rows: readonly ChannelFigures[] | undefined): string[] {
  if (!rows?.length) return [];
  return [
    '## By channel',
    '',
    'Opened and clicked: by people; a push notification tapped counts as opened and clicked.',
    '',
    '| Channel | Recipients | Sent | Delivered | Failed | Bounced | Opened | Clicked | Orders |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map((c) => `| ${mdCell(c.channel)} | ${c.recipients} | ${c.sent} | ${c.delivered} | ${c.failed} | ${c.bounced} | ${c.opened} | ${c.clicked} | ${c.orders} |`),
    '',
  ];
}

/**
 * A value that starts a line of text output: printable (no line break, no
 * escape sequence), and never with `::`, which GitHub Actions reads from a
 * job's log as a workflow command (`::error::…` forges an annotation).
 */
function lineStart(s: string): string {
  return printable(s).replace(/^(\s*):/, '$1\\x3a');
}

function statusLine(r: Report): string {
  return r.status_reason ? `${r.status} (${r.status_reason})` : r.status;
}
