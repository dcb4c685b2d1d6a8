// npm run bench -- audience
//
// The mailing volume (customers in the segment who opted in, have a usable
// address and are on the campaign's sites) of four representative segments
// on 1M customers and ~5M orders, PostgreSQL on loopback: each compiled by
// compileSegment and wrapped as src/audience/recipients.ts wraps an audience,
// against a hand-written query giving the same count, in the same run.
// Target from the segments issue: within 1.3× of the hand-written query, and
// each under 10 s. The plans of any that fall short are printed.
//
// The shop lives in its own database, herald_bench_audience, made by this
// bench and marked as such in its comment. A later run reuses it when the
// mark says it holds the same shop (size, seed, and the seed's code);
// otherwise it reseeds it. It never touches a database it did not make.
import pg from 'pg';
import { compileSegment } from '../dist/audience/compile.js';
import { recipientsSql } from '../dist/audience/recipients.js';
import { openDb } from '../dist/db/db.js';
import { migrate } from '../dist/db/migrate.js';
import { NOW, SHOP, SITES, server, shopDatabase } from './lib/shop.mjs';

const RUNS = 5;
const TARGET = 1.3;
const CONTEXT = { schema: 'shop', segments: new Map(), cancelled: ['cancelled'], open: ['new', 'paid', 'shipped'] };
const ago = (days) => new Date(NOW.getTime() - days * 86_400_000).toISOString();
const ADDRESS = `'^[^@[:space:]]+@[^@[:space:]]+\\.[^@[:space:]]+$'`;

/** The campaign's recipients exactly as herald counts them (src/audience/recipients.ts, suppression included). */
function recipients(audience) {
  const sites = Object.fromEntries(SITES.map((s) => [s.id, { locales: s.locales, default: s.locales[0] }]));
  const r = recipientsSql('shop', audience, sites);
  return { text: `SELECT count(*)::int AS n FROM (${r.text}) AS r`, values: r.values };
}

/** The recipients filter of the hand-written queries: opted in, a usable address, on the sites ($1). */
const RECIPIENT = `c.email_opt_in AND c.email ~ ${ADDRESS} AND c.site = ANY($1::text[])`;
const SITE_IDS = SITES.map((s) => s.id);

const SEGMENTS = [
  {
    name: 'lapsed (ordered, but not in 180 days)',
    where: { last_order: { before: '180d' } },
    // One pass over the counted orders, grouped, keeping those whose last is old enough.
    hand: {
      text: `SELECT count(*)::int AS n FROM shop.customers c
               JOIN (SELECT customer_id FROM shop.orders WHERE status <> 'cancelled'
                      GROUP BY customer_id HAVING max(created_at) < $2) o ON o.customer_id = c.id
              WHERE ${RECIPIENT}`,
      values: [SITE_IDS, ago(180)],
    },
  },
  {
    name: 'VIP (≥3 orders in 365d, average ≥ 150 EUR / 15,000 RUB)',
    where: {
      all: [
        { order_count: { gte: 3, within: '365d' } },
        { any: [{ all: [{ site: 'shop-en' }, { avg_order_value: { gte: 150 } }] }, { all: [{ site: 'shop-ru' }, { avg_order_value: { gte: 15000 } }] }] },
      ],
    },
    // One pass: the recent count as a FILTER, the average over all counted orders.
    hand: {
      text: `SELECT count(*)::int AS n FROM shop.customers c
               JOIN (SELECT customer_id, avg(total) AS avg FROM shop.orders WHERE status <> 'cancelled'
                      GROUP BY customer_id HAVING count(*) FILTER (WHERE created_at >= $2) >= 3) o ON o.customer_id = c.id
              WHERE ${RECIPIENT}
                AND ((c.site = 'shop-en' AND o.avg >= 150) OR (c.site = 'shop-ru' AND o.avg >= 15000))`,
      values: [SITE_IDS, ago(365)],
    },
  },
  {
    name: 'Berlin shoe buyers (city, category in 365d)',
    where: { all: [{ city: { in: ['Berlin', 'Берлин'] } }, { purchased: { categories: ['shoes'], within: '365d' } }] },
    hand: {
      text: `SELECT count(*)::int AS n FROM shop.customers c
              WHERE lower(c.city) IN ('berlin', 'берлин') AND ${RECIPIENT}
                AND EXISTS (SELECT 1 FROM shop.orders o JOIN shop.order_items i ON i.order_id = o.id
                              JOIN shop.products p ON p.sku = i.sku
                             WHERE o.customer_id = c.id AND o.status <> 'cancelled' AND o.created_at >= $2
                               AND p.category = 'shoes')`,
      values: [SITE_IDS, ago(365)],
    },
  },
  {
    name: 'new, no order yet (registered in 30d)',
    where: { all: [{ registered: { within: '30d' } }, { last_order: { exists: false } }] },
    hand: {
      text: `SELECT count(*)::int AS n FROM shop.customers c
              WHERE c.created_at >= $2 AND ${RECIPIENT}
                AND NOT EXISTS (SELECT 1 FROM shop.orders o WHERE o.customer_id = c.id AND o.status <> 'cancelled')`,
      values: [SITE_IDS, ago(30)],
    },
  },
];

