import { lift, liftSentence, type GroupFigures, type Lift } from './lift.js';
import type { Engagement, LiftCounts } from './outcomes.js';

/**
 * What a campaign's or trigger's messages achieved, the part of every report
 * after the ledger's figures: engagement (from the events on its messages)
 * and lift against the control group. Pure, like the reports: the caller
 * queries (outcomes.ts) and passes the counts in.
 */

/** A group's figures as reported: its revenue only when the orders are in one currency. */
export type ReportGroup = Omit<GroupFigures, 'revenue' | 'revenue_per_member'> & { revenue: number | null; revenue_per_member: number | null };

export interface LiftReport extends Omit<Lift, 'recipients' | 'control' | 'revenue_per_recipient'> {
  recipients: ReportGroup;
  control: ReportGroup;
  /** Null when the orders came in several currencies: sums of EUR and RUB compare nothing. */
  revenue_per_recipient: Lift['revenue_per_recipient'] | null;
  /** The currency of the revenue figures (null: several, or no orders). */
  currency: string | null;
  /** When the last member's attribution window closes; until then (complete: false) the figures can still grow. */
  window_closes_at: string | null;
  complete: boolean;
  /** One sentence: the difference with its interval, or "not significant" and what the groups could have detected. */
  summary: string;
}

export interface Results {
  engagement: Engagement;
  /** Null without a control group (or before anything was sent). */
  lift: LiftReport | null;
}

export function buildResults(e: Engagement, counts: LiftCounts, now: Date): Results {
  const l = lift(counts.recipients, counts.control);
  if (!l) return { engagement: e, lift: null };
  const closes = counts.windowClosesAt;
  const mixed = counts.currencies.length > 1;
  const noRevenue = (g: GroupFigures): ReportGroup => ({ ...g, revenue: null, revenue_per_member: null });
  const revenue = mixed
    ? { recipients: noRevenue(l.recipients), control: noRevenue(l.control), revenue_per_recipient: null, currency: null }
    : { currency: counts.currencies[0] ?? null };
  return {
    engagement: e,
    lift: {
      ...l,
      ...revenue,
      window_closes_at: closes?.toISOString() ?? null,
      complete: !closes || closes.getTime() <= now.getTime(),
      summary: liftSentence(l) + (mixed ? `; revenue not compared: orders in ${counts.currencies.join(' and ')}` : ''),
    },
  };
}

/** An amount per currency, as people read it: "5431.00 EUR + 120000.00 RUB"; "0.00" for none. */
export function amounts(byCurrency: Record<string, number>): string {
  const parts = Object.entries(byCurrency).map(([c, v]) => `${money(v)} ${c}`);
  return parts.length ? parts.join(' + ') : money(0);
}

const pct = (n: number, of: number) => (of ? ` (${((100 * n) / of).toFixed(1)}%)` : '');
const money = (x: number) => x.toFixed(2);
const pp = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(2)} pp`;
const signed = (x: number) => `${x >= 0 ? '+' : ''}${money(x)}`;

export function resultsMarkdown(r: Results): string[] {
  const e = r.engagement;
  const lines = [
    '## After sending',
    '',
    'Messages, not events: five opens of one message are one. Human: made by a person; total adds Apple Mail Privacy Protection and security scanners, which open and click everything. Rates are of delivered messages.',
    '',
    '| | messages |',
    '|---|---:|',
    `| Sent (accepted by the receiving server) | ${e.sent} |`,
    `| Delivered (no bounce reported since) | ${e.delivered} |`,
    `| Bounced after sending | ${e.bounced_after_send} |`,
    `| Opened by a person | ${e.opened.human}${pct(e.opened.human, e.delivered)} |`,
    `| Opened (total) | ${e.opened.total}${pct(e.opened.total, e.delivered)} |`,
    `| Clicked by a person | ${e.clicked.human}${pct(e.clicked.human, e.delivered)} |`,
    `| Clicked (total) | ${e.clicked.total}${pct(e.clicked.total, e.delivered)} |`,
    `| Unsubscribed | ${e.unsubscribed}${pct(e.unsubscribed, e.delivered)} |`,
    `| Complained | ${e.complained}${pct(e.complained, e.delivered)} |`,
    `| Orders attributed | ${e.orders} |`,
    `| Order value | ${amounts(e.order_value)} |`,
    '',
  ];
  const l = r.lift;
  if (!l) return [...lines, 'No lift: no control group was held out.', ''];
  const ci = (i: { low: number; high: number } | null, f: (x: number) => string) => (i ? `${f(i.low)} to ${f(i.high)}` : 'n/a');
  const conv = (g: ReportGroup) => `${g.converted} of ${g.n}, ${(100 * g.rate).toFixed(2)}% (${(100 * g.rate_interval.low).toFixed(2)}–${(100 * g.rate_interval.high).toFixed(2)}%)`;
  const rev = l.revenue_per_recipient;
  return [
    ...lines,
    '## Lift against the control group',
    '',
    `${l.conversion.significant ? '' : '**Not significant.** '}${capital(l.summary)}.${l.complete ? '' : ` The attribution window is still open until ${l.window_closes_at}: figures can still grow.`}`,
    '',
    'Orders placed within the attribution window after the message was sent (control: after the launch), from the shop\'s orders; 95% intervals.',
    '',
    '| | Recipients | Control | Difference | 95% interval | Detectable (80% power) |',
    '|---|---:|---:|---:|---|---:|',
    `| Ordered | ${conv(l.recipients)} | ${conv(l.control)} | ${pp(l.conversion.difference)} | ${ci(l.conversion.interval, pp)} | ${l.conversion.mde === null ? 'n/a' : `${(100 * l.conversion.mde).toFixed(2)} pp`} |`,
    rev
      ? `| Revenue per member${l.currency ? ` (${l.currency})` : ''} | ${money(l.recipients.revenue_per_member ?? 0)} | ${money(l.control.revenue_per_member ?? 0)} | ${signed(rev.difference)} | ${ci(rev.interval, signed)}${rev.significant ? '' : ' (not significant)'} | ${rev.mde === null ? 'n/a' : money(rev.mde)} |`
      : '| Revenue per member | not compared: orders in several currencies | | | | |',
    '',
  ];
}

export function resultsText(r: Results, pad: (s: string) => string): string[] {
  const e = r.engagement;
  return [
    `  ${pad('delivered')}${e.delivered}${e.bounced_after_send ? ` (${e.bounced_after_send} bounced after sending)` : ''}`,
    `  ${pad('opened')}${e.opened.human} by people, ${e.opened.total} in all`,
    `  ${pad('clicked')}${e.clicked.human} by people, ${e.clicked.total} in all`,
    ...(e.unsubscribed || e.complained ? [`  ${pad('unsubscribed')}${e.unsubscribed}, complained ${e.complained}`] : []),
    `  ${pad('orders')}${e.orders} attributed, value ${amounts(e.order_value)}`,
    ...(r.lift ? [`  ${pad('lift')}${r.lift.summary}${r.lift.complete ? '' : ' (window still open)'}`] : []),
  ];
}

const capital = (s: string) => s[0]!.toUpperCase() + s.slice(1);
