// npm run bench -- send
//
// Messages a second from the ledger to an SMTP server: 20,000 messages of
// ~40 KB (the demo newsletter with five products, for distinct customers of
// a seeded demo shop) delivered by herald's workers (src/ledger/worker.ts:
// claim a batch, render, compose MIME, send through smtpTransport's pool of
// SMTP connections, record the outcomes) to a local smtp-server sink in its
// own process (bench/send-sink.mjs), which reads each message's Message-ID
// and discards the rest. PostgreSQL on loopback; the machine's cores are
// shared by herald, the sink and PostgreSQL.
//
// In the same run, against the same sink (warmed up first, see SINK_WARM_UP):
// - the ceiling: the same number of pre-built messages pushed by a minimal
//   pipelined SMTP client (node:net, one round trip per message) over 5
//   connections; no database, no rendering. Measured before and after
//   herald's transport; the better run counts;
// - herald's transport alone: those pre-built messages through smtpTransport
//   (src/channels/email/transport.ts) over 5 connections, as deliver hands them over;
// - the naive baseline: one unpooled nodemailer sendMail at a time, a
//   connection per message, on the first 1,000 and extrapolated.
//
// Targets from the sending issue: the full pipeline at least 1,500 messages
// a second; the pre-built messages through herald's transport at least 50% of
// the ceiling; the ledger exact: every row sent, none left queued, claimed or
// failed, and the sink holding exactly the Message-IDs the ledger recorded.
//
// Each phase prints who used the CPU meanwhile, in cores: this process (the
// client: herald, or the pre-built messages' sender), the sink, PostgreSQL
// and anything else; a phase that other work on the machine slowed down is
// flagged, so its figure is not mistaken for herald's.
//
// `--workers`, `--batch` and `--pool` change the pipeline's configuration
// (deliver calls in this process, their batch size, SMTP connections); the
// defaults are the fastest measured here, though 2 to 4 workers and batches
// of 50 to 200 come within the noise of each other.
import { fork } from 'node:child_process';
import { rmSync } from 'node:fs';
import net from 'node:net';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import nodemailer from 'nodemailer';
import pg from 'pg';
import { openDb } from '../dist/db/db.js';
import { migrate } from '../dist/db/migrate.js';
import { seedShop } from '../dist/demo/seed.js';
import { silentLog } from '../dist/log.js';
import { loadCampaignContext } from '../dist/campaigns/context.js';
import { composeRendered } from '../dist/channels/email/compose.js';
import { deliver } from '../dist/ledger/worker.js';
import { launchCampaign } from '../dist/campaigns/send.js';
import { smtpTransport } from '../dist/channels/email/transport.js';
import { channelsOver } from '../dist/channels/channels.js';
import { benchWorkspace, deployWorkspace } from './lib/workspace.mjs';
import { cpuTicks } from './lib/cpu.mjs';

const server = process.env.HERALD_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const MESSAGES = 20_000;
// ~85% of the demo's customers can be written to; the ledger is trimmed to exactly MESSAGES.
const CUSTOMERS = 25_000;
const SEED = 1;
const CAMPAIGN = 'bench-send';
// The campaign's products: winback's four and one more make the newsletter ~40 KB of MIME.
const PRODUCTS = ['OW-001', 'SH-001', 'BG-001', 'AC-002', 'SH-003'];
const CONNECTIONS = 5;
const NAIVE = 1_000;
// smtp-server runs at ~60% of its speed until its code is compiled (7,000
// against 11,500 messages a second here): the sink gets a whole run's worth
// before anything is timed, herald's transport 2,000.
const SINK_WARM_UP = 20_000;
const TRANSPORT_WARM_UP = 2_000;
// Distinct renders the pre-built messages are made from; each message still has its own Message-ID.
const DISTINCT = 1_000;
// Pre-built messages handed to herald's transport at a time, as deliver hands over a batch.
const IN_FLIGHT = 100;
const TARGET = 1500;
const TARGET_SHARE = 0.5;
// Cores other processes may take during a phase before its figure is flagged as disturbed.
const DISTURBED = 0.25;

