import type { ScaleLinear, ScaleTime } from 'd3-scale';

/**
 * The frame every report chart shares (charts.ts draws the series): the SVG
 * document with its title, description and colours, the axes, the legend,
 * and the few formats that must come out the same on every machine.
 *
 * GitHub shows an SVG in a markdown file through <img>: no scripts, no fonts
 * from elsewhere, a transparent background under a light or a dark page. So
 * the colours are CSS classes in the document's own <style>, overridden under
 * `prefers-color-scheme: dark`, and the series colours are mid tones that
 * read on both.
 *
 * Nothing here reads the clock or the machine's time zone or locale: dates
 * are formatted from their UTC fields, numbers with toFixed and a fixed
 * thousands separator, coordinates rounded to two decimals.
 */

const WIDTH = 720;
const HEIGHT = 280;
/** The plotting area inside the frame: room above for the heading and legend, left for the values, below for the dates. */
export const PLOT = { left: 64, right: 688, top: 58, bottom: 230 } as const;

/** A chart's bucket: an hour or a day, in UTC. */
export type Step = 'hour' | 'day';
export const STEP_MS: Record<Step, number> = { hour: 3_600_000, day: 86_400_000 };

const STYLE = `
svg { font-family: -apple-system, BlinkMacSystemFont, "Segoe UI", "Noto Sans", Helvetica, Arial, sans-serif; font-size: 12px; }
text { fill: #1f2328; }
.heading { font-size: 14px; font-weight: 600; }
.muted { fill: #59636e; }
.grid { stroke: #d1d9e0; stroke-width: 1; }
.axis { stroke: #818b98; stroke-width: 1; }
.sent, .control { stroke: #6e7781; fill: #6e7781; }
.opened, .recipients, .orders { stroke: #0969da; fill: #0969da; }
.clicked { stroke: #bc4c00; fill: #bc4c00; }
@media (prefers-color-scheme: dark) {
  text { fill: #e6edf3; }
  .muted { fill: #9198a1; }
  .grid { stroke: #3d444d; }
  .axis { stroke: #656c76; }
  .sent, .control { stroke: #9198a1; fill: #9198a1; }
  .opened, .recipients, .orders { stroke: #4493f8; fill: #4493f8; }
  .clicked { stroke: #f0883e; fill: #f0883e; }
}
path.line { fill: none; stroke-width: 2; stroke-linejoin: round; stroke-linecap: round; }
path.area { stroke: none; fill-opacity: 0.15; }
rect.bar, circle.dot { stroke: none; }
`;

/** Characters XML 1.0 does not allow at all (escaping cannot help): C0 controls but tab and newlines, lone surrogates, U+FFFE and U+FFFF. */
const NOT_XML = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;
const ENTITY: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' };

/**
 * Text as SVG content or a (double-quoted) attribute value: its own text,
 * never markup. Characters XML forbids become U+FFFD.
 */
