// npm run bench -- scale [--customers 1000000] [--no-long-transaction]
//
// Whether a big send keeps its pace to the end. One `herald send` (the built
// CLI, its defaults, as a shop runs it) of a campaign to every customer of a
// shop of --customers (default 1,000,000), to an SMTP sink in its own
// process (bench/send-sink.mjs), on a PostgreSQL database that never
// vacuums the ledger: autovacuum is off for every herald table, and another
// session holds a REPEATABLE READ transaction open from before the launch to
// the end (a report or a backup on the shop's database), so no dead row of
// the ledger can be cleaned up or even marked dead in an index while the
// campaign sends.
//
// The rate is read afterwards from the ledger's sent_at: the first 10% of
// the messages (from the first sent), each further tenth, and the last 10%.
// Target from issue 17: the rate over the last 10% at least 90% of the rate
// over the first 10%. The ledger must be exact: every row sent, once, and
// the sink holding exactly as many distinct Message-IDs.
//
// The shop is seeded here (one INSERT), in a database of its own that the
// bench drops at the end. The message is the welcome template (about 20 KB
// of MIME): small enough that the database, not rendering, sets the pace.
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { shopContractSql } from '../dist/shop/contract.js';
import { benchWorkspace } from './lib/workspace.mjs';
import { startSink } from './lib/sink.mjs';
import { benchLock, spread, Targets, watchMachine } from './lib/judge.mjs';

benchLock();

const root = join(import.meta.dirname, '..');
const server = process.env.HERALD_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const CAMPAIGN = 'scale';
const TARGET = 0.9;

const { values: args } = parseArgs({
  options: {
    customers: { type: 'string', default: '1000000' },
    'no-long-transaction': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    // Passed to herald send, to compare settings; the judged run uses its defaults.
    workers: { type: 'string' },
    batch: { type: 'string' },
  },
});
const CUSTOMERS = Number(args.customers);
if (!Number.isInteger(CUSTOMERS) || CUSTOMERS < 1000) throw new Error(`--customers must be a whole number of at least 1,000, got "${args.customers}"`);
const LONG = !args['no-long-transaction'];

async function database() {
  const name = `herald_bench_scale_${process.pid}`;
  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(server);
  u.pathname = `/${name}`;
  return {
    name,
    url: u.toString(),
    drop: async () => {
      const a = new pg.Client({ connectionString: server });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}

function workspace() {
  return benchWorkspace('herald-bench-scale', {
    'segments/everyone.yaml': 'description: Every customer.\nwhere:\n  order_count: { gte: 0 }\n',
    [`campaigns/${CAMPAIGN}.yaml`]: `title: Scale benchmark
sites: [shop-en]
audience:
  segment: everyone
template: welcome
approve_audience_over: ${CUSTOMERS}
quiet_hours: false        # the bench measures the engine at any hour
status: ready
`,
  });
}

/** The built CLI, as a shop runs it: resolves with its output, rejects with what it said. */
function herald(argv, env, dir) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, 'dist', 'cli', 'main.js'), ...argv], {
      cwd: dir,
      env: { ...process.env, NO_COLOR: '1', GITHUB_ACTIONS: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`herald ${argv[0]} exited ${code}: ${err || out}`))));
  });
}

