// npm run bench -- launch [--messages N] [--no-send] [--no-long-transaction]
//
// A campaign to every customer of the segments issue's shop (bench/audience.mjs:
// 1M customers, ~5M orders), PostgreSQL on loopback: launched, then sent.
//
// 1. Materialising. launchCampaign (src/campaigns/send.ts) resolves the audience
//    into the ledger in one INSERT … SELECT over classifiedSql
//    (src/ledger/ledger.ts, src/audience/recipients.ts): recipients queued, a 5%
//    control group held out, everyone else suppressed with the reason.
//    Against a hand-written INSERT … SELECT writing the same rows into the
//    same table (herald.messages: same indexes, logged), checked row for row,
//    in the same run. Twice: the campaign with its control group (the one
//    sent in part 2), and the same with an A/B test on top (20% test group,
//    two variants: two more md5 a recipient, in both queries). For scale, the
//    first also against the bare write: the same number of rows copied into
//    the ledger with nothing worked out. Each query 3 times after a warm-up,
//    interleaved, on an emptied ledger after a CHECKPOINT; min and median
//    wall time. Target from the sending issue: under 10 s (it puts the
//    hand-written query at 3–7 s).
// 2. Sending. That campaign's recipients (768,850 of the 1M customers have a
//    usable address and consent and are not held out) delivered by deliver()
//    (src/ledger/worker.ts) with herald send's defaults (1 worker, the
//    worker's default batch: 20 messages a connection, at least 50;
//    smtpTransport with 5 connections), to the smtp-server sink of
//    bench/send-sink.mjs in its own process (its 100 ms greeting pause
//    removed). The ledger is sent as launched: nothing vacuums or analyses
//    it first, and the copy is not vacuumed during the send (the bench says
//    whether the server's autovacuum is on; the speed issue's target assumes
//    it off), so the dead entries each claimed → sent update leaves behind
//    pile up as they would on a shop's server. A second connection holds a
//    transaction open throughout (a reporting query, a backup), so no dead
//    entry may be marked dead meanwhile; --no-long-transaction leaves it out.
//    The rate is printed for each tenth of the send, so a slowdown shows.
//    This process's RSS (herald's worker, its pg pool and its SMTP
//    connections) sampled every 250 ms. Targets: the rate over the last
//    tenth at least 90% of the rate over the first (the speed issue, 17);
//    peak RSS under 300 MB, since recipients stream through the ledger and
//    are never loaded at once (the sending issue); the ledger exact
//    afterwards: every recipient sent once, and the sink holding exactly the
//    Message-IDs the ledger recorded. bench/send.mjs has the rate target.
//
// `--messages N` sends only the first N recipients of the ledger (the ledger
// is rewritten without the rest, so no dead rows of theirs are left behind);
// `--no-send` skips part 2.
//
// The shop is herald_bench_audience, made, marked and reused by
// bench/lib/shop.mjs as for bench/audience.mjs, so either bench reuses the
// other's. This bench works on a copy of it (CREATE DATABASE … TEMPLATE),
// dropped at the end, so the shop's own herald.* tables are never written.
// The copy gets ~7,700 suppressions (unsubscribes for every site, complaints
// for one), so the audience's suppression joins have something to find.
import { rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { controlGroupThreshold } from '../dist/audience/recipients.js';
import { openDb } from '../dist/db/db.js';
import { migrate } from '../dist/db/migrate.js';
import { silentLog } from '../dist/log.js';
import { defaultBatchSize, deliver } from '../dist/ledger/worker.js';
import { launchCampaign } from '../dist/campaigns/send.js';
import { smtpTransport } from '../dist/channels/email/transport.js';
import { channelsOver } from '../dist/channels/channels.js';
import { loadCampaignContext } from '../dist/campaigns/context.js';
import { CUSTOMERS, SHOP, SITES, addSuppressions, copyOfShop, server, shopDatabase } from './lib/shop.mjs';
import { benchWorkspace, deployWorkspace } from './lib/workspace.mjs';
import { coresUsed, cpuTicks } from './lib/cpu.mjs';
import { startSink } from './lib/sink.mjs';
import { Targets, benchLock, spread, watchMachine } from './lib/judge.mjs';

benchLock();

const ADDRESS = `'^[^@[:space:]]+@[^@[:space:]]+\\.[^@[:space:]]+$'`;

// The copy of the shop this run works on.
const COPY = `herald_bench_launch_${process.pid}`;
const CAMPAIGN = 'bench-launch';
const AB_CAMPAIGN = 'bench-launch-ab';
const CONTROL_PERCENT = 5;
const TEST_PERCENT = 20;
const VARIANTS = ['care-tips', 'discount'];
const PRODUCTS = ['OW-001', 'SH-001', 'BG-001', 'AC-002', 'SH-003'];
const RUNS = 3;
const TARGET_SECONDS = 10;
const WORKERS = 1;
const POOL = 5;
let batch;
const TARGET_LAST_TENTH = 0.9;
const TARGET_RSS_MB = 300;
const SAMPLE_MS = 250;
const PROGRESS_MS = 10_000;
const targets = new Targets();
const watches = [];

const { values: args } = parseArgs({
  options: { messages: { type: 'string', default: '1000000' }, 'no-send': { type: 'boolean', default: false }, 'no-long-transaction': { type: 'boolean', default: false } },
});
const MESSAGES = Number(args.messages);
if (!Number.isInteger(MESSAGES) || MESSAGES < 1) throw new Error(`--messages must be a positive whole number, got "${args.messages}"`);

// ── The workspace ───────────────────────────────────────────────────────────
/** The repository's project and templates; two ready campaigns to every customer of both sites. */
function workspace() {
  const campaign = (title, extra = '') => `title: ${title}
sites: [${SITES.map((s) => s.id).join(', ')}]
audience:
  segment: everyone
template: newsletter
personalized_greeting: true
products: [${PRODUCTS.join(', ')}]
control_group: ${CONTROL_PERCENT}%
approve_audience_over: ${CUSTOMERS}
quiet_hours: false        # the bench measures the engine at any hour
${extra}status: ready
`;
  return benchWorkspace('herald-bench-launch', {
    'segments/everyone.yaml': `description: Every customer of both sites.\nwhere:\n  site: { in: [${SITES.map((s) => s.id).join(', ')}] }\n`,
    [`campaigns/${CAMPAIGN}.yaml`]: campaign('Launch benchmark'),
    [`campaigns/${AB_CAMPAIGN}.yaml`]: campaign('Launch benchmark with an A/B test', `ab_test:
  test_size: ${TEST_PERCENT}%
  variants:
${VARIANTS.map((v) => `    - name: ${v}\n      subject: { en: "${v} subject", ru: "${v} тема" }\n`).join('')}  winner: { metric: clicks, after: 4h, fallback: ${VARIANTS[0]} }
`),
  });
}

/** Migrates the copy, adds the suppressions, and deploys the workspace; returns it. */
async function prepare(db, dir, now) {
  await migrate(db);
  await addSuppressions(db, 'bench launch');
  return deployWorkspace(db, dir, now, 'bench launch');
}

// ── Part 1: materialising ───────────────────────────────────────────────────
/**
 * The hand-written INSERT … SELECT: the rows launchCampaign writes, as one
 * would write them for this shop by hand. The reason is worked out once per
 * customer (OFFSET 0 keeps PostgreSQL from inlining it into each place that
 * reads it), and the status follows from it. Same hashes as herald
 * (docs/sending.md), md5 only where they decide something.
 */
function handWritten(campaign, ab, now, versions) {
  const hash = (salt, id) => `('x' || substr(md5($1::text || '${salt}' || ${id}::text), 1, 8))::bit(32)::bigint`;
  const values = [campaign, now, versions.campaign, versions.template, controlGroupThreshold(CONTROL_PERCENT)];
  if (ab) values.push(controlGroupThreshold(TEST_PERCENT), VARIANTS);
  const tested = `${hash(':ab:', 'id')} < $6::bigint`;
  return {
    text: `INSERT INTO herald.messages (source_kind, source, customer_id, address, site, locale, status, variant, reason, next_attempt_at, due_at, source_version, template_version)
           SELECT 'campaign', $1, id, email, site, locale,
                  CASE WHEN reason IS NULL THEN ${ab ? `CASE WHEN ${tested} THEN 'queued' ELSE 'waiting' END` : `'queued'`}
                       WHEN reason = 'control group' THEN 'control' ELSE 'suppressed' END,
                  ${ab ? `CASE WHEN reason IS NULL AND ${tested} THEN ($7::text[])[1 + ${hash(':variant:', 'id')} % ${VARIANTS.length}] END` : 'NULL'},
                  reason, $2::timestamptz, $2::timestamptz, $3::int, $4::int
             FROM (SELECT c.id, c.email, c.site,
                          CASE WHEN c.locale = ANY (s.locales) THEN c.locale ELSE s.fallback END AS locale,
                          CASE WHEN c.email IS NULL OR btrim(c.email) = '' THEN 'no email'
                               WHEN c.email !~ ${ADDRESS} THEN 'invalid email'
                               WHEN NOT c.email_opt_in THEN 'email_opt_in is false'
                               WHEN a.email IS NOT NULL THEN 'suppressed: ' || a.reason || ' (all sites)'
                               WHEN o.email IS NOT NULL THEN 'suppressed: ' || o.reason || ' (' || o.site || ')'
                               WHEN ${hash(':', 'c.id')} < $5::bigint THEN 'control group' END AS reason
                     FROM shop.customers c
                     JOIN (VALUES ${SITES.map((s) => `('${s.id}', '{${s.locales.join(',')}}'::text[], '${s.locales[0]}')`).join(', ')}) AS s (site, locales, fallback) ON s.site = c.site
                     LEFT JOIN herald.suppressions a ON a.email = lower(c.email) AND a.site IS NULL
                     LEFT JOIN herald.suppressions o ON o.email = lower(c.email) AND o.site = c.site
                   OFFSET 0) AS r`,
    values,
  };
}

/** The ledger as it stands: its rows by status, and a checksum of every row's content. */
async function ledger(c) {
  const [sum] = (await c.query(
    `SELECT count(*)::int AS rows,
            sum(hashtext((source_kind, source, customer_id, address, site, locale, status, variant, reason, next_attempt_at, due_at, source_version, template_version)::text))::text AS checksum
       FROM herald.messages`)).rows;
  const statuses = Object.fromEntries((await c.query(
    'SELECT status, count(*)::int AS n FROM herald.messages GROUP BY status ORDER BY n DESC')).rows.map((r) => [r.status, r.n]));
  return { ...sum, statuses };
}

/** An empty ledger, nothing launched, and the previous run's dirty pages written, so each run starts alike. */
async function emptied(c) {
  await c.query('TRUNCATE herald.messages, herald.message_events');
  await c.query('DELETE FROM herald.runs');
  await c.query('CHECKPOINT');
}

/**
 * The bare write, as a floor: the same number of rows copied from the
 * customers into the ledger with nothing worked out (no address check, no
 * suppressions, no hash). Not the same rows, so no baseline: it shows what
 * the table, its indexes and the WAL cost on this machine.
 */
function bareWrite(campaign, now, versions) {
  return {
    text: `INSERT INTO herald.messages (source_kind, source, customer_id, address, site, locale, status, next_attempt_at, due_at, source_version, template_version)
           SELECT 'campaign', $1, id, email, site, locale, 'queued', $2::timestamptz, $2::timestamptz, $3::int, $4::int FROM shop.customers`,
    values: [campaign, now, versions.campaign, versions.template],
  };
}

/**
 * Herald's launch against the hand-written query (and, with `floor`, the bare
 * write): a warm-up of each and the check that herald and the hand-written
 * query write the same rows, then RUNS of each, interleaved, herald last.
 */
async function materialise(db, c, campaign, ab, now, floor) {
  const versions = (await c.query(
    `SELECT (SELECT max(version) FROM herald.object_versions WHERE kind = 'campaign' AND name = $1) AS campaign,
            (SELECT max(version) FROM herald.object_versions WHERE kind = 'template' AND name = 'newsletter') AS template`, [campaign])).rows[0];
  const statement = (q) => async () => {
    await emptied(c);
    const r = await timed(() => c.query(q.text, q.values));
    return { ...r, rows: r.result.rowCount };
  };
  const contenders = {
    ...(floor ? { floor: statement(bareWrite(campaign, now, versions)) } : {}),
    hand: statement(handWritten(campaign, ab, now, versions)),
    herald: async () => {
      await emptied(c);
      const r = await timed(() => launchCampaign(db, campaign, now));
      return { ...r, rows: r.result.materialised };
    },
  };
  const warm = {};
  for (const [who, run] of Object.entries(contenders)) {
    await run();
    warm[who] = await ledger(c);
  }
  const same = warm.hand.rows === warm.herald.rows && warm.hand.checksum === warm.herald.checksum
    && JSON.stringify(warm.hand.statuses) === JSON.stringify(warm.herald.statuses);
  const runs = Object.fromEntries(Object.keys(contenders).map((who) => [who, []]));
  for (let i = 0; i < RUNS; i++) for (const [who, run] of Object.entries(contenders)) runs[who].push(await run());
  for (const r of Object.values(runs).flat()) if (r.rows !== warm.herald.rows) throw new Error(`${campaign}: a run wrote ${r.rows} rows, herald's warm-up ${warm.herald.rows}`);
  return { runs, ledger: warm.herald, handLedger: warm.hand, same };
}

// ── Part 2: sending ─────────────────────────────────────────────────────────
/** Runs `fn`, timing it and noting the cores that other work on the machine took meanwhile. */
async function timed(fn, sinkPid) {
  const before = cpuTicks();
  const watch = watchMachine();
  const t = process.hrtime.bigint();
  const result = await fn();
  const wall = seconds(t);
  const machine = watch.stop();
  watches.push(machine);
  return { result, seconds: wall, cpu: coresUsed(before, cpuTicks(), wall, COPY, { sink: sinkPid }), machine };
}

/** Relaunches the campaign, keeps its first MESSAGES recipients, and delivers them while sampling this process's memory. */
async function send(db, c, sink, now) {
  await emptied(c);
  await launchCampaign(db, CAMPAIGN, now);
  const [cut] = (await c.query(
    `SELECT id FROM herald.messages WHERE source = $1 AND status = 'queued' ORDER BY id OFFSET $2 LIMIT 1`, [CAMPAIGN, MESSAGES])).rows;
  if (cut) {
    // The ledger rewritten without the recipients past MESSAGES: a DELETE would leave their dead rows for the claims to walk.
    await c.query('BEGIN');
    await c.query(`CREATE TEMP TABLE kept ON COMMIT DROP AS SELECT * FROM herald.messages WHERE NOT (source = $1 AND status = 'queued' AND id >= $2)`, [CAMPAIGN, cut.id]);
    await c.query('TRUNCATE herald.messages, herald.message_events');
    await c.query('INSERT INTO herald.messages SELECT * FROM kept');
    await c.query('COMMIT');
  }
  // No VACUUM, no ANALYZE: the ledger is sent as the launch left it (see the header).
  const before = await ledger(c);
  const recipients = before.statuses.queued ?? 0;

  // The long transaction: a snapshot taken before the first claim, held until the last reply.
  const holder = args['no-long-transaction'] ? null : new pg.Client({ connectionString: copy.url, application_name: 'bench launch: long transaction' });
  if (holder) {
    await holder.connect();
    await holder.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    await holder.query('SELECT count(*) FROM herald.runs');
  }
  await sink.take();
  const samples = [];
  // When the send crossed each tenth of its recipients (seconds from its start); [0] is the start.
  const tenths = [0];
  const crossed = (n) => {
    while (tenths.length <= 10 && n >= (recipients * tenths.length) / 10) tenths.push(seconds(t));
  };
  const sentBy = Array(WORKERS).fill(0);
  const sent = () => sentBy.reduce((a, b) => a + b, 0);
  const sample = () => {
    const m = process.memoryUsage();
    samples.push({ sent: sent(), rss: m.rss, heap: m.heapUsed, heapTotal: m.heapTotal, external: m.external });
  };
  sample();
  const t = process.hrtime.bigint();
  const cpu0 = cpuTicks();
  const watch = watchMachine();
  const sampler = setInterval(sample, SAMPLE_MS);
  let last = { at: t, sent: 0 };
  const progress = setInterval(() => {
    const at = process.hrtime.bigint();
    const n = sent();
    const m = process.memoryUsage();
    const rate = (n - last.sent) / (Number(at - last.at) / 1e9);
    console.log(`    ${seconds(t).toFixed(0).padStart(4)} s: ${n.toLocaleString('en').padStart(9)} sent (${Math.round(rate).toLocaleString('en')}/s), RSS ${mb(m.rss)} MB, heap used ${mb(m.heapUsed)} MB, external ${mb(m.external)} MB; ETA ${rate > 0 ? Math.round((recipients - n) / rate) : '?'} s`);
    last = { at, sent: n };
  }, PROGRESS_MS);
  let totals;
  const tr = smtpTransport(`smtp://127.0.0.1:${sink.port}`, { pool: POOL });
  try {
    totals = await Promise.all(Array.from({ length: WORKERS }, (_, k) => deliver(db, {
      channel: channelsOver(tr), log: silentLog, worker: `bench-launch-${k}`,
      sources: [{ kind: 'campaign', name: CAMPAIGN }], loadSource: () => loadCampaignContext(db, CAMPAIGN, () => new Date()),
      onBatch: (x) => { sentBy[k] = x.sent; crossed(sent()); },
    })));
  } finally {
    tr.close();
    clearInterval(sampler);
    clearInterval(progress);
    if (holder) {
      await holder.query('COMMIT');
      await holder.end();
    }
  }
  sample();
  const wall = seconds(t);
  const machine = watch.stop();
  watches.push(machine);
  const cpu = coresUsed(cpu0, cpuTicks(), wall, COPY, { sink: sink.pid });

  // Exact: every recipient sent, nothing else touched, the sink holding exactly the Message-IDs the ledger recorded.
  const after = await ledger(c);
  const tally = await sink.take(true);
  const recorded = new Set((await c.query(`SELECT message_id FROM herald.messages WHERE source = $1 AND status = 'sent'`, [CAMPAIGN])).rows.map((r) => r.message_id));
  const received = new Set(tally.ids);
  const unrecorded = [...received].filter((id) => !recorded.has(id)).length;
  const undelivered = [...recorded].filter((id) => !received.has(id)).length;
  const delivered = totals.reduce((s, x) => s + x.sent, 0);
  const untouched = Object.entries(before.statuses).every(([s, n]) => s === 'queued' || after.statuses[s] === n);
  const exact = after.statuses.sent === recipients && !after.statuses.queued && !after.statuses.claimed && delivered === recipients && untouched
    && Object.keys(after.statuses).length === Object.keys(before.statuses).length
    && tally.accepted === recipients && tally.distinct === recipients && tally.missing === 0
    && recorded.size === recipients && unrecorded === 0 && undelivered === 0;
  const rates = tenths.slice(1).map((at, i) => recipients / 10 / (at - tenths[i]));
  return { recipients, wall, samples, cpu, machine, rates, held: Boolean(holder), before, after, tally, unrecorded, undelivered, exact };
}

// ── Reporting ───────────────────────────────────────────────────────────────
function seconds(t) {
  return Number(process.hrtime.bigint() - t) / 1e9;
}
function mb(bytes) {
  return Math.round(bytes / 2 ** 20);
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const count = (n) => n.toLocaleString('en');
const statuses = (s) => Object.entries(s).map(([k, n]) => `${count(n)} ${k}`).join(', ');

function printMaterialised(label, m) {
  const figures = (who) => {
    const xs = m.runs[who].map((r) => r.seconds);
    return { min: Math.min(...xs), median: median(xs), runs: xs, cpu: median(m.runs[who].map((r) => r.cpu.PostgreSQL)) };
  };
  const line = (name, f) => console.log(`    ${name.padEnd(30)} ${spread(f.runs, (x) => `${x.toFixed(2)} s`)}`);
  const [herald, hand] = [figures('herald'), figures('hand')];
  const other = Math.max(...Object.values(m.runs).flat().map((r) => r.cpu.other));
  console.log(`\n  materialising, ${label}: ${count(m.ledger.rows)} rows (${statuses(m.ledger.statuses)})`);
  line('herald (launchCampaign)', herald);
  line('hand-written INSERT … SELECT', hand);
  if (m.runs.floor) line('floor: bare copy, no checks', figures('floor'));
  console.log(`    herald / hand-written: ${(herald.median / hand.median).toFixed(2)}× (medians), ${(herald.min / hand.min).toFixed(2)}× (minimums)`);
  targets.check(`materialising ${label.split(' ')[0]}, herald median`, herald.median, { max: TARGET_SECONDS, unit: ' s' });
  targets.require(`materialising ${label.split(' ')[0]}: herald's rows equal the hand-written query's`, m.same);
  console.log(`    rows: ${m.same ? 'identical (count, statuses and a checksum of every row)' : `DIFFERENT — hand-written: ${count(m.handLedger.rows)} rows (${statuses(m.handLedger.statuses)})`}`);
  console.log(`    CPU in cores, medians: PostgreSQL ${herald.cpu.toFixed(2)} (herald), ${hand.cpu.toFixed(2)} (hand-written); other work at most ${other.toFixed(2)}`);
  console.log(`    machine: other work took up to ${other.toFixed(2)} cores during a run${Object.values(m.runs).flat().some((r) => r.machine.disturbed) ? ' (DISTURBED)' : ''}`);
}

function printSent(s) {
  const peak = s.samples.reduce((a, b) => (b.rss > a.rss ? b : a));
  const ratio = s.rates[9] / s.rates[0];
  // Peaks follow the garbage collector; the lowest heap in each tenth is what stays (it grows if something is kept).
  const tenths = (pick, of) => Array.from({ length: 10 }, (_, i) => {
    const part = s.samples.filter((x) => x.sent >= (s.recipients * i) / 10 && x.sent <= (s.recipients * (i + 1)) / 10);
    return part.length ? mb(pick(...part.map(of))) : '–';
  }).join(' ');
  const cpu = Object.entries(s.cpu).map(([who, c]) => `${who} ${c.toFixed(2)}`).join(', ');
  console.log(`\n  sending: ${WORKERS} workers, batch ${batch} (herald's default for the project), smtpTransport pool ${POOL}, to the sink in its own process`);
  console.log(`    ${count(s.recipients)} messages in ${s.wall.toFixed(1)} s: ${count(Math.round(s.recipients / s.wall))} messages/s; ${s.held ? 'a transaction held open throughout' : 'no long transaction'}; the ledger not vacuumed`);
  console.log(`    rate in each tenth of the send, messages/s: ${s.rates.map((r) => count(Math.round(r))).join(', ')}`);
  console.log(`    last tenth / first tenth: ${(ratio * 100).toFixed(0)}%`);
  console.log(`    RSS: ${mb(s.samples[0].rss)} MB at the start, peak ${mb(peak.rss)} MB (after ${count(peak.sent)} sent), ${mb(s.samples.at(-1).rss)} MB at the end`);
  console.log(`    in each tenth of the send, MB: peak RSS ${tenths(Math.max, (x) => x.rss)}; lowest heap used ${tenths(Math.min, (x) => x.heap)}`);
  console.log(`    heap used: ${mb(s.samples[0].heap)} MB at the start, peak ${mb(Math.max(...s.samples.map((x) => x.heap)))} MB; heap total peak ${mb(Math.max(...s.samples.map((x) => x.heapTotal)))} MB; external peak ${mb(Math.max(...s.samples.map((x) => x.external)))} MB (${s.samples.length} samples, every ${SAMPLE_MS} ms)`);
  console.log(`    CPU in cores: ${cpu}; ${availableParallelism()} cores`);
  console.log(`    machine: other work took ${s.machine.other.toFixed(2)} cores on average${s.machine.disturbed ? ' (DISTURBED)' : ''}`);
  console.log(`  ledger: before ${statuses(s.before.statuses)}; after ${statuses(s.after.statuses)}; sink: ${count(s.tally.accepted)} accepted, ${count(s.tally.distinct)} distinct Message-IDs${s.tally.missing ? `, ${s.tally.missing} without one` : ''}; ${s.unrecorded} received but not recorded, ${s.undelivered} recorded but not received: ${s.exact ? 'exact' : 'NOT EXACT'}`);
  targets.check(`sending: last tenth's rate / first tenth's${s.held ? ', a transaction open throughout' : ''}`, ratio, { min: TARGET_LAST_TENTH, fmt: (x) => `${(x * 100).toFixed(0)}%` });
  targets.check('sending: peak RSS', mb(peak.rss), { max: TARGET_RSS_MB, unit: ' MB', fmt: (x) => String(x) });
  targets.require('sending: the ledger and the sink exact', s.exact);
}

// ── The run ─────────────────────────────────────────────────────────────────
const now = new Date();
const { reused } = await shopDatabase();
const t = process.hrtime.bigint();
const copy = await copyOfShop(SHOP, COPY);
const dir = workspace();
const db = await openDb(copy.url);
const c = new pg.Client({ connectionString: copy.url });
// Interrupted, the bench still drops its copy of the shop. That ends every
// connection to it: what fails from then on is expected, and not reported.
copy.dropOnSignal(() => rmSync(dir, { recursive: true, force: true }));
await c.connect();
let sink;
try {
  // The batch deliver takes when given none: the deployed project's (delivery.smtp_pool).
  batch = defaultBatchSize((await prepare(db, dir, now)).project.spec);
  const setup = seconds(t);
  const [size] = (await c.query(`SELECT (SELECT count(*) FROM shop.customers)::int AS customers, (SELECT count(*) FROM shop.orders)::int AS orders,
                                        (SELECT count(*) FROM herald.suppressions)::int AS suppressions`)).rows;
  console.log(`\nlaunch benchmark: ${count(size.customers)} customers, ${count(size.orders)} orders, ${count(size.suppressions)} suppressions; PostgreSQL at ${new URL(server).host}, on a copy of ${SHOP} (${reused ? 'reused' : 'seeded in this run'}); ${availableParallelism()} cores`);
  const [{ autovacuum }] = (await c.query('SHOW autovacuum')).rows;
  console.log(`  the server's autovacuum: ${autovacuum}`);
  console.log(`  setup (copy the shop, migrate, add the suppressions, plan and apply the workspace): ${setup.toFixed(1)} s`);
  console.log(`  each launch ${RUNS} times after a warm-up, interleaved with the hand-written query, on an emptied ledger after a CHECKPOINT`);

  const plain = await materialise(db, c, CAMPAIGN, false, now, true);
  printMaterialised(`${CAMPAIGN} (${CONTROL_PERCENT}% control group)`, plain);
  printMaterialised(`${AB_CAMPAIGN} (the same and an A/B test: ${TEST_PERCENT}% test group, ${VARIANTS.length} variants)`, await materialise(db, c, AB_CAMPAIGN, true, now, false));

  if (!args['no-send']) {
    sink = await startSink();
    console.log(`\n  sending ${CAMPAIGN} (${MESSAGES < plain.ledger.statuses.queued ? `its first ${count(MESSAGES)} recipients` : 'every recipient'}); progress every ${PROGRESS_MS / 1000} s:`);
    printSent(await send(db, c, sink, now));
  }
  targets.verdict(watches);
} catch (e) {
  // Interrupted, the queries in flight fail as the copy is dropped: the signal handler exits once it is gone.
  if (copy.interrupted) await new Promise(() => {});
  throw e;
} finally {
  await c.end();
  await db.close();
  await sink?.close();
  await copy.drop();
  rmSync(dir, { recursive: true, force: true });
}
