import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { afterEach, describe, expect, it } from 'vitest';
import { chartsFor, chartsMarkdown, chartSvg, type ChartSeries } from '../../src/report/charts.js';
import { figure, xml } from '../../src/report/svg.js';

/**
 * The pure chart builder: series in, SVG text out. Well-formedness is
 * checked with fast-xml-parser's validator (strict XML, unlike an HTML
 * parser), and elements are counted on its parse.
 */

const DAILY: ChartSeries = {
  step: 'day',
  activity: [
    { at: '2026-11-20T00:00:00Z', sent: 1200, opened: 380, clicked: 60 },
    { at: '2026-11-21T00:00:00Z', sent: 300, opened: 210, clicked: 40 },
    // Nothing on the 22nd and 23rd: zeros in the line.
    { at: '2026-11-24T00:00:00Z', sent: 0, opened: 30, clicked: 4 },
  ],
  orders: {
    by: 'group',
    recipients: 1500,
    control: 150,
    days: [
      { day: '2026-11-20', recipients: 20, control: 1 },
      { day: '2026-11-21', recipients: 14, control: 0 },
      { day: '2026-11-23', recipients: 5, control: 2 },
    ],
  },
};

const HOURLY: ChartSeries = {
  step: 'hour',
  activity: [
    { at: '2026-11-20T22:00:00Z', sent: 40, opened: 5, clicked: 1 },
    { at: '2026-11-21T01:00:00Z', sent: 0, opened: 7, clicked: 2 },
  ],
  orders: { by: 'attributed', days: [{ day: '2026-11-21', orders: 3 }] },
};

type Node = Record<string, unknown>;
const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => ['path', 'circle', 'rect', 'text'].includes(name) });

/** The document parsed, after checking it is well-formed XML. */
function parse(svg: string): Node {
  expect(XMLValidator.validate(svg)).toBe(true);
  return (parser.parse(svg) as { svg: Node }).svg;
}

const all = (doc: Node, tag: string) => (doc[tag] as Node[] | undefined) ?? [];
/** The chart's elements of a class, legend swatches left out. */
const withClass = (doc: Node, tag: string, cls: string) =>
  all(doc, tag).filter((e) => {
    const classes = String(e.class).split(' ');
    return classes.includes(cls) && !classes.includes('swatch');
  });
const text = (n: unknown) => (typeof n === 'object' && n !== null ? String((n as Node)['#text']) : String(n));
const texts = (doc: Node) => all(doc, 'text').map(text);

