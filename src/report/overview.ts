import type { Report } from './report.js';
import type { TriggerReport } from './trigger.js';
import { mdCell } from './reasons.js';
import { amounts } from './results.js';

/**
 * The summary over all mailings, reports/index.json and .md: totals at the
 * top, then one row per campaign and trigger, newest first. Pure: built from
 * the reports themselves (write.ts reads them) and each source's subject and
 * sending dates, so every figure here is the one its own report shows.
 *
 * Nothing in it depends on when it was written: the same ledger gives the
 * same bytes, so a scheduled job that commits it commits nothing new when
 * nothing happened.
 */
/** What a set of messages achieved, as the overview counts it: a row's, and the totals over all rows. */
export interface Figures {
  sent: number;
  delivered: number;
  /** Messages opened and clicked by a person (not Apple Mail Privacy Protection, not scanners). */
  opened: number;
  clicked: number;
  orders: number;
  /** By currency (ISO 4217): amounts in different currencies are never added. */
  order_value: Record<string, number>;
}

export interface OverviewRow extends Figures {
  kind: 'campaign' | 'trigger';
  name: string;
  title: string;
  /** The template's subject, in the first site's default language; absent when the template is not deployed. */
  subject: string | null;
  status: string;
  /** When its first and last messages went out (ISO 8601), null before any did. */
  first_sent: string | null;
  last_sent: string | null;
  recipients: number;
  /** The lift's one sentence, and whether conversion beat the control group significantly; null without a control group. */
  lift: { summary: string; significant: boolean; complete: boolean } | null;
}

export interface Overview {
  /** With `mailings`: the campaigns launched and triggers that sent anything. */
  totals: Figures & { mailings: number };
  rows: OverviewRow[];
}

export interface SourceFacts {
  subject: string | null;
  firstSent: Date | null;
  lastSent: Date | null;
}

export function overviewRow(r: Report | TriggerReport, facts: SourceFacts): OverviewRow {
  const e = r.engagement;
  const common = {
    subject: facts.subject,
    first_sent: facts.firstSent?.toISOString() ?? null,
    last_sent: facts.lastSent?.toISOString() ?? null,
    delivered: e?.delivered ?? 0,
    opened: e?.opened.human ?? 0,
    clicked: e?.clicked.human ?? 0,
    orders: e?.orders ?? 0,
    order_value: e?.order_value ?? {},
    lift: r.lift ? { summary: r.lift.summary, significant: r.lift.conversion.significant, complete: r.lift.complete } : null,
  };
  if ('kind' in r) {
    const sent = r.totals.sent;
    return { kind: 'trigger', name: r.name, title: r.description || r.name, status: r.status, recipients: sent, sent, ...common };
  }
  return { kind: 'campaign', name: r.campaign, title: r.title, status: r.status, recipients: r.recipients, sent: r.sent + r.bounced, ...common };
}

/** Rows newest first (by the last message sent; never-sent ones last, by name), with their totals. */
export function buildOverview(rows: readonly OverviewRow[]): Overview {
  const sorted = [...rows].sort((a, b) => (b.last_sent ?? '').localeCompare(a.last_sent ?? '') || a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name));
  const sum = (f: (r: OverviewRow) => number) => rows.reduce((n, r) => n + f(r), 0);
  const value: Record<string, number> = {};
  for (const r of rows) for (const [c, v] of Object.entries(r.order_value)) value[c] = (value[c] ?? 0) + v;
  return {
    totals: {
      mailings: rows.filter((r) => r.sent > 0).length,
      sent: sum((r) => r.sent),
      delivered: sum((r) => r.delivered),
      opened: sum((r) => r.opened),
      clicked: sum((r) => r.clicked),
      orders: sum((r) => r.orders),
      order_value: Object.fromEntries(Object.entries(value).sort(([a], [b]) => a.localeCompare(b))),
    },
    rows: sorted,
  };
}

const pct = (n: number, of: number) => (of ? ` (${((100 * n) / of).toFixed(1)}%)` : '');
const day = (iso: string | null) => (iso ? iso.slice(0, 10) : '–');

export function overviewMarkdown(o: Overview): string {
  const t = o.totals;
  const link = (r: OverviewRow) => (r.kind === 'campaign' ? `[${mdCell(r.name)}](${r.name}.md)` : `[${mdCell(r.name)}](triggers/${r.name}.md)`);
  const dates = (r: OverviewRow) => (r.first_sent ? (day(r.first_sent) === day(r.last_sent) ? day(r.first_sent) : `${day(r.first_sent)} – ${day(r.last_sent)}`) : '–');
  const lift = (r: OverviewRow) => (r.lift ? `${r.lift.significant ? '**' : ''}${mdCell(r.lift.summary)}${r.lift.significant ? '**' : ''}${r.lift.complete ? '' : ' (window open)'}` : '–');
  return [
    '# All mailings',
    '',
    `${t.mailings} mailing${t.mailings === 1 ? '' : 's'}: ${t.sent} messages sent, ${t.delivered} delivered, opened by ${t.opened}${pct(t.opened, t.delivered)} and clicked by ${t.clicked}${pct(t.clicked, t.delivered)} people; ${t.orders} orders attributed, worth ${amounts(t.order_value)}.`,
    '',
    'Opened and clicked count people, not Apple Mail Privacy Protection or security scanners. Newest first; each name links to its report.',
    '',
    '| | Name | Subject | Status | Sent on | Recipients | Sent | Delivered | Opened | Clicked | Orders | Value | Lift |',
    '|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|',
    ...o.rows.map(
      (r) =>
        `| ${r.kind} | ${link(r)} | ${mdCell(r.subject ?? r.title)} | ${mdCell(r.status)} | ${dates(r)} | ${r.recipients} | ${r.sent} | ${r.delivered} | ${r.opened}${pct(r.opened, r.delivered)} | ${r.clicked}${pct(r.clicked, r.delivered)} | ${r.orders} | ${amounts(r.order_value)} | ${lift(r)} |`,
    ),
    '',
  ].join('\n');
}
