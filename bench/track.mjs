// npm run bench -- track [--seconds N] [--connections N]
//
// The tracking server (herald serve, src/http/) under load on loopback:
// requests per second and p99 latency of pixel and click requests, measured
// with autocannon against
//   herald   `herald serve` (a child process): events held and written in
//            batches (src/events/ingest.ts)
//   naive    node:http with the same token checks and one INSERT per
//            request (bench/lib/track-baselines.mjs)
//   ceiling  a bare node:http server answering the same pixel (or a fixed
//            redirect) with no token check and no database
// in the same run, one after another, each with the machine to itself.
// Targets from the tracking server's issue: herald ≥ 3× the naive handler
// and ≥ 50% of the ceiling, with no event lost: after each herald run the
// server is stopped with SIGTERM and the events it wrote are counted
// against the responses autocannon received.
//
// The database, herald_bench_track on $HERALD_BENCH_DATABASE_URL's server,
// is made afresh: 10,000 sent ledger messages of one campaign and one link
// set. Requests cycle through 1,000 messages' tokens. `--runs R` (default
// 3) measures each server R times in turn; every run is printed, the
// median counts. The bench measures only while holding the benches' lock,
// watches the machine during the measured runs, prints each target met or
// MISSED, and DISTURBED (not judged) when other work ran
// (bench/lib/judge.mjs).
import { fork, spawn } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import pg from 'pg';
import { openDb } from '../dist/db/db.js';
import { migrate } from '../dist/db/migrate.js';
import { clickToken, openToken } from '../dist/links/tracking.js';
import { databaseUrl, server } from './lib/shop.mjs';
import { coresUsed, cpuTicks } from './lib/cpu.mjs';
import { Targets, benchLock, median, spread, watchMachine } from './lib/judge.mjs';

benchLock();

const TARGET_NAIVE = 3;
const TARGET_CEILING = 0.5;
const DB = 'herald_bench_track';
const MESSAGES = 10_000;
const SECRET = 'bench-track-secret-0123456789abcdef0123456789';
const root = join(import.meta.dirname, '..');

const { values: args } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, connections: { type: 'string', default: '50' }, runs: { type: 'string', default: '3' } } });
const SECONDS = Number(args.seconds);
const CONNECTIONS = Number(args.connections);
const RUNS = Number(args.runs);
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error(`--runs must be a positive whole number, got "${args.runs}"`);

async function admin(sql) {
  const c = new pg.Client({ connectionString: server });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

await admin(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
await admin(`CREATE DATABASE ${DB}`);
const url = databaseUrl(DB);
const db = await openDb(url);
await migrate(db);
await db.query(
  `INSERT INTO herald.messages (source_kind, source, customer_id, address, site, locale, status, sent_at)
   SELECT 'campaign', 'bench', g, 'c' || g || '@example.com', 'shop-en', 'en', 'sent', now() - interval '1 day' FROM generate_series(1, $1::int) g`,
  [MESSAGES],
);
await db.query("INSERT INTO herald.link_sets (hash, urls) VALUES ('bench', ARRAY['https://shop.example.com/sale?utm_source=herald', 'https://shop.example.com/new'])");
// Settled before anything is measured: statistics, and no checkpoint of the seeding during the runs.
await db.query('VACUUM ANALYZE herald.messages');
await db.query('CHECKPOINT');
const ids = (await db.query('SELECT id FROM herald.messages ORDER BY id LIMIT 1000')).map((r) => r.id);
const paths = {
  pixel: ids.map((id) => `/o/${openToken(id, SECRET)}`),
  click: ids.map((id, i) => `/c/${clickToken(id, 'bench', i % 2, SECRET)}`),
};
const events = async () => (await db.query('SELECT count(*)::int AS n FROM herald.message_events'))[0].n;

/** herald serve in a child process, on the repository's workspace (its herald.yaml: base_url at the root). */
async function startHerald() {
  const child = spawn(process.execPath, [...(process.env.HERALD_BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.HERALD_BENCH_PROFILE] : []), join(root, 'dist', 'cli', 'main.js'), 'serve', '--port', '0', '--db', url], {
    cwd: root,
    env: { ...process.env, HERALD_SECRET: SECRET, HERALD_DATABASE_URL: '', HERALD_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c) => {
      out += c;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`herald serve exited with ${code}`)));
  });
  return {
    port,
    pid: child.pid,
    stop: () =>
      new Promise((resolve) => {
        child.removeAllListeners('exit');
        child.on('exit', (code) => resolve(code));
        child.kill('SIGTERM');
      }),
  };
}

async function startBaseline(mode) {
  const child = fork(join(root, 'bench', 'lib', 'track-baselines.mjs'), [mode, url, SECRET], { stdio: 'inherit' });
  const port = await new Promise((resolve) => child.once('message', (m) => resolve(m.port)));
  return { port, pid: child.pid, stop: () => new Promise((resolve) => (child.on('exit', resolve), child.send({ close: true }))) };
}

function load(port, list, seconds) {
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: `http://127.0.0.1:${port}`,
        connections: CONNECTIONS,
        duration: seconds,
        headers: { 'user-agent': 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36' },
        requests: list.map((path) => ({ method: 'GET', path })),
      },
      (err, r) => (err ? reject(err) : resolve(r)),
    );
  });
}