export function xml(s: string): string {
  return s.replace(NOT_XML, '\uFFFD').replace(/[&<>"]/g, (c) => ENTITY[c]!);
}

/** One line of text, at most `max` characters (whole code points), with an ellipsis when cut. */
function oneLine(s: string, max: number): string {
  const chars = Array.from(s.replace(/\s+/g, ' ').trim());
  return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : chars.join('');
}

/** A coordinate: two decimals at most, no trailing zeros, never "-0". */
export function px(v: number): string {
  return String(Math.round(v * 100) / 100 || 0);
}

/** A figure as people read it: "12,480", "3.5"; `decimals` fixed. */
export function figure(v: number, decimals = 0): string {
  const fixed = Math.abs(v).toFixed(decimals);
  const [int, frac] = fixed.split('.');
  const sign = v < 0 && Number(fixed) !== 0 ? '-' : '';
  return `${sign}${int!.replace(/\B(?=(\d{3})+$)/g, ',')}${frac ? `.${frac}` : ''}`;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** A date as an ISO day, from its UTC fields: "2026-11-20". */
export function isoDay(t: Date): string {
  return t.toISOString().slice(0, 10);
}

/** A tick's label: "Nov 20" at midnight (UTC), else the hour, "06:00". */
function tickLabel(t: Date): string {
  const h = t.getUTCHours();
  return h === 0 ? `${MONTHS[t.getUTCMonth()]} ${t.getUTCDate()}` : `${String(h).padStart(2, '0')}:00`;
}

export interface LegendItem {
  label: string;
  /** The series' class (colour). */
  series: string;
  swatch: 'line' | 'bar';
}

export interface Frame {
  /** For <title>: the whole heading, never cut. */
  title: string;
  /** For <desc>: the chart in words, for a screen reader and a reader without images. */
  desc: string;
  legend: LegendItem[];
  /** The axes' titles. */
  xLabel: string;
  yLabel: string;
  /** The axes (timeAxis, valueAxis) and the series, drawn in this order. */
  body: string[];
}

/** The SVG document: size, title and description, style, heading, legend, axis titles, then the body. */
export function svgDocument(f: Frame): string {
  const midY = (PLOT.top + PLOT.bottom) / 2;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-labelledby="title desc">`,
    `<title id="title">${xml(f.title)}</title>`,
    `<desc id="desc">${xml(f.desc)}</desc>`,
    `<style>${STYLE}</style>`,
    `<text class="heading" x="${PLOT.left}" y="20">${xml(oneLine(f.title, 72))}</text>`,
    ...legend(f.legend),
    `<text class="muted" transform="translate(16 ${px(midY)}) rotate(-90)" text-anchor="middle">${xml(f.yLabel)}</text>`,
    `<text class="muted" x="${px((PLOT.left + PLOT.right) / 2)}" y="${HEIGHT - 6}" text-anchor="middle">${xml(f.xLabel)}</text>`,
    ...f.body,
    '</svg>',
    '',
  ].join('\n');
}

/** The legend, one row under the heading; each item as wide as its label (about 6.6 px a character at 12 px). */
function legend(items: readonly LegendItem[]): string[] {
  const out: string[] = [];
  let x: number = PLOT.left;
  const y = 40;
  for (const item of items) {
    out.push(
      item.swatch === 'line'
        ? `<path class="swatch line ${item.series}" d="M${px(x)},${y - 4}h16"/>`
        : `<rect class="swatch bar ${item.series}" x="${px(x + 3)}" y="${y - 9}" width="10" height="10"/>`,
      `<text x="${px(x + 22)}" y="${y}">${xml(item.label)}</text>`,
    );
    x += 22 + item.label.length * 6.6 + 18;
  }
  return out;
}

/**
 * The time axis: its line, and a tick and label at each whole `step` d3
 * picks (midnight for days, whole hours for hours; midnights labelled with
 * the date). `bands`: the labels sit in the middle of each day (bars),
 * not on its start (points).
 */
export function timeAxis(x: ScaleTime<number, number>, step: Step, bands = false): string[] {
  const [start, end] = x.domain() as [Date, Date];
  const shift = bands ? STEP_MS.day / 2 : 0;
  const ticks = x.ticks(8).filter((t) => t.getTime() % STEP_MS[step] === 0 && t >= start && t.getTime() + (bands ? STEP_MS.day : 0) <= end.getTime());
  return [
    `<path class="axis" d="M${PLOT.left},${PLOT.bottom}H${PLOT.right}"/>`,
    ...ticks.flatMap((t) => {
      const at = px(x(t.getTime() + shift));
      return [`<path class="axis" d="M${at},${PLOT.bottom}v4"/>`, `<text class="muted" x="${at}" y="${PLOT.bottom + 16}" text-anchor="middle">${tickLabel(t)}</text>`];
    }),
  ];
}

/** The axis title under the dates: the step, the time zone, the year or years. */
export function timeLabel(what: string, first: Date, last: Date): string {
  const [a, b] = [first.getUTCFullYear(), last.getUTCFullYear()];
  return `${what} (UTC), ${a === b ? a : `${a}–${b}`}`;
}

/** The value axis: a grid line and label at each of about five ticks (whole numbers only, when the values are counts). */
export function valueAxis(y: ScaleLinear<number, number>, counts: boolean): string[] {
  const ticks = y.ticks(5).filter((t) => !counts || Number.isInteger(t));
  const stepSize = ticks.length > 1 ? ticks[1]! - ticks[0]! : 1;
  const decimals = counts ? 0 : Math.max(0, -Math.floor(Math.log10(stepSize) + 1e-9));
  return ticks.flatMap((t) => {
    const at = px(y(t));
    return [`<path class="grid" d="M${PLOT.left},${at}H${PLOT.right}"/>`, `<text class="muted" x="${PLOT.left - 8}" y="${at}" dy="0.32em" text-anchor="end">${figure(t, decimals)}</text>`];
  });
}
