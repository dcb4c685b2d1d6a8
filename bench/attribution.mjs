// npm run bench -- attribution [--customers N] [--runs N]
//
// The attribution pass (src/events/attribution.ts) on the segments issue's
// shop (bench/lib/shop.mjs: 1M customers, ~5M orders, the contract's
// indexes), with a ledger of 1M sent messages: every customer got one of
// four newsletters sent 40, 30, 20 and 10 days before the shop's NOW, and
// reacted as mail does: ~25% of messages opened by a person and ~35% by
// Apple Mail Privacy Protection, ~3% clicked by a person (some of them
// twice, some a second newsletter later) and ~6% by a security scanner.
//
// herald's pass (attributeOrders: the deployed windows, the watermark's
// lock, the one INSERT … SELECT) against a hand-written INSERT … SELECT of
// the same rows (the default 5-day click window written in, cancelled
// orders out), in the same run, each on a ledger emptied of its order
// events. The first pass of a database is the largest one (no watermark:
// every order is read), so that is what is measured. The attributed orders
// are checked equal (count and a checksum of the (order, message) pairs).
// Each side RUNS times after a warm-up, interleaved. Both without JIT, as
// herald runs its pass. Targets from the issue: within 1.3× of the
// hand-written query, and under 10 s.
//
// The bench works on a copy of the shop, dropped at the end. `--customers N`
// runs on a smaller shop of its own (a quick check). It measures only while
// holding the benches' lock, watches the machine during the runs, prints its
// targets met or MISSED, and DISTURBED (not judged) when other work ran
// (bench/lib/judge.mjs).
import { parseArgs } from 'node:util';
import pg from 'pg';
import { openDb } from '../dist/db/db.js';
import { migrate } from '../dist/db/migrate.js';
import { attributeOrders, attributeSql } from '../dist/events/attribution.js';
import { windowTable } from '../dist/events/windows.js';
import { loadDeployed } from '../dist/state/queries.js';
import { cancelledStatuses, sourceSchema } from '../dist/workspace/model.js';
import { CUSTOMERS, NOW, copyOfShop, shopDatabase } from './lib/shop.mjs';
import { benchWorkspace, deployWorkspace } from './lib/workspace.mjs';
import { Targets, benchLock, median, spread, watchMachine } from './lib/judge.mjs';

benchLock();

const TARGET_RATIO = 1.3;
const TARGET_SECONDS = 10;
const DAY = 86_400_000;
const COPY = `herald_bench_attribution_${process.pid}`;

const { values: args } = parseArgs({ options: { customers: { type: 'string', default: String(CUSTOMERS) }, runs: { type: 'string', default: '3' } } });
const customers = Number(args.customers);
const RUNS = Number(args.runs);
if (!Number.isInteger(customers) || customers < 1000) throw new Error(`--customers must be a whole number of at least 1000, got "${args.customers}"`);
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error(`--runs must be a positive whole number, got "${args.runs}"`);

/** The hand-written pass: the same rule with herald.yaml's default windows written in (5 days after a person's click, opens not counted). */
const HAND = `
INSERT INTO herald.message_events (message_id, kind, order_id, value, origin, at)
SELECT DISTINCT ON (o.id) e.message_id, 'order', o.id::text, o.total, 'attribution', o.created_at
  FROM herald.message_events e
  JOIN herald.messages m ON m.id = e.message_id
  JOIN shop.orders o ON o.customer_id = m.customer_id AND o.created_at > e.at AND o.created_at <= e.at + interval '5 days'
 WHERE e.kind = 'click' AND e.class = 'human' AND o.status <> 'cancelled'
 ORDER BY o.id, e.at DESC, e.id DESC
ON CONFLICT DO NOTHING`;

/** 1M sent messages in four newsletters, and their opens and clicks, set-based. */
async function seedLedger(c) {
  const sends = [40, 30, 20, 10].map((d) => new Date(NOW.getTime() - d * DAY));
  await c.query(
    `INSERT INTO herald.messages (source, source_kind, customer_id, address, site, locale, status, sent_at, created_at, attempts)
     SELECT 'news-' || (id % 4), 'campaign', id, 'c' || id || '@example.com', site, locale, 'sent', s.at + (id % 3600) * interval '1 second', s.at, 1
       FROM shop.customers, LATERAL (SELECT ($1::timestamptz[])[(id % 4) + 1] AS at) s`,
    [sends],
  );
  // u, v: stable pseudo-random numbers in [0, 1) per message.
  // Of the customer id, not the ledger id: the same reactions on every run.
  await c.query(`CREATE TEMP TABLE r AS SELECT id, sent_at, (('x' || substr(md5(customer_id::text), 1, 8))::bit(32)::bigint / 4294967296.0) AS u,
                 (('x' || substr(md5(customer_id::text), 9, 8))::bit(32)::bigint / 4294967296.0) AS v FROM herald.messages`);
  await c.query(`
    INSERT INTO herald.message_events (message_id, kind, class, origin, at)
    SELECT id, 'open', 'mpp', 'pixel', sent_at + interval '2 minutes' FROM r WHERE u < 0.35
    UNION ALL SELECT id, 'open', 'human', 'pixel', sent_at + v * interval '2 days' FROM r WHERE u >= 0.35 AND u < 0.60
    UNION ALL SELECT id, 'click', 'scanner', 'click', sent_at + interval '30 seconds' FROM r WHERE v < 0.06
    UNION ALL SELECT id, 'click', 'human', 'click', sent_at + u * interval '3 days' FROM r WHERE v >= 0.06 AND v < 0.09
    UNION ALL SELECT id, 'click', 'human', 'click', sent_at + u * interval '4 days' + interval '1 hour' FROM r WHERE v >= 0.06 AND v < 0.065`);
  await c.query('VACUUM ANALYZE herald.messages, herald.message_events');
}