const { values: args } = parseArgs({
  options: { workers: { type: 'string', default: '2' }, batch: { type: 'string', default: '100' }, pool: { type: 'string', default: String(CONNECTIONS) } },
});
const [WORKERS, BATCH, POOL] = ['workers', 'batch', 'pool'].map((k) => {
  const v = Number(args[k]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${k} must be a positive whole number, got "${args[k]}"`);
  return v;
});

// ── The shop, the workspace and the ledger ──────────────────────────────────
async function database() {
  const name = `herald_bench_send_${process.pid}`;
  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name}`);
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(server);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: async () => {
      const a = new pg.Client({ connectionString: server });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}

/** The repository's project and templates, with one ready campaign to everyone who can be written to. */
function workspace() {
  return benchWorkspace('herald-bench-send', {
    'segments/everyone.yaml': 'description: Every customer.\nwhere:\n  order_count: { gte: 0 }\n',
    [`campaigns/${CAMPAIGN}.yaml`]: `title: Send benchmark
sites: [shop-en, shop-ru]
audience:
  segment: everyone
template: newsletter
personalized_greeting: true
products: [${PRODUCTS.join(', ')}]
# The bench measures the engine at any hour: no quiet hours. The frequency
# cap stays, so its check at every claim is part of what is measured.
quiet_hours: false
status: ready
`,
  });
}

/** Seeds the shop, applies the workspace, launches the campaign and keeps exactly MESSAGES queued rows. */
async function prepare(db, dir, now) {
  await migrate(db);
  await deployWorkspace(db, dir, now, 'bench send', async (ws) => {
    const sites = ws.project.spec.sites.map((s) => ({ id: s.id, locales: s.locales, currency: s.currency, url: s.url }));
    await seedShop(db, { schema: ws.project.spec.source?.schema ?? 'shop', customers: CUSTOMERS, seed: SEED, sites, now });
  });
  await launchCampaign(db, CAMPAIGN, now);
  // The ledger of the measured run: the first MESSAGES recipients, nothing held out or left out.
  await db.query(`DELETE FROM herald.messages WHERE source = $1 AND status <> 'queued'`, [CAMPAIGN]);
  await db.query(
    `DELETE FROM herald.messages WHERE source = $1 AND id NOT IN (SELECT id FROM herald.messages WHERE source = $1 ORDER BY id LIMIT $2)`,
    [CAMPAIGN, MESSAGES],
  );
  await db.exec('VACUUM ANALYZE herald.messages');
  const [{ n }] = await db.query(`SELECT count(*)::int AS n FROM herald.messages WHERE source = $1 AND status = 'queued'`, [CAMPAIGN]);
  if (n !== MESSAGES) throw new Error(`the campaign's audience is ${n}, short of ${MESSAGES}; seed more customers (CUSTOMERS in bench/send.mjs)`);
}

/**
 * MESSAGES pre-built messages, as deliver would compose them: DISTINCT
 * recipients of the ledger rendered by the campaign's renderer, each render
 * copied with a Message-ID of its own. `wire` is the message as the DATA
 * command carries it (dot-stuffed; composed MIME has no line starting with a
 * dot, so it is the same bytes).
 */
async function prebuilt(db) {
  const ctx = await loadCampaignContext(db, CAMPAIGN, () => new Date());
  const rows = await db.query(
    `SELECT m.id, m.customer_id, m.address AS email, m.site, m.locale, c.first_name, c.last_name, c.city, c.country
       FROM herald.messages m JOIN shop.customers c ON c.id = m.customer_id
      WHERE m.source = $1 ORDER BY m.id LIMIT $2`,
    [CAMPAIGN, DISTINCT],
  );
  const placeholder = 'prebuilt.00000000';
  const renders = [];
  for (const r of rows) {
    const extras = (await ctx.extras([r])).get(r.id);
    const m = composeRendered(await ctx.renderer.render(ctx.message(null), r, extras), { to: r.email, id: placeholder });
    renders.push({ ...m, at: m.raw.indexOf(placeholder) + 'prebuilt.'.length });
  }
  return Array.from({ length: MESSAGES }, (_, i) => {
    const r = renders[i % renders.length];
    const raw = Buffer.from(r.raw);
    const id = String(i).padStart(8, '0');
    raw.write(id, r.at, 'latin1');
    return { raw, wire: dotStuffed(raw), messageId: r.messageId.replace('00000000', id), envelope: r.envelope };
  });
}

function dotStuffed(raw) {
  if (!raw.subarray(raw.length - 2).equals(Buffer.from('\r\n'))) throw new Error('a composed message does not end with CRLF');
  if (raw[0] !== 0x2e && raw.indexOf('\r\n.') < 0) return raw;
  return Buffer.from(raw.toString('latin1').replace(/(^|\r\n)\./g, '$1..'), 'latin1');
}

// ── The sink, in its own process ────────────────────────────────────────────
async function startSink() {
  const child = fork(join(import.meta.dirname, 'send-sink.mjs'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const replies = [];
  child.on('message', (m) => {
    if (m.error) throw new Error(`the sink failed: ${m.error}`);
    replies.shift()?.(m);
  });
  const ask = (m) => new Promise((resolve) => {
    replies.push(resolve);
    if (m) child.send(m);
  });
  const { port } = await ask();
  return {
    port,
    pid: child.pid,
    /** The tally since the last take. */
    take: (ids = false) => ask({ take: true, ids }),
    close: () => new Promise((resolve) => {
      child.once('exit', resolve);
      child.send({ close: true });
      setTimeout(() => child.kill(), 5000).unref();
    }),
  };
}

// ── The ceiling: a minimal pipelined SMTP client ────────────────────────────
/** One SMTP conversation on a socket: `reply()` is the next complete reply, in order. */
function smtpConnection(port) {
  const socket = net.connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  const waiting = [];
  const ready = [];
  let partial = '';
  let lines = [];
  socket.on('data', (chunk) => {
    partial += chunk.toString('latin1');
    let nl;
    while ((nl = partial.indexOf('\r\n')) >= 0) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 2);
      lines.push(line);
      if (line[3] === '-') continue;
      const reply = { code: Number(line.slice(0, 3)), text: lines.join('\n') };
      lines = [];
      const w = waiting.shift();
      if (w) w.resolve(reply);
      else ready.push(reply);
    }
  });
  socket.on('error', (e) => { for (const w of waiting.splice(0)) w.reject(e); });
  const reply = () => (ready.length ? Promise.resolve(ready.shift()) : new Promise((resolve, reject) => waiting.push({ resolve, reject })));
  return { socket, reply };
}

async function expect(replies, codes) {
  for (const code of codes) {
    const r = await replies();
    if (r.code !== code) throw new Error(`the sink answered ${r.text}, expected ${code}`);
  }
}

/**
 * One connection's share of the messages: EHLO, then per message MAIL, RCPT
 * and DATA in one write, and after the 354 the body, its final dot and the
 * next message's commands in one write (RFC 2920): one round trip a message.
 */
async function pipelinedConversation(port, next) {
  const { socket, reply } = smtpConnection(port);
  await expect(reply, [220]);
  socket.write('EHLO bench.herald.local\r\n');
  const ehlo = await reply();
  if (ehlo.code !== 250 || !/^250[- ]PIPELINING$/m.test(ehlo.text)) throw new Error(`the sink does not offer PIPELINING: ${ehlo.text}`);
  const commands = (m) => `MAIL FROM:<${m.envelope.from}>\r\nRCPT TO:<${m.envelope.to}>\r\nDATA\r\n`;
  let m = next();
  if (m) {
    socket.write(commands(m));
    await expect(reply, [250, 250, 354]);
  }
  while (m) {
    const after = next();
    socket.cork();
    socket.write(m.wire);
    socket.write(`.\r\n${after ? commands(after) : 'QUIT\r\n'}`);
    socket.uncork();
    await expect(reply, after ? [250, 250, 250, 354] : [250, 221]);
    m = after;
  }
  socket.end();
}

// ── Timing ───────────────────────────────────────────────────────────────────
/**
 * Runs `fn` and measures its wall time, the sink's tally, and who used the
 * machine's CPU meanwhile (see the header; the busiest others by name).
 */
async function phase(sink, fn, ids = false) {
  await sink.take();
  const before = cpuTicks();
  const t = process.hrtime.bigint();
  const n = await fn();
  const seconds = Number(process.hrtime.bigint() - t) / 1e9;
  const after = cpuTicks();
  const tally = await sink.take(ids);
  const cores = availableParallelism();
  const perTick = (cores * seconds) / (after.total - before.total); // core-seconds a jiffy of /proc/stat stands for
  const used = new Map();
  for (const [pid, p] of after.byPid) {
    const ticks = p.ticks - (before.byPid.get(pid)?.ticks ?? 0);
    if (ticks <= 0) continue;
    const who = pid === String(process.pid) ? 'client' : pid === String(sink.pid) ? 'sink' : p.name === 'postgres' ? 'PostgreSQL' : p.name;
    used.set(who, (used.get(who) ?? 0) + ticks * perTick / seconds);
  }
  const busy = ((after.busy - before.busy) * perTick) / seconds;
  const named = [...used.values()].reduce((a, b) => a + b, 0);
  return { n, seconds, rate: n / seconds, tally, cpu: { busy, used, unattributed: Math.max(0, busy - named) } };
}

/** Each of `lanes` loops sends the next message until none is left. */
async function lanes(count, total, send) {
  let next = 0;
  await Promise.all(Array.from({ length: count }, async () => {
    for (let i = next++; i < total; i = next++) await send(i);
  }));
  return total;
}

// ── The run ──────────────────────────────────────────────────────────────────
const now = new Date();
const dir = workspace();
const database_ = await database();
const db = await openDb(database_.url);
const sink = await startSink();
const url = `smtp://127.0.0.1:${sink.port}`;
try {
  let t = process.hrtime.bigint();
  await prepare(db, dir, now);
  const messages = await prebuilt(db);
  const setup = Number(process.hrtime.bigint() - t) / 1e9;
  const kb = messages.reduce((s, m) => s + m.raw.length, 0) / messages.length / 1024;

  // The ceiling: pre-built messages over CONNECTIONS pipelined connections.
  const pushAll = async (count) => {
    let next = 0;
    await Promise.all(Array.from({ length: CONNECTIONS }, () => pipelinedConversation(sink.port, () => (next < count ? messages[next++] : undefined))));
    return count;
  };
  await phase(sink, () => pushAll(SINK_WARM_UP));
  const ceilings = [await phase(sink, () => pushAll(messages.length))];

  // herald's transport alone: the same messages through smtpTransport's pool, warmed up like the sink.
  const pooled = smtpTransport(url, { pool: CONNECTIONS });
  const sendAll = (count) => lanes(IN_FLIGHT, count, (i) => pooled.send(messages[i], { campaign: CAMPAIGN, ledgerId: i }));
  let transport;
  try {
    await phase(sink, () => sendAll(TRANSPORT_WARM_UP));
    transport = await phase(sink, () => sendAll(messages.length));
  } finally {
    pooled.close();
  }

  ceilings.push(await phase(sink, () => pushAll(messages.length)));
  const ceiling = ceilings.reduce((a, b) => (b.rate > a.rate ? b : a));

  // The naive baseline: one unpooled sendMail at a time, a connection each.
  const naive = await phase(sink, async () => {
    const unpooled = nodemailer.createTransport(url);
    for (let i = 0; i < NAIVE; i++) await unpooled.sendMail({ raw: messages[i].raw, envelope: messages[i].envelope });
    unpooled.close();
    return NAIVE;
  });

  // The full pipeline: WORKERS deliver loops claiming from the ledger, over one pooled transport.
  const pipeline = await phase(sink, async () => {
    const tr = smtpTransport(url, { pool: POOL });
    try {
      const totals = await Promise.all(Array.from({ length: WORKERS }, (_, k) =>
        deliver(db, {
          channel: channelsOver(tr),
          log: silentLog,
          batchSize: BATCH,
          sources: [{ kind: 'campaign', name: CAMPAIGN }],
          loadSource: () => loadCampaignContext(db, CAMPAIGN, () => new Date()),
          worker: `bench-send-${k}`,
        })));
      return totals.reduce((s, x) => s + x.sent, 0);
    } finally {
      tr.close();
    }
  }, true);

  // The ledger exact: every row sent once, and the sink holding exactly the Message-IDs the ledger recorded.
  const statuses = Object.fromEntries((await db.query(
    `SELECT status, count(*)::int AS n FROM herald.messages WHERE source = $1 GROUP BY status`, [CAMPAIGN])).map((r) => [r.status, r.n]));
  const recorded = new Set((await db.query(`SELECT message_id FROM herald.messages WHERE source = $1 AND status = 'sent'`, [CAMPAIGN])).map((r) => r.message_id));
  const received = new Set(pipeline.tally.ids);
  const unrecorded = [...received].filter((id) => !recorded.has(id)).length;
  const undelivered = [...recorded].filter((id) => !received.has(id)).length;
  const exact = statuses.sent === MESSAGES && Object.keys(statuses).length === 1 && pipeline.n === MESSAGES
    && pipeline.tally.accepted === MESSAGES && pipeline.tally.distinct === MESSAGES && pipeline.tally.missing === 0
    && recorded.size === MESSAGES && unrecorded === 0 && undelivered === 0;

  const n = (x) => Math.round(x).toLocaleString('en').padStart(6);
  const pct = (x) => `${(100 * x).toFixed(0)}%`;
  const disturbed = [];
  const cpu = (p, name) => {
    const { client = 0, sink: s = 0, PostgreSQL = 0, ...rest } = Object.fromEntries(p.cpu.used);
    const others = Object.entries(rest).sort((a, b) => b[1] - a[1]);
    const other = others.reduce((a, [, c]) => a + c, p.cpu.unattributed);
    const busiest = others.filter(([, c]) => c >= 0.05).slice(0, 2).map(([who, c]) => `${who} ${c.toFixed(2)}`);
    if (other > DISTURBED) disturbed.push(name);
    return `CPU in cores: client ${client.toFixed(2)}, sink ${s.toFixed(2)}, PostgreSQL ${PostgreSQL.toFixed(2)}, other ${other.toFixed(2)}${busiest.length ? ` (${busiest.join(', ')})` : ''}; ${p.cpu.busy.toFixed(2)} of ${availableParallelism()} busy`;
  };
  const sunk = (p, want) => (p.tally.accepted === want && p.tally.distinct === want ? `sink: ${want.toLocaleString('en')} accepted, all distinct` : `sink: ${p.tally.accepted} accepted, ${p.tally.distinct} distinct — EXPECTED ${want}`);
  const pipelineOk = pipeline.rate >= TARGET;
  const share = transport.rate / ceiling.rate;
  console.log(`\nsend benchmark: ${MESSAGES.toLocaleString('en')} messages of ${kb.toFixed(1)} KB (mean) to an smtp-server sink in its own process, PostgreSQL at ${new URL(server).host}, ${availableParallelism()} cores shared`);
  console.log(`  setup (seed ${CUSTOMERS.toLocaleString('en')} customers, apply, launch, pre-build): ${setup.toFixed(1)} s`);
  console.log(`\n  full pipeline (claim, render, compose, SMTP, mark sent): ${WORKERS} workers, batch ${BATCH}, pool ${POOL}`);
  console.log(`    ${n(pipeline.rate)} messages/s  (${pipeline.seconds.toFixed(2)} s)   target ≥ ${TARGET.toLocaleString('en')}/s: ${pipelineOk ? 'ok' : 'SHORT'}`);
  console.log(`    ${(pipeline.rate / ceiling.rate * 100).toFixed(0)}% of the ceiling, ${(pipeline.rate / naive.rate).toFixed(1)}× the naive baseline`);
  console.log(`    ${cpu(pipeline, 'the full pipeline')}`);
  console.log(`\n  pre-built messages through herald's transport (smtpTransport, pool of ${CONNECTIONS}, ${IN_FLIGHT} in flight)`);
  console.log(`    ${n(transport.rate)} messages/s  (${transport.seconds.toFixed(2)} s)   ${pct(share)} of the ceiling, target ≥ ${pct(TARGET_SHARE)}: ${share >= TARGET_SHARE ? 'ok' : 'SHORT'}`);
  console.log(`    ${cpu(transport, "herald's transport")}; ${sunk(transport, MESSAGES)}`);
  console.log(`\n  ceiling: pre-built messages, minimal pipelined client (node:net), ${CONNECTIONS} connections; the better of two runs`);
  console.log(`    ${n(ceiling.rate)} messages/s  (${ceiling.seconds.toFixed(2)} s; runs before and after herald's transport: ${ceilings.map((c) => Math.round(c.rate).toLocaleString('en')).join(' and ')}/s)`);
  console.log(`    ${cpu(ceiling, 'the ceiling')}; ${sunk(ceiling, MESSAGES)}`);
  console.log(`\n  naive baseline: unpooled nodemailer, one sendMail at a time, first ${NAIVE.toLocaleString('en')} messages`);
  console.log(`    ${n(naive.rate)} messages/s  (${naive.seconds.toFixed(2)} s; ${(MESSAGES / naive.rate).toFixed(0)} s for all ${MESSAGES.toLocaleString('en')})`);
  console.log(`    ${cpu(naive, 'the naive baseline')}; ${sunk(naive, NAIVE)}`);
  console.log(`\n  ledger: ${Object.entries(statuses).map(([s, k]) => `${k.toLocaleString('en')} ${s}`).join(', ')}; sink: ${pipeline.tally.accepted.toLocaleString('en')} accepted, ${pipeline.tally.distinct.toLocaleString('en')} distinct Message-IDs${pipeline.tally.missing ? `, ${pipeline.tally.missing} without one` : ''}; ${unrecorded} received but not recorded, ${undelivered} recorded but not received: ${exact ? 'exact' : 'NOT EXACT'}`);
  if (disturbed.length) console.log(`\n  DISTURBED: other processes took more than ${DISTURBED} of a core during ${disturbed.join(', ')}; run again on a quiet machine`);
  if (!pipelineOk || share < TARGET_SHARE || !exact) process.exitCode = 1;
} finally {
  await db.close();
  await sink.close();
  await database_.drop();
  rmSync(dir, { recursive: true, force: true });
}
