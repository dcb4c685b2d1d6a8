import { printable } from '../errors.js';
import type { DayCounts, ReasonCount } from '../ledger/ledger.js';
import { mdCell, mdParagraph, reasonsMarkdown, reasonsText } from './reasons.js';
import { resultsMarkdown, resultsText, type Results } from './results.js';
import { chartsMarkdown, type ChartSeries } from './charts.js';
import type { ChannelFigures } from './outcomes.js';
import { channelsMarkdown } from './report.js';

/** A trigger's report: what its sweeps found and what became of each occurrence, per day and in total. */
export interface TriggerReport {
  kind: 'trigger';
  name: string;
  description: string;
  /** The status in force: the file's, or an override's. */
  status: string;
  /** Why it is paused: the reason given with herald pause. */
  status_reason?: string;
  /** When it was first swept as active (the back-fill horizon's anchor); null before. */
  enabled_at: string | null;
  totals: Omit<DayCounts, 'day'>;
  /** By the day (UTC) an occurrence became due, oldest first; only days with occurrences. */
  days: DayCounts[];
  /** Skipped (capped, exited, suppressed) and put off (deferred), by reason. */
  reasons: ReasonCount[];
  /** What the messages achieved (results.ts); absent before the report reads them. Lift is null: triggers hold out no control group. */
  engagement?: Results['engagement'];
  lift?: Results['lift'];
  /** The figures behind its charts (charts.ts), per hour or day in UTC; absent before the report reads them. */
  series?: ChartSeries;
  /** Per channel, when the trigger sends on more than email. */
  by_channel?: ChannelFigures[];
}

/** Where a trigger stands, as write.ts reads it from the deployed state and its run. */
export interface TriggerState {
  description: string;
  status: string;
  reason?: string;
  enabledAt: Date | null;
}

/** The figures of one day, in the order of DayCounts: occurrences first, then what became of them. */
const COLUMNS = ['occurrences', 'sent', 'capped', 'exited', 'deferred', 'suppressed', 'failed', 'pending'] as const satisfies readonly (keyof Omit<DayCounts, 'day'>)[];

const LABELS: Record<(typeof COLUMNS)[number], string> = {
  occurrences: 'Occurrences',
  sent: 'Sent',
  capped: 'Capped (over the frequency cap)',
  exited: 'Exited (the event went away)',
  deferred: 'Deferred at least once (quiet hours, frequency cap)',
  suppressed: 'Suppressed (no address, no consent, suppressed)',
  failed: 'Failed (failed, bounced, expired, unknown)',
  pending: 'Pending',
};

/** How many days text output shows; the files hold them all. */
const TEXT_DAYS = 14;

export function buildTriggerReport(name: string, state: TriggerState, days: readonly DayCounts[], reasons: readonly ReasonCount[], results?: Results): TriggerReport {
  const totals = Object.fromEntries(COLUMNS.map((k) => [k, days.reduce((n, d) => n + d[k], 0)])) as TriggerReport['totals'];
  return {
    kind: 'trigger',
    name,
    description: state.description,
    status: state.status,
    ...(state.reason && state.status === 'paused' ? { status_reason: state.reason } : {}),
    enabled_at: state.enabledAt?.toISOString() ?? null,
    totals,
    days: days.map((d) => ({ ...d })),
    reasons: [...reasons],
    ...(results ? { engagement: results.engagement, lift: results.lift } : {}),
  };
}

export function triggerReportMarkdown(r: TriggerReport): string {
  // The description is workspace text, as a pull request wrote it: its own paragraph, never markup.
  const description = mdParagraph(r.description.trim());
  return [
    `# Trigger ${r.name}`,
    '',
    ...(description ? [description, ''] : []),
    `${mdCell(statusLine(r))}; ${r.enabled_at ? `enabled ${r.enabled_at}` : 'not yet swept as active'}.`,
    '',
    '| | messages |',
    '|---|---:|',
    ...COLUMNS.map((k) => `| ${LABELS[k]} | ${r.totals[k]} |`),
    '',
    ...channelsMarkdown(r.by_channel),
    ...chartsMarkdown(r.name, r.series),
    ...(r.days.length > 0
      ? [
          '## By day',
          '',
          'The day (UTC) each occurrence became due. Deferred rows are counted again under what became of them.',
          '',
          `| Day | ${COLUMNS.map((k) => k[0]!.toUpperCase() + k.slice(1)).join(' | ')} |`,
          `|---|${COLUMNS.map(() => '---:').join('|')}|`,
          ...r.days.map((d) => `| ${d.day} | ${COLUMNS.map((k) => d[k]).join(' | ')} |`),
          '',
        ]
      : []),
    ...reasonsMarkdown(r.reasons),
    ...(r.engagement ? resultsMarkdown({ engagement: r.engagement, lift: r.lift ?? null }) : []),
  ].join('\n');
}

export function triggerReportText(r: TriggerReport): string {
  const pad = (s: string) => `${s} `.padEnd(12);
  const shown = r.days.slice(-TEXT_DAYS);
  const widths = COLUMNS.map((k) => Math.max(k.length, ...shown.map((d) => String(d[k]).length)));
  return [
    `${r.name} (trigger): ${printable(statusLine(r))}, ${r.enabled_at ? `enabled ${r.enabled_at}` : 'not yet swept as active'}`,
    ...COLUMNS.filter((k) => r.totals[k] > 0 || k === 'occurrences' || k === 'sent' || k === 'pending').map((k) => `  ${pad(k)}${r.totals[k]}`),
    ...(shown.length > 0
      ? [
          `  by day${r.days.length > shown.length ? ` (the last ${shown.length} of ${r.days.length}; the report files have every day)` : ''}:`,
          `    ${'day'.padEnd(10)}  ${COLUMNS.map((k, i) => k.padStart(widths[i]!)).join('  ')}`,
          ...shown.map((d) => `    ${d.day}  ${COLUMNS.map((k, i) => String(d[k]).padStart(widths[i]!)).join('  ')}`),
        ]
      : []),
    ...(r.engagement ? resultsText({ engagement: r.engagement, lift: r.lift ?? null }, pad) : []),
    ...reasonsText(r.reasons),
  ].join('\n');
}

function statusLine(r: TriggerReport): string {
  return r.status_reason ? `${r.status} (${r.status_reason})` : r.status;
}