async function timed(client, q) {
  const t = process.hrtime.bigint();
  const { rows } = await client.query(q.text, q.values);
  return { seconds: Number(process.hrtime.bigint() - t) / 1e9, n: rows[0].n };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const db = await shopDatabase();
// herald's own tables (suppressions) must exist: the recipients query reads them.
const herald = await openDb(db.url);
await migrate(herald);
await herald.close();
const client = new pg.Client({ connectionString: db.url });
await client.connect();
try {
  const [size] = (await client.query(`SELECT (SELECT count(*) FROM shop.customers)::int AS customers, (SELECT count(*) FROM shop.orders)::int AS orders`)).rows;
  console.log(`\naudience benchmark: ${size.customers.toLocaleString('en')} customers, ${size.orders.toLocaleString('en')} orders, PostgreSQL at ${new URL(server).host}, database ${SHOP} (${db.reused ? 'reused: it already holds this shop' : 'seeded in this run'})`);
  console.log(`  each query ${RUNS} times after one warm-up, interleaved; median wall time\n`);
  const short = [];
  for (const seg of SEGMENTS) {
    const compiled = recipients(compileSegment(seg.where, CONTEXT, NOW));
    const c = [], h = [];
    let counts = [await timed(client, compiled), await timed(client, seg.hand)].map((r) => r.n);
    for (let i = 0; i < RUNS; i++) {
      const a = await timed(client, compiled);
      const b = await timed(client, seg.hand);
      c.push(a.seconds);
      h.push(b.seconds);
      if (a.n !== counts[0] || b.n !== counts[1]) throw new Error(`${seg.name}: counts changed between runs`);
    }
    const [mc, mh] = [median(c), median(h)];
    const ratio = mc / mh;
    const same = counts[0] === counts[1];
    const ok = same && ratio <= TARGET && mc < 10;
    console.log(`  ${seg.name}`);
    console.log(`    recipients: compiled ${counts[0].toLocaleString('en')}, hand-written ${counts[1].toLocaleString('en')} ${same ? '(equal)' : '— DIFFERENT'}`);
    console.log(`    compiled ${mc.toFixed(2)} s, hand-written ${mh.toFixed(2)} s → ${ratio.toFixed(2)}× (target ≤ ${TARGET}×, < 10 s) ${ok ? 'ok' : 'SHORT'}`);
    if (!ok) short.push({ seg, compiled });
  }
  for (const { seg, compiled } of short) {
    for (const [label, q] of [['compiled', compiled], ['hand-written', seg.hand]]) {
      const { rows } = await client.query(`EXPLAIN (ANALYZE, BUFFERS) ${q.text}`, q.values);
      console.log(`\n  plan, ${label}: ${seg.name}\n${rows.map((r) => `    ${r['QUERY PLAN']}`).join('\n')}`);
    }
  }
  if (short.length) process.exitCode = 1;
} finally {
  await client.end();
}