/** One server, one kind of request: a short warm-up, then the measured run. */
async function measure(name, start, kind) {
  const before = await events();
  const s = await start();
  const warm = await load(s.port, paths[kind], 3);
  const t0 = cpuTicks();
  const watch = watchMachine();
  const started = performance.now();
  const r = await load(s.port, paths[kind], SECONDS);
  const machine = watch.stop();
  const cpu = coresUsed(t0, cpuTicks(), (performance.now() - started) / 1000, DB, { server: s.pid });
  const code = await s.stop();
  const expected = kind === 'pixel' ? '200' : '302';
  const ok = (x) => x.statusCodeStats?.[expected]?.count ?? 0;
  const failed = (x) => x.errors + x.timeouts + Object.entries(x.statusCodeStats ?? {}).reduce((n, [status, v]) => n + (status === expected ? 0 : v.count), 0);
  // Every answered request, the warm-up's too, must have its event once the server has stopped.
  return { name, kind, rps: r.requests.average, p99: r.latency.p99, answered: ok(warm) + ok(r), errors: failed(warm) + failed(r), written: (await events()) - before, exit: code, cpu, machine };
}

// A first herald run, not measured: PostgreSQL's caches and the first batches' plans warm up.
for (const kind of ['pixel', 'click']) await measure('herald', startHerald, kind);

const rows = [];
for (let run = 1; run <= RUNS; run++) {
  for (const kind of (process.env.BENCH_ORDER ?? 'pixel,click').split(',')) {
    rows.push({ run, ...(await measure('herald', startHerald, kind)) });
    rows.push({ run, ...(await measure('naive', () => startBaseline('naive'), kind)) });
    rows.push({ run, ...(await measure('ceiling', () => startBaseline('ceiling'), kind)) });
  }
}

console.log(`\ntracking server on loopback: ${CONNECTIONS} connections, ${SECONDS} s per run, ${ids.length} messages' tokens\n`);
// CPU in cores during the measured run: the server process, PostgreSQL (this
// bench's database and the server's own processes), the load generator (this
// process), and the rest; and the server's and PostgreSQL's CPU per request.
console.log('run kind   server    req/s     p99 ms   answered   events written   cores: server  PostgreSQL  autocannon  other   CPU µs per request: server  +PostgreSQL');
const perRequest = (r, cores) => ((cores * 1e6) / r.rps).toFixed(1);
for (const r of rows) {
  const wrote = r.name === 'ceiling' ? '-' : String(r.written);
  const c = r.cpu;
  console.log(
    `${String(r.run).padStart(3)} ${r.kind.padEnd(6)} ${r.name.padEnd(8)} ${r.rps.toFixed(0).padStart(7)}  ${String(r.p99).padStart(7)}  ${String(r.answered).padStart(9)}   ${wrote.padStart(8)}` +
      `          ${c.server.toFixed(2).padStart(6)}  ${c.PostgreSQL.toFixed(2).padStart(10)}  ${c.herald.toFixed(2).padStart(10)}  ${c.other.toFixed(2).padStart(5)}` +
      `   ${perRequest(r, c.server).padStart(25)}  ${perRequest(r, c.server + c.PostgreSQL).padStart(11)}`,
  );
}
const targets = new Targets();
console.log('');
for (const kind of ['pixel', 'click']) {
  const of = (name) => rows.filter((r) => r.kind === kind && r.name === name);
  const [h, n, c] = ['herald', 'naive', 'ceiling'].map((name) => median(of(name).map((r) => r.rps)));
  const rps = (x) => Math.round(x).toLocaleString('en');
  for (const name of ['herald', 'naive', 'ceiling']) console.log(`${kind} ${name.padEnd(8)} req/s ${spread(of(name).map((r) => r.rps), rps)}`);
  // Written beyond answered: requests in flight when autocannon stopped counting, answered all the same.
  for (const r of of('herald')) {
    const lost = Math.max(0, r.answered - r.written);
    targets.require(`${kind}, herald run ${r.run}: no event lost, no error, a clean exit`, lost === 0 && r.exit === 0 && r.errors === 0, `${lost} events lost of ${r.answered} (SIGTERM exit ${r.exit}), ${r.errors} errors`);
  }
  targets.check(`${kind}: herald / naive handler (medians)`, h / n, { min: TARGET_NAIVE, unit: '×' });
  targets.check(`${kind}: herald / ceiling (medians)`, h / c, { min: TARGET_CEILING, fmt: (x) => `${(x * 100).toFixed(0)}%` });
  // On a machine whose cores the load generator and PostgreSQL share with the server, req/s is the
  // machine's; the server's own CPU per request says what herald costs.
  const cost = (name) => median(of(name).map((r) => (r.cpu.server * 1e6) / r.rps));
  console.log(`       server CPU per request (medians): herald ${cost('herald').toFixed(1)} µs, naive ${cost('naive').toFixed(1)} µs, ceiling ${cost('ceiling').toFixed(1)} µs (herald ${(cost('herald') / cost('ceiling')).toFixed(2)}× the ceiling's)`);
}
await db.close();
await admin(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
targets.verdict(rows.map((r) => r.machine));
