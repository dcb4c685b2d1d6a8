import { scaleLinear, scaleUtc } from 'd3-scale';
import { area, line } from 'd3-shape';
import { figure, isoDay, PLOT, STEP_MS, svgDocument, timeAxis, timeLabel, valueAxis, px, type LegendItem, type Step } from './svg.js';

/**
 * A report's charts, committed beside it as SVG: what its messages did over
 * time (sent, opened and clicked by people) and the orders per day (the
 * recipients against the control group, or those attributed). Pure: series
 * in (series.ts queries them), SVG text out, the same bytes for the same
 * series on any machine (svg.ts).
 */

/** One bucket (an hour or a day, UTC) of a source's messages: sent in it, first opened and first clicked by a person in it. */
export interface ActivityBucket {
  /** The bucket's start, ISO 8601 in UTC: "2026-11-20T00:00:00Z". */
  at: string;
  sent: number;
  opened: number;
  clicked: number;
}

/** Orders per day (UTC): those attributed to the messages, or, with a control group, each group's orders within its members' windows. */
export type OrdersSeries =
  | { by: 'attributed'; days: { day: string; orders: number }[] }
  | {
      by: 'group';
      /** The groups' sizes: their members who are customers (lift's n), to compare per 1,000 members. */
      recipients: number;
      control: number;
      days: { day: string; recipients: number; control: number }[];
    };

/** The figures behind a report's charts (the report's `series`): only buckets and days with something in them, oldest first. */
export interface ChartSeries {
  /** The activity's bucket: an hour when everything happened within three days, else a day. */
  step: Step;
  activity: ActivityBucket[];
  orders: OrdersSeries;
}

export type ChartKind = 'activity' | 'orders';
export const CHART_KINDS: readonly ChartKind[] = ['activity', 'orders'];

/** A chart of a report: its file, beside the report's .md, and what it shows (the image's alt text). */
export interface ChartRef {
  kind: ChartKind;
  file: string;
  alt: string;
}

/** Beyond this many buckets a line has no dots: they would run together. */
const MAX_DOTS = 62;

/** The file of a report's chart: <name>.activity.svg, <name>.orders.svg. */
export function chartFile(name: string, kind: ChartKind): string {
  return `${name}.${kind}.svg`;
}

/** The charts a report has: both once anything was sent, none before. */
export function chartsFor(name: string, series: ChartSeries | undefined): ChartRef[] {
  if (!series?.activity.some((b) => b.sent > 0)) return [];
  return CHART_KINDS.map((kind) => ({ kind, file: chartFile(name, kind), alt: chartName(kind, series) }));
}

function chartName(kind: ChartKind, s: ChartSeries): string {
  if (kind === 'activity') return `Sends, opens and clicks per ${s.step}`;
  return s.orders.by === 'group' ? 'Orders per day per 1,000 members, recipients and control group' : 'Orders attributed per day';
}

/** The report's "Over time" section: its charts (chartsFor) as images beside it; nothing without charts. */
export function chartsMarkdown(name: string, series: ChartSeries | undefined): string[] {
  const charts = chartsFor(name, series);
  if (charts.length === 0 || !series) return [];
  return [
    '## Over time',
    '',
    `Opens and clicks by people, each message counted once: when it was first opened, first clicked. ${
      series.orders.by === 'group'
        ? "Orders: the shop's orders from each group's customers within their attribution window, as lift counts them, per 1,000 customers in the group so a smaller control group compares."
        : 'Orders: those attributed to these messages.'
    } Hours and days in UTC.`,
    '',
    ...charts.flatMap((c) => [`![${c.alt}](${encodeURIComponent(c.file)})`, '']),
  ];
}

/** The SVG of one chart; `subject` (the campaign's title, the trigger's name) heads it. */
export function chartSvg(kind: ChartKind, subject: string, series: ChartSeries): string {
  const title = `${chartName(kind, series)} — ${subject}`;
  return kind === 'activity' ? activitySvg(title, series) : ordersSvg(title, series);
}

interface Point extends Omit<ActivityBucket, 'at'> {
  t: number;
}

const SERIES = [
  { key: 'sent', label: 'Sent' },
  { key: 'opened', label: 'Opened by a person' },
  { key: 'clicked', label: 'Clicked by a person' },
] as const;