describe('report charts', () => {
  const tz = process.env.TZ;
  afterEach(() => {
    if (tz === undefined) delete process.env.TZ;
    else process.env.TZ = tz;
  });

  it('draws sends, opens and clicks as lines with a dot per bucket, the gaps as zeros', () => {
    const doc = parse(chartSvg('activity', 'Spring news', DAILY));
    // Five days, the 20th to the 24th: three series of five points each.
    for (const s of ['sent', 'opened', 'clicked']) {
      const [path] = withClass(doc, 'path', 'line').filter((p) => String(p.class).includes(s));
      expect(String(path!.d).match(/[ML]/g)).toHaveLength(5);
      expect(withClass(doc, 'circle', s)).toHaveLength(5);
    }
    expect(withClass(doc, 'path', 'area')).toHaveLength(1);
    expect(text(doc.title)).toBe('Sends, opens and clicks per day — Spring news');
    expect(text(doc.desc)).toBe('Per day (UTC) from 2026-11-20 to 2026-11-24: 1,500 messages sent, 620 first opened and 104 first clicked by a person. Most sent in one day: 1,200, 2026-11-20.');
    expect(texts(doc)).toEqual(expect.arrayContaining(['Sent', 'Opened by a person', 'Clicked by a person', 'Messages', 'Day (UTC), 2026', 'Nov 20', 'Nov 24', '1,200']));
    expect(doc).toMatchObject({ viewBox: '0 0 720 280', role: 'img' });
  });

  it('labels hours, and the date at midnight (UTC)', () => {
    const doc = parse(chartSvg('activity', 'Trigger cart', HOURLY));
    // 22:00 to 01:00: four hours.
    expect(withClass(doc, 'circle', 'opened')).toHaveLength(4);
    expect(texts(doc)).toEqual(expect.arrayContaining(['22:00', 'Nov 21', '01:00', 'Hour (UTC), 2026']));
    expect(text(doc.desc)).toContain('Per hour (UTC) from 2026-11-20 22:00 to 2026-11-21 01:00');
  });

  it('one bucket alone gets room either side, and many buckets no dots', () => {
    const one = chartSvg('activity', 'x', { ...HOURLY, activity: [{ at: '2026-11-20T10:00:00Z', sent: 3, opened: 0, clicked: 0 }] });
    expect(one).not.toContain('NaN');
    expect(withClass(parse(one), 'circle', 'sent')).toHaveLength(1);
    const year = Array.from({ length: 365 }, (_, i) => ({ at: new Date(Date.UTC(2026, 0, 1 + i)).toISOString().replace('.000', ''), sent: i % 7, opened: 1, clicked: 0 }));
    const doc = parse(chartSvg('activity', 'x', { ...DAILY, activity: year }));
    expect(all(doc, 'circle')).toHaveLength(0);
    expect(String(withClass(doc, 'path', 'opened')[0]!.d).match(/[ML]/g)).toHaveLength(365);
  });

  it('compares orders per 1,000 members of each group, a bar per group and day with orders', () => {
    const doc = parse(chartSvg('orders', 'Spring news', DAILY));
    // Recipients on three days, control on two.
    expect(withClass(doc, 'rect', 'recipients')).toHaveLength(3);
    expect(withClass(doc, 'rect', 'control')).toHaveLength(2);
    // 20 of 1,500 is 13.33 per 1,000; 2 of 150 is 13.33 too: the same height.
    const [r20] = withClass(doc, 'rect', 'recipients');
    const [, c23] = withClass(doc, 'rect', 'control');
    expect(r20!.height).toBe(c23!.height);
    expect(texts(doc)).toEqual(expect.arrayContaining(['Recipients (1,500 customers)', 'Control group (150 customers)', 'Orders per 1,000 members', 'Nov 20', 'Nov 24']));
    expect(text(doc.desc)).toBe(
      "Orders per day from 2026-11-20 to 2026-11-24 (UTC), per 1,000 customers in each group, within each member's attribution window: the recipients (1,500 customers) placed 39 orders, the control group (150 customers) 3.",
    );
  });

  it('shows attributed orders as counts, and says when there are none', () => {
    const doc = parse(chartSvg('orders', 'Trigger cart', HOURLY));
    expect(withClass(doc, 'rect', 'orders')).toHaveLength(1);
    expect(texts(doc)).toEqual(expect.arrayContaining(['Orders attributed', 'Orders', '3']));
    const none = parse(chartSvg('orders', 'Trigger cart', { ...HOURLY, orders: { by: 'attributed', days: [] } }));
    expect(withClass(none, 'rect', 'orders')).toHaveLength(0);
    expect(texts(none)).toContain('No orders');
  });

  it('escapes a hostile name: text, never markup', () => {
    const name = `<script>alert("x")</script> & 'quotes' \u0001 ]]> <!--`;
    for (const kind of ['activity', 'orders'] as const) {
      const svg = chartSvg(kind, name, DAILY);
      expect(svg).not.toContain('<script');
      expect(svg).not.toContain('<!--');
      const doc = parse(svg);
      expect(text(doc.title)).toContain(`<script>alert("x")</script> & 'quotes' \uFFFD ]]> <!--`);
    }
    expect(xml(`a&b<c>"d"'e'\uFFFF\uD800`)).toBe(`a&amp;b&lt;c&gt;&quot;d&quot;'e'\uFFFD\uFFFD`);
  });

  it('gives the same bytes whatever the time zone', () => {
    const render = () => [chartSvg('activity', 's', DAILY), chartSvg('orders', 's', DAILY), chartSvg('activity', 's', HOURLY), chartSvg('orders', 's', HOURLY)];
    process.env.TZ = 'UTC';
    const utc = render();
    for (const zone of ['Pacific/Chatham', 'America/St_Johns', 'Asia/Kathmandu']) {
      process.env.TZ = zone;
      // The zone is in force: a Date's local hour moves.
      expect(new Date('2026-11-20T00:00:00Z').getHours()).not.toBe(0);
      expect(render()).toEqual(utc);
    }
  });

  it('has charts once anything was sent, linked from the report beside them', () => {
    expect(chartsFor('spring', undefined)).toEqual([]);
    expect(chartsFor('spring', { ...DAILY, activity: [] })).toEqual([]);
    expect(chartsMarkdown('spring', { ...DAILY, activity: [] })).toEqual([]);
    expect(chartsFor('spring', DAILY)).toEqual([
      { kind: 'activity', file: 'spring.activity.svg', alt: 'Sends, opens and clicks per day' },
      { kind: 'orders', file: 'spring.orders.svg', alt: 'Orders per day per 1,000 members, recipients and control group' },
    ]);
    const md = chartsMarkdown('spring', HOURLY).join('\n');
    expect(md).toContain('## Over time');
    expect(md).toContain('![Sends, opens and clicks per hour](spring.activity.svg)');
    expect(md).toContain('![Orders attributed per day](spring.orders.svg)');
  });

  it('formats figures the same on every machine', () => {
    expect([figure(0), figure(999), figure(1000), figure(1234567), figure(2.5, 1), figure(12345.678, 2), figure(-0.001, 1)]).toEqual(['0', '999', '1,000', '1,234,567', '2.5', '12,345.68', '0.0']);
  });
});