const db = await database();
const dir = workspace();
// Ctrl-C or a kill leaves no database behind.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    if (!args.keep) db.drop().finally(() => process.exit(130));
    else process.exit(130);
  });
}
const sink = await startSink();
const client = new pg.Client({ connectionString: db.url });
await client.connect();
const holder = new pg.Client({ connectionString: db.url });
await holder.connect();
try {
  const t0 = Date.now();
  await client.query(shopContractSql('shop'));
  await client.query(
    `INSERT INTO shop.customers (id, email, first_name, last_name, site, locale, country, city, created_at, email_opt_in)
     SELECT i, 'customer' || i || '@example.com', (ARRAY['Anna', 'Ben', 'Clara', 'David', 'Emma', NULL])[1 + i % 6], 'Bench',
            'shop-en', 'en', 'DE', 'Berlin', '2024-01-01T00:00:00Z', true
       FROM generate_series(1, $1::int) AS i`,
    [CUSTOMERS],
  );
  await client.query('VACUUM ANALYZE shop.customers');
  const env = { HERALD_DATABASE_URL: db.url, HERALD_SMTP_URL: `smtp://127.0.0.1:${sink.port}`, HERALD_SECRET: 'bench-scale-secret-of-at-least-32-bytes' };
  await herald(['apply', '--auto-approve'], env, dir);
  // No vacuum of herald's tables but herald's own, whatever the server's settings.
  const { rows: tables } = await client.query(`SELECT format('%I.%I', schemaname, tablename) AS t FROM pg_tables WHERE schemaname = 'herald'`);
  for (const { t } of tables) await client.query(`ALTER TABLE ${t} SET (autovacuum_enabled = false, toast.autovacuum_enabled = false)`);
  if (LONG) {
    await holder.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    await holder.query('SELECT count(*) FROM herald.objects');
  }
  const setup = (Date.now() - t0) / 1000;
  await sink.take();

  // PostgreSQL's checkpoints during the send, printed beside the tenths: after one begins, the first write to each page logs the whole page.
  const checkpoints = async () => (await client.query('SELECT checkpoints_timed::int AS timed, checkpoints_req::int AS req FROM pg_stat_bgwriter')).rows[0];
  const checkpointsBefore = await checkpoints();
  // When each was counted (within the second this polls at; PostgreSQL counts one as it begins), to place it in a tenth.
  const began = [];
  let seen = checkpointsBefore.timed + checkpointsBefore.req;
  const poll = setInterval(() => {
    checkpoints().then((c) => {
      if (c.timed + c.req > seen) began.push(Date.now() / 1000);
      seen = c.timed + c.req;
    }, () => {});
  }, 1000);
  poll.unref();
  const watch = watchMachine();
  const started = Date.now();
  const settings = [...(args.workers ? ['--workers', args.workers] : []), ...(args.batch ? ['--batch', args.batch] : [])];
  const out = await herald(['send', CAMPAIGN, ...settings], env, dir);
  const wall = (Date.now() - started) / 1000;
  const machine = watch.stop();
  const tally = await sink.take();
  clearInterval(poll);
  const checkpointsAfter = await checkpoints();
  if (LONG) await holder.query('COMMIT');

  const { rows: statuses } = await client.query(`SELECT status, count(*)::int AS n FROM herald.messages WHERE source = $1 GROUP BY status`, [CAMPAIGN]);
  const sent = statuses.find((s) => s.status === 'sent')?.n ?? 0;
  // The moment each tenth of the sent messages was recorded: rate per tenth.
  const { rows: marks } = await client.query(
    `SELECT k, extract(epoch FROM sent_at)::float8 AS at FROM (
       SELECT sent_at, row_number() OVER (ORDER BY sent_at, id) AS k FROM herald.messages WHERE source = $1 AND status = 'sent') s
      WHERE k = 1 OR k % greatest(1, ($2::int / 10)) = 0 ORDER BY k`,
    [CAMPAIGN, sent],
  );
  const tenth = Math.max(1, Math.floor(sent / 10));
  const at = new Map(marks.map((m) => [Number(m.k), m.at]));
  const rates = [];
  const checkpointTenths = [];
  for (let i = 0; i < 10; i++) {
    const from = i === 0 ? at.get(1) : at.get(i * tenth);
    const to = at.get((i + 1) * tenth);
    rates.push((i === 0 ? tenth - 1 : tenth) / Math.max(1e-6, to - from));
    for (const b of began) if (b >= from && b < to) checkpointTenths.push(i + 1);
  }
  const dead = (await client.query(`SELECT n_dead_tup::bigint AS n FROM pg_stat_user_tables WHERE schemaname = 'herald' AND relname = 'messages'`)).rows[0]?.n;

  const n = (x) => Math.round(x).toLocaleString('en');
  console.log(`\nscale benchmark: herald send of a ${n(CUSTOMERS)}-customer campaign (welcome template) to an smtp-server sink in its own process; PostgreSQL at ${new URL(server).host}, autovacuum off for herald's tables${LONG ? ', a REPEATABLE READ transaction open in another session throughout' : ''}`);
  console.log(`  setup (seed, apply): ${setup.toFixed(1)} s; herald send${settings.length ? ` ${settings.join(' ')}` : ' (its defaults)'}, launch included: ${wall.toFixed(1)} s (${n(sent / wall)}/s overall); ${n(sent)} sent; ${n(dead ?? 0)} dead rows in herald.messages at the end`);
  console.log(`  rate per tenth of the send (messages/s): ${rates.map(n).join(', ')}`);
  console.log(`  PostgreSQL checkpoints during the send: ${checkpointsAfter.req - checkpointsBefore.req} asked for by the WAL's size (max_wal_size), ${checkpointsAfter.timed - checkpointsBefore.timed} timed (the server's settings, not tuned here)${checkpointTenths.length ? `; they began in tenth${checkpointTenths.length === 1 ? '' : 's'} ${checkpointTenths.join(', ')}` : ''}`);
  console.log(`  tenths: ${spread(rates, n)}`);
  const ratio = rates[9] / rates[0];
  console.log(`  last 10% / first 10%: ${ratio.toFixed(2)}`);
  console.log(`  herald's output: ${out.trim().split('\n')[0]}`);
  const targets = new Targets();
  targets.check('rate over the last 10% / the first 10%', ratio, { min: TARGET });
  targets.require('every row sent', sent === CUSTOMERS && statuses.length === 1, JSON.stringify(statuses));
  targets.require('the sink received each once', tally.accepted === CUSTOMERS && tally.distinct === CUSTOMERS, `${tally.accepted} accepted, ${tally.distinct} distinct`);
  targets.verdict(machine);
} finally {
  await holder.end().catch(() => {});
  await client.end();
  await sink.close();
  if (!args.keep) await db.drop();
  rmSync(dir, { recursive: true, force: true });
}