function activitySvg(title: string, s: ChartSeries): string {
  const ms = STEP_MS[s.step];
  const points = filled(s.activity, ms);
  const first = points[0]!.t;
  const last = points[points.length - 1]!.t;
  // One bucket alone gets a step of room on either side.
  const x = scaleUtc()
    .domain(first === last ? [first - ms, last + ms] : [first, last])
    .range([PLOT.left, PLOT.right]);
  const y = scaleLinear()
    .domain([0, Math.max(1, ...points.map((p) => Math.max(p.sent, p.opened, p.clicked)))])
    .range([PLOT.bottom, PLOT.top])
    .nice();
  const at = (p: Point) => x(p.t);
  const body = [...valueAxis(y, true), ...timeAxis(x, s.step)];
  body.push(`<path class="area sent" d="${area<Point>().x(at).y0(y(0)).y1((p) => y(p.sent)).digits(2)(points)}"/>`);
  for (const { key } of SERIES) body.push(`<path class="line ${key}" d="${line<Point>().x(at).y((p) => y(p[key])).digits(2)(points)}"/>`);
  if (points.length <= MAX_DOTS) {
    for (const { key } of SERIES) for (const p of points) body.push(`<circle class="dot ${key}" cx="${px(at(p))}" cy="${px(y(p[key]))}" r="2.5"/>`);
  }
  const total = (k: (typeof SERIES)[number]['key']) => figure(points.reduce((n, p) => n + p[k], 0));
  const busiest = points.reduce((a, b) => (b.sent > a.sent ? b : a));
  const when = (t: number) => (s.step === 'hour' ? new Date(t).toISOString().slice(0, 16).replace('T', ' ') : isoDay(new Date(t)));
  return svgDocument({
    title,
    desc:
      `Per ${s.step} (UTC) from ${when(first)} to ${when(last)}: ${total('sent')} messages sent, ${total('opened')} first opened and ${total('clicked')} first clicked by a person. ` +
      `Most sent in one ${s.step}: ${figure(busiest.sent)}, ${when(busiest.t)}.`,
    legend: SERIES.map((v): LegendItem => ({ label: v.label, series: v.key, swatch: 'line' })),
    xLabel: timeLabel(s.step === 'hour' ? 'Hour' : 'Day', new Date(first), new Date(last)),
    yLabel: 'Messages',
    body,
  });
}

/** Every bucket from the first to the last, those without anything as zeros, so a line falls to zero between busy ones. */
function filled(buckets: readonly ActivityBucket[], ms: number): Point[] {
  const by = new Map(buckets.map((b) => [Date.parse(b.at), b]));
  const times = [...by.keys()];
  const out: Point[] = [];
  for (let t = Math.min(...times); t <= Math.max(...times); t += ms) {
    const b = by.get(t);
    out.push({ t, sent: b?.sent ?? 0, opened: b?.opened ?? 0, clicked: b?.clicked ?? 0 });
  }
  return out;
}

function ordersSvg(title: string, s: ChartSeries): string {
  const DAY = STEP_MS.day;
  const o = s.orders;
  // The days run from the first message (or order) to the last thing that happened.
  const days = [...s.activity.map((b) => Date.parse(b.at.slice(0, 10))), ...o.days.map((d) => Date.parse(d.day))];
  const first = Math.min(...days);
  const last = Math.max(...days);
  const x = scaleUtc()
    .domain([first, last + DAY])
    .range([PLOT.left, PLOT.right]);
  const groups =
    o.by === 'group'
      ? [
          { key: 'recipients', label: `Recipients (${figure(o.recipients)} customers)`, size: o.recipients },
          { key: 'control', label: `Control group (${figure(o.control)} customers)`, size: o.control },
        ]
      : [{ key: 'orders', label: 'Orders attributed', size: 0 }];
  // Per day, each group's orders; per group and day a bar: per 1,000 members with a control group, else the count.
  const rows = o.by === 'group' ? o.days.map((d) => ({ day: d.day, n: [d.recipients, d.control] })) : o.days.map((d) => ({ day: d.day, n: [d.orders] }));
  const bars = rows.flatMap((r) =>
    groups.map((g, i) => {
      const n = r.n[i] ?? 0;
      return { t: Date.parse(r.day), i, key: g.key, n, v: o.by === 'group' ? (g.size ? (1000 * n) / g.size : 0) : n };
    }),
  );
  const y = scaleLinear()
    .domain([0, Math.max(0, ...bars.map((b) => b.v)) || 1])
    .range([PLOT.bottom, PLOT.top])
    .nice();
  const body = [...valueAxis(y, o.by !== 'group'), ...timeAxis(x, 'day', true)];
  for (const b of bars.filter((b) => b.n > 0)) {
    const x0 = x(b.t);
    const band = x(b.t + DAY) - x0;
    // Bars fill 70% of their day, at most 40 px each.
    const width = Math.min((band * 0.7) / groups.length, 40);
    const start = x0 + (band - width * groups.length) / 2;
    body.push(`<rect class="bar ${b.key}" x="${px(start + b.i * width)}" y="${px(y(b.v))}" width="${px(width)}" height="${px(y(0) - y(b.v))}"/>`);
  }
  const sum = (key: string) => bars.filter((b) => b.key === key).reduce((n, b) => n + b.n, 0);
  if (groups.every((g) => sum(g.key) === 0)) {
    body.push(`<text class="muted" x="${px((PLOT.left + PLOT.right) / 2)}" y="${px((PLOT.top + PLOT.bottom) / 2)}" text-anchor="middle">No orders</text>`);
  }
  const span = `from ${isoDay(new Date(first))} to ${isoDay(new Date(last))} (UTC)`;
  return svgDocument({
    title,
    desc:
      o.by === 'group'
        ? `Orders per day ${span}, per 1,000 customers in each group, within each member's attribution window: the recipients (${figure(o.recipients)} customers) placed ${figure(sum('recipients'))} orders, the control group (${figure(o.control)} customers) ${figure(sum('control'))}.`
        : `Orders attributed to these messages per day ${span}: ${figure(sum('orders'))} in all.`,
    legend: groups.map((g): LegendItem => ({ label: g.label, series: g.key, swatch: 'bar' })),
    xLabel: timeLabel('Day', new Date(first), new Date(last)),
    yLabel: o.by === 'group' ? 'Orders per 1,000 members' : 'Orders',
    body,
  });
}