async function reset(c) {
  await c.query("DELETE FROM herald.message_events WHERE kind = 'order'");
  await c.query('DELETE FROM herald.attribution_passes');
  await c.query('VACUUM herald.message_events');
  await c.query('CHECKPOINT');
}

async function result(c) {
  const [r] = (await c.query(
    `SELECT count(*)::int AS orders, md5(string_agg(order_id || ':' || message_id, ',' ORDER BY order_id::bigint)) AS sum
       FROM herald.message_events WHERE kind = 'order'`)).rows;
  return r;
}

/** herald's statement as the first pass runs it, captured and explained (ANALYZE, rolled back). */
async function explainHerald(c, db) {
  const deployed = await loadDeployed(db);
  const project = deployed.find((d) => d.kind === 'project').spec;
  const sources = deployed.filter((d) => d.kind === 'campaign' || d.kind === 'trigger').map((d) => ({ kind: d.kind, name: d.name, spec: d.spec }));
  let captured;
  await attributeSql({ query: async (text, values) => ((captured = { text, values }), [{ attributed: 0 }]) }, {
    schema: sourceSchema(project), cancelled: cancelledStatuses(project), windows: windowTable(project, sources), from: null, to: NOW,
  });
  await reset(c);
  await c.query('BEGIN');
  await c.query("SELECT set_config('jit', 'off', true)");
  const plan = await c.query(`EXPLAIN (ANALYZE, BUFFERS) ${captured.text}`, captured.values);
  await c.query('ROLLBACK');
  return plan.rows.map((r) => r['QUERY PLAN']).join('\n');
}

const seconds = (t) => Number(process.hrtime.bigint() - t) / 1e9;

const shop = await shopDatabase(customers);
console.log(`shop ${shop.name} (${shop.reused ? 'reused' : 'seeded'}); copying it to ${COPY}`);
const copy = await copyOfShop(shop.name, COPY);
copy.dropOnSignal();
const db = await openDb(copy.url);
const c = new pg.Client({ connectionString: copy.url });
await c.connect();
const targets = new Targets();
try {
  await migrate(db);
  await deployWorkspace(db, benchWorkspace('herald-bench-attribution', {}), NOW, 'bench attribution');
  let t = process.hrtime.bigint();
  await seedLedger(c);
  const [ledger] = (await c.query(
    `SELECT (SELECT count(*) FROM herald.messages)::int AS messages,
            count(*) FILTER (WHERE kind = 'click' AND class = 'human')::int AS human_clicks,
            count(*)::int AS events FROM herald.message_events`)).rows;
  const [orders] = (await c.query('SELECT count(*)::int AS n FROM shop.orders')).rows;
  console.log(`ledger: ${ledger.messages.toLocaleString('en')} sent messages, ${ledger.events.toLocaleString('en')} events (${ledger.human_clicks.toLocaleString('en')} human clicks), ${orders.n.toLocaleString('en')} orders; made in ${seconds(t).toFixed(1)} s`);

  const contenders = {
    herald: async () => {
      await reset(c);
      t = process.hrtime.bigint();
      const pass = await attributeOrders(db, NOW);
      return { seconds: seconds(t), attributed: pass.attributed };
    },
    hand: async () => {
      await reset(c);
      await c.query('BEGIN');
      await c.query("SELECT set_config('jit', 'off', true)");
      t = process.hrtime.bigint();
      const r = await c.query(HAND);
      const s = seconds(t);
      await c.query('COMMIT');
      return { seconds: s, attributed: r.rowCount };
    },
  };
  const checks = {};
  for (const [who, run] of Object.entries(contenders)) {
    const w = await run();
    checks[who] = await result(c);
    console.log(`warm-up ${who}: ${w.seconds.toFixed(2)} s, ${w.attributed} orders attributed`);
  }
  if (checks.herald.orders !== checks.hand.orders || checks.herald.sum !== checks.hand.sum) {
    throw new Error(`herald attributed ${checks.herald.orders} orders (${checks.herald.sum}), the hand-written query ${checks.hand.orders} (${checks.hand.sum})`);
  }
  console.log(`same orders attributed to the same messages: ${checks.herald.orders} (checksum ${checks.herald.sum})`);
  const runs = { herald: [], hand: [] };
  const watch = watchMachine();
  for (let i = 0; i < RUNS; i++) for (const [who, run] of Object.entries(contenders)) runs[who].push((await run()).seconds);
  const machine = watch.stop();
  const h = median(runs.herald);
  const b = median(runs.hand);
  const ratio = h / b;
  const s = (x) => `${x.toFixed(2)} s`;
  console.log(`\nattribution pass, ${RUNS} runs each, interleaved; the median counts:`);
  console.log(`  herald        ${spread(runs.herald, s)}`);
  console.log(`  hand-written  ${spread(runs.hand, s)}`);
  console.log(`  herald / hand-written: ${ratio.toFixed(2)}×`);
  const ratioMet = targets.check('herald / hand-written (medians)', ratio, { max: TARGET_RATIO, unit: '×' });
  const timeMet = targets.check('herald, median', h, { max: TARGET_SECONDS, unit: ' s' });
  if (!ratioMet || !timeMet) console.log(`herald's plan:\n${await explainHerald(c, db)}`);
  targets.verdict(machine);
} finally {
  await c.end();
  await db.close();
  await copy.drop();
}
process.exit(process.exitCode ?? 0);
