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
// set. Requests cycle through 1,000 messages' tokens.
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

const TARGET_NAIVE = 3;
const TARGET_CEILING = 0.5;
const DB = 'herald_bench_track';
const MESSAGES = 10_000;
const SECRET = 'bench-track-secret-0123456789abcdef0123456789';
const root = join(import.meta.dirname, '..');

const { values: args } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, connections: { type: 'string', default: '50' } } });
const SECONDS = Number(args.seconds);
const CONNECTIONS = Number(args.connections);

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
  const started = performance.now();
  const r = await load(s.port, paths[kind], SECONDS);
  const cpu = coresUsed(t0, cpuTicks(), (performance.now() - started) / 1000, DB, { server: s.pid });
  const code = await s.stop();
  const expected = kind === 'pixel' ? '200' : '302';
  const ok = (x) => x.statusCodeStats?.[expected]?.count ?? 0;
  const failed = (x) => x.errors + x.timeouts + Object.entries(x.statusCodeStats ?? {}).reduce((n, [status, v]) => n + (status === expected ? 0 : v.count), 0);
  // Every answered request, the warm-up's too, must have its event once the server has stopped.
  return { name, kind, rps: r.requests.average, p99: r.latency.p99, answered: ok(warm) + ok(r), errors: failed(warm) + failed(r), written: (await events()) - before, exit: code, cpu };
}

// A first herald run, not measured: PostgreSQL's caches and the first batches' plans warm up.
for (const kind of ['pixel', 'click']) await measure('herald', startHerald, kind);

const rows = [];
for (const kind of (process.env.BENCH_ORDER ?? 'pixel,click').split(',')) {
  rows.push(await measure('herald', startHerald, kind));
  rows.push(await measure('naive', () => startBaseline('naive'), kind));
  rows.push(await measure('ceiling', () => startBaseline('ceiling'), kind));
}

console.log(`\ntracking server on loopback: ${CONNECTIONS} connections, ${SECONDS} s per run, ${ids.length} messages' tokens\n`);
// CPU in cores during the measured run: the server process, PostgreSQL (this
// bench's database and the server's own processes), the load generator (this
// process), and the rest; and the server's and PostgreSQL's CPU per request.
console.log('kind   server    req/s     p99 ms   answered   events written   cores: server  PostgreSQL  autocannon  other   CPU µs per request: server  +PostgreSQL');
const perRequest = (r, cores) => ((cores * 1e6) / r.rps).toFixed(1);
for (const r of rows) {
  const wrote = r.name === 'ceiling' ? '-' : String(r.written);
  const c = r.cpu;
  console.log(
    `${r.kind.padEnd(6)} ${r.name.padEnd(8)} ${r.rps.toFixed(0).padStart(7)}  ${String(r.p99).padStart(7)}  ${String(r.answered).padStart(9)}   ${wrote.padStart(8)}` +
      `          ${c.server.toFixed(2).padStart(6)}  ${c.PostgreSQL.toFixed(2).padStart(10)}  ${c.herald.toFixed(2).padStart(10)}  ${c.other.toFixed(2).padStart(5)}` +
      `   ${perRequest(r, c.server).padStart(25)}  ${perRequest(r, c.server + c.PostgreSQL).padStart(11)}`,
  );
}
let ok = true;
console.log('');
for (const kind of ['pixel', 'click']) {
  const [h, n, c] = ['herald', 'naive', 'ceiling'].map((name) => rows.find((r) => r.kind === kind && r.name === name));
  const vsNaive = h.rps / n.rps;
  const vsCeiling = h.rps / c.rps;
  // Written beyond answered: requests in flight when autocannon stopped counting, answered all the same.
  const lost = Math.max(0, h.answered - h.written);
  const pass = vsNaive >= TARGET_NAIVE && vsCeiling >= TARGET_CEILING && lost === 0 && h.exit === 0 && h.errors === 0;
  ok &&= pass;
  console.log(
    `${kind}: herald ${vsNaive.toFixed(2)}× the naive handler (target ≥ ${TARGET_NAIVE}×), ${(vsCeiling * 100).toFixed(0)}% of the ceiling (target ≥ ${TARGET_CEILING * 100}%), ` +
      `${lost} events lost of ${h.answered} (SIGTERM exit ${h.exit}), ${h.errors} errors: ${pass ? 'ok' : 'MISSED'}`,
  );
  // On a machine whose cores the load generator and PostgreSQL share with the server, req/s is the
  // machine's; the server's own CPU per request says what herald costs.
  const cost = (r) => (r.cpu.server * 1e6) / r.rps;
  console.log(`       server CPU per request: herald ${cost(h).toFixed(1)} µs, naive ${cost(n).toFixed(1)} µs, ceiling ${cost(c).toFixed(1)} µs (herald ${(cost(h) / cost(c)).toFixed(2)}× the ceiling's)`);
}
await db.close();
await admin(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
process.exitCode = ok ? 0 : 1;
