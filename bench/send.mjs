// npm run bench -- send [--runs R] [--workers W] [--batch B] [--pool P] [--profile DIR]
//
// Messages a second from the ledger to an SMTP server, measured as a shop
// runs it: `herald send <campaign>` with the built CLI (dist/cli/main.js)
// and its defaults, a fresh process and a fresh launch each run, so every
// run pays start-up, the launch (the audience materialised into the ledger)
// and the MJML compile, then claims, renders, composes and sends 20,000
// messages of ~40 KB (the demo newsletter with five products, to distinct
// customers of a seeded demo shop) and records each reply. The SMTP server
// is a local smtp-server sink in its own process (bench/send-sink.mjs),
// which reads each message's Message-ID and discards the rest. PostgreSQL
// on loopback; the machine's cores are shared by herald, the sink and
// PostgreSQL.
//
// The sink greets at once: smtp-server holds every greeting 100 ms, which
// a client opening a connection per message would measure and nothing else.
// The ceiling is measured once against a stock smtp-server too (greeting
// pause kept; the sink's other settings: no AUTH, no STARTTLS, no reverse
// lookup).
//
// In each round, against the same sink (warmed up first, see SINK_WARM_UP),
// one run of each, every run printed, the median of each counting:
// - the ceiling: the same number of pre-built messages pushed by a minimal
//   pipelined SMTP client (node:net, one round trip per message) over 5
//   connections; no database, no rendering;
// - herald send: the judged figure (CLI, defaults, launch included);
// - herald in-process: deliver() (src/ledger/worker.ts) called in this
//   process on a campaign launched beforehand, with herald send's defaults
//   (1 worker, a pool of 5, and the worker's default batch: 20 messages a
//   connection, at least 50) unless --workers, --batch or --pool say
//   otherwise: the engine without start-up, launch and compile;
// - herald's transport alone: the pre-built messages through smtpTransport
//   (src/channels/email/transport.ts) over 5 connections, 100 in flight;
// - what a developer would write for the same 20,000 customers: one query
//   for them, the newsletter's MJML compiled once, nunjucks rendering each
//   message's HTML, text and subject, nodemailer with `pool: true,
//   maxConnections: 5`, 10 sendMail calls in flight; once with nodemailer's
//   default settings (quoted-printable bodies) and once with
//   `textEncoding: 'base64'`;
// - naive, a different workload: the pre-built messages, one unpooled
//   nodemailer sendMail at a time, a connection each, no rendering, on the
//   first 1,000 and extrapolated.
//
// `--profile DIR` writes a V8 CPU profile (node --cpu-prof) of every herald
// send run into DIR, to open in Chrome's DevTools or read with a script.
//
// Every run also prints its CPU time a message: the sender's (herald, or the
// baseline's client), the sink's and PostgreSQL's, read from /proc
// (watchMachine in bench/lib/judge.mjs); the summary says what bounds herald
// send: its one sending thread, and the cores it shares with the sink and
// PostgreSQL.
//
// Targets: herald send at least 60% of the ceiling measured in the same run
// (the speed issue, 17); the ledger exact in every herald run (every row of
// the campaign sent, none left queued, claimed or failed, and the sink
// holding exactly the Message-IDs the ledger recorded) and every baseline
// run's messages all received, each once (required, whatever the load).
// The transport alone at least 50% of the ceiling (the sending issue).
// Every run is sent as if on a day of its own, 8 days after the last, so
// the frequency cap of herald.yaml (3 a week) never counts an earlier run.
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { rmSync } from 'node:fs';
import net from 'node:net';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import nodemailer from 'nodemailer';
import nunjucks from 'nunjucks';
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
import { greeting } from '../dist/render/greeting.js';
import { compileMjml } from '../dist/render/mjml.js';
import { productTokens } from '../dist/render/products.js';
import { desiredObjects } from '../dist/state/objects.js';
import { benchWorkspace, deployWorkspace } from './lib/workspace.mjs';
import { textOfHtml } from './lib/mime.mjs';
import { startSink } from './lib/sink.mjs';
import { Targets, benchLock, median, spread, watchMachine } from './lib/judge.mjs';

benchLock();

const root = join(import.meta.dirname, '..');
const server = process.env.HERALD_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const MESSAGES = 20_000;
// ~85% of the demo's customers can be written to; those beyond the first MESSAGES are opted out, so every launch queues exactly MESSAGES.
const CUSTOMERS = 25_000;
const SEED = 1;
const SECRET = 'bench-send-link-signing-secret-of-44-characters';
// The campaign's products: winback's four and one more make the newsletter ~40 KB of MIME.
const PRODUCTS = ['OW-001', 'SH-001', 'BG-001', 'AC-002', 'SH-003'];
const CONNECTIONS = 5;
const NAIVE = 1_000;
const DEVELOPER_IN_FLIGHT = 10;
// smtp-server runs at ~60% of its speed until its code is compiled: the
// sink gets a whole run's worth before anything is timed, herald's
// transport and the developer's loop 2,000 each.
const SINK_WARM_UP = 20_000;
const WARM_UP = 2_000;
// Distinct renders the pre-built messages are made from; each message still has its own Message-ID.
const DISTINCT = 1_000;
// Pre-built messages handed to herald's transport at a time, as deliver hands over a batch.
const IN_FLIGHT = 100;
const TARGET_SHARE = 0.6;
const TARGET_TRANSPORT_SHARE = 0.5;
// Each run's day: noon in Berlin, 8 days after the last (the frequency cap is 3 a week).
const FIRST_NOON = Date.parse('2027-01-04T11:00:00Z');
const DAY_STEP_MS = 8 * 86_400_000;
const ADDRESS = `'^[^@[:space:]]+@[^@[:space:]]+\\.[^@[:space:]]+$'`;

const { values: args } = parseArgs({
  options: { runs: { type: 'string', default: '3' }, workers: { type: 'string', default: '1' }, batch: { type: 'string' }, pool: { type: 'string', default: String(CONNECTIONS) }, profile: { type: 'string' } },
});
const PROFILE = args.profile;
const [RUNS, WORKERS, BATCH, POOL] = ['runs', 'workers', 'batch', 'pool'].map((k) => {
  if (args[k] === undefined) return undefined; // --batch: herald's own default (defaultBatchSize)
  const v = Number(args[k]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${k} must be a positive whole number, got "${args[k]}"`);
  return v;
});
process.env.HERALD_SECRET = SECRET;

let day = 0;
/** The next run's day (see the header). */
const nextDay = () => new Date(FIRST_NOON + day++ * DAY_STEP_MS);
const cliCampaign = (r) => `bench-send-cli-${r}`;
const inProcessCampaign = (r) => `bench-send-in-process-${r}`;
const PREBUILT = 'bench-send-prebuilt';

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

/** The repository's project and templates, with one ready campaign per run to everyone who can be written to. */
function workspace() {
  const campaign = (name) => [`campaigns/${name}.yaml`, `title: Send benchmark
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
`];
  const names = [PREBUILT, ...Array.from({ length: RUNS }, (_, i) => [cliCampaign(i + 1), inProcessCampaign(i + 1)]).flat()];
  return benchWorkspace('herald-bench-send', {
    'segments/everyone.yaml': 'description: Every customer.\nwhere:\n  order_count: { gte: 0 }\n',
    ...Object.fromEntries(names.map(campaign)),
  });
}

/**
 * Seeds the shop and applies the workspace; launches the pre-built messages'
 * campaign and opts out everyone beyond its first MESSAGES recipients, so
 * every launch queues exactly MESSAGES. Returns the workspace.
 */
async function prepare(db, dir) {
  await migrate(db);
  const ws = await deployWorkspace(db, dir, new Date(FIRST_NOON), 'bench send', async (w) => {
    const sites = w.project.spec.sites.map((s) => ({ id: s.id, locales: s.locales, currency: s.currency, url: s.url }));
    await seedShop(db, { schema: w.project.spec.source?.schema ?? 'shop', customers: CUSTOMERS, seed: SEED, sites, now: new Date(FIRST_NOON) });
  });
  await launchCampaign(db, PREBUILT, new Date(FIRST_NOON));
  await db.query(
    `UPDATE shop.customers SET email_opt_in = false
      WHERE email_opt_in AND id NOT IN (SELECT customer_id FROM herald.messages WHERE source = $1 AND status = 'queued' ORDER BY id LIMIT $2)`,
    [PREBUILT, MESSAGES],
  );
  const [{ n }] = await db.query(`SELECT count(*)::int AS n FROM herald.messages WHERE source = $1 AND status = 'queued'`, [PREBUILT]);
  if (n < MESSAGES) throw new Error(`the campaign's audience is ${n}, short of ${MESSAGES}; seed more customers (CUSTOMERS in bench/send.mjs)`);
  await db.exec('ANALYZE');
  return ws;
}

/**
 * MESSAGES pre-built messages, as deliver would compose them: DISTINCT
 * recipients of the ledger rendered by the campaign's renderer, each render
 * copied with a Message-ID of its own. `wire` is the message as the DATA
 * command carries it (dot-stuffed; composed MIME has no line starting with a
 * dot, so it is the same bytes). The campaign's rows are deleted afterwards.
 */
async function prebuilt(db) {
  const ctx = await loadCampaignContext(db, PREBUILT, () => new Date(FIRST_NOON));
  const rows = await db.query(
    `SELECT m.id, m.customer_id, m.address AS email, m.site, m.locale, c.first_name, c.last_name, c.city, c.country
       FROM herald.messages m JOIN shop.customers c ON c.id = m.customer_id
      WHERE m.source = $1 AND m.status = 'queued' ORDER BY m.id LIMIT $2`,
    [PREBUILT, DISTINCT],
  );
  const placeholder = 'prebuilt.00000000';
  const renders = [];
  for (const r of rows) {
    const extras = (await ctx.extras([r])).get(r.id);
    const m = composeRendered(await ctx.renderer.render(ctx.message(null), r, extras), { to: r.email, id: placeholder });
    renders.push({ ...m, at: m.raw.indexOf(placeholder) + 'prebuilt.'.length });
  }
  await db.query('DELETE FROM herald.messages WHERE source = $1', [PREBUILT]);
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

// ── What a developer would write ────────────────────────────────────────────
/**
 * The text part's template, made once from the compiled HTML (image-only
 * links dropped, then html-to-text, as herald makes its text part), tidied.
 */
function textTemplate(html) {
  return textOfHtml(html).replace(/\n{3,}/g, '\n\n');
}

/**
 * The developer's script, set up once: the newsletter's MJML compiled to
 * HTML, its HTML, text and subject compiled by nunjucks, the products read
 * and priced per locale, each site's tokens and sender.
 */
async function developerScript(ws, client) {
  const project = ws.project.spec;
  const template = desiredObjects(ws).find((o) => o.kind === 'template' && o.name === 'newsletter').spec;
  const env = new nunjucks.Environment(null, { autoescape: true });
  const plain = new nunjucks.Environment(null, { autoescape: false });
  const templates = {};
  for (const l of ['en', 'ru']) {
    const html = await compileMjml(template.bodies[l], `templates/newsletter/${l}.mjml`);
    templates[l] = { html: nunjucks.compile(html, env), text: nunjucks.compile(textTemplate(html), plain), subject: nunjucks.compile(template.subject[l], plain), preheader: template.preheader?.[l] ?? '' };
  }
  const { rows: products } = await client.query('SELECT sku, name, category, price, currency, image_url, url FROM shop.products WHERE sku = ANY($1) ORDER BY array_position($1, sku)', [PRODUCTS]);
  const priced = { en: productTokens(products, 'en'), ru: productTokens(products, 'ru') };
  const sites = new Map(project.sites.map((s) => [s.id, {
    site: s,
    tokens: { id: s.id, name: s.name, url: s.url, postal_address: s.postal_address ?? '', currency: s.currency, brand: s.brand ?? {} },
    from: { name: s.sender.name ?? s.name, address: s.sender.from },
    replyTo: s.sender.reply_to,
  }]));
  const sign = (text) => createHmac('sha256', SECRET).update(text).digest('base64url');
  const base = project.tracking.base_url.replace(/\/+$/, '');
  return { templates, priced, sites, sign, base };
}

/** One query for the customers, then each message rendered with nunjucks and handed to a pooled nodemailer, DEVELOPER_IN_FLIGHT at a time. */
async function developerLoop(script, client, port, limit, transportOptions = {}) {
  const { rows } = await client.query(
    `SELECT id, email, first_name, last_name, site, locale FROM shop.customers
      WHERE email_opt_in AND email ~ ${ADDRESS} ORDER BY id LIMIT $1`,
    [limit],
  );
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true, pool: true, maxConnections: 5, ...transportOptions });
  try {
    await lanes(DEVELOPER_IN_FLIGHT, rows.length, async (i) => {
      const c = rows[i];
      const s = script.sites.get(c.site);
      const t = script.templates[c.locale] ?? script.templates[s.site.default_locale];
      const unsubscribe = `${script.base}/unsubscribe/${c.id}.${c.site}.${script.sign(`unsubscribe:${c.id}:${c.site}`)}`;
      const ctx = {
        customer: c,
        greeting: greeting(c.locale, c.first_name, true, s.site),
        site: s.tokens,
        preheader: t.preheader,
        products: script.priced[c.locale] ?? script.priced.en,
        links: { unsubscribe, auto_login: `${s.site.url}/login/${c.id}.${script.sign(`login:${c.id}`)}` },
      };
      await transport.sendMail({
        from: s.from,
        replyTo: s.replyTo,
        to: c.email,
        subject: t.subject.render(ctx).trim(),
        html: t.html.render(ctx),
        text: t.text.render(ctx),
        headers: { 'List-Unsubscribe': `<${unsubscribe}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' },
      });
    });
  } finally {
    transport.close();
  }
  return rows.length;
}

// ── herald ──────────────────────────────────────────────────────────────────
/** `herald send <campaign>` with the built CLI and its defaults: resolves to its --json result. */
function heraldSend(campaign, now, dir, dbUrl, smtpUrl) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...(PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE}`] : []), join(root, 'dist', 'cli', 'main.js'), 'send', campaign, '--now', now.toISOString(), '--json', '--dir', dir, '--db', dbUrl], {
      env: { ...process.env, NO_COLOR: '1', HERALD_DATABASE_URL: '', HERALD_SMTP_URL: smtpUrl, HERALD_SECRET: SECRET, GITHUB_ACTIONS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`herald send exited ${code}: ${err || out}`))));
  });
}

/** deliver() in this process on a campaign launched beforehand, over one pooled transport. */
async function inProcess(db, campaign, start, smtpUrl) {
  const t0 = Date.now();
  const clock = () => new Date(start.getTime() + Date.now() - t0);
  const tr = smtpTransport(smtpUrl, { pool: POOL });
  try {
    const totals = await Promise.all(Array.from({ length: WORKERS }, (_, k) =>
      deliver(db, {
        channel: channelsOver(tr),
        log: silentLog,
        clock,
        ...(BATCH !== undefined ? { batchSize: BATCH } : {}),
        sources: [{ kind: 'campaign', name: campaign }],
        loadSource: () => loadCampaignContext(db, campaign, clock),
        worker: `bench-send-${k}`,
      })));
    return totals.reduce((s, x) => s + x.sent, 0);
  } finally {
    tr.close();
  }
}

/** A campaign's ledger and the sink's Message-IDs: exact when every recipient was sent once and the sink holds exactly what the ledger recorded. */
async function ledgerCheck(db, campaign, tally, reported) {
  const statuses = Object.fromEntries((await db.query(
    `SELECT status, count(*)::int AS n FROM herald.messages WHERE source = $1 GROUP BY status`, [campaign])).map((r) => [r.status, r.n]));
  const recorded = new Set((await db.query(`SELECT message_id FROM herald.messages WHERE source = $1 AND status = 'sent'`, [campaign])).map((r) => r.message_id));
  const received = new Set(tally.ids);
  const unrecorded = [...received].filter((id) => !recorded.has(id)).length;
  const undelivered = [...recorded].filter((id) => !received.has(id)).length;
  const unsettled = Object.keys(statuses).filter((s) => s !== 'sent' && s !== 'suppressed');
  const exact = statuses.sent === MESSAGES && unsettled.length === 0 && reported === MESSAGES
    && tally.accepted === MESSAGES && tally.distinct === MESSAGES && tally.missing === 0
    && recorded.size === MESSAGES && unrecorded === 0 && undelivered === 0;
  const text = `ledger ${Object.entries(statuses).map(([s, k]) => `${k.toLocaleString('en')} ${s}`).join(', ')}; sink ${tally.accepted.toLocaleString('en')} accepted, ${tally.distinct.toLocaleString('en')} distinct${tally.missing ? `, ${tally.missing} without a Message-ID` : ''}; ${unrecorded} received but not recorded, ${undelivered} recorded but not received`;
  return { exact, text };
}

// ── Timing ───────────────────────────────────────────────────────────────────
/** Runs `fn` (resolving to the messages it sent), timing it and watching the machine; then the sink's tally. */
async function phase(sink, fn, ids = false) {
  await sink.take();
  const watch = watchMachine({ sink: sink.pid });
  const t = process.hrtime.bigint();
  const n = await fn();
  const seconds = Number(process.hrtime.bigint() - t) / 1e9;
  const machine = watch.stop();
  const tally = await sink.take(ids);
  return { n, seconds, rate: n / seconds, tally, machine };
}

/** Each of `count` loops takes the next index until none is left. */
async function lanes(count, total, send) {
  let next = 0;
  await Promise.all(Array.from({ length: count }, async () => {
    for (let i = next++; i < total; i = next++) await send(i);
  }));
  return total;
}

/**
 * A run's CPU time a message, in µs, by who spent it (watchMachine's
 * groups): the sender, `who` it is (herald or the baseline's client: the CLI
 * run this bench spawned for herald send, this process for the rest), the
 * sink, PostgreSQL.
 */
function cpuPerMessage(kind, x) {
  const us = (cores) => Math.round((cores * x.seconds * 1e6) / x.n);
  return {
    who: kind === 'cli' || kind === 'inProcess' ? 'herald' : 'client',
    sender: us(kind === 'cli' ? x.machine.by.spawned : x.machine.by.bench),
    sink: us(x.machine.by.sink),
    pg: us(x.machine.by.PostgreSQL),
  };
}

// ── The run ──────────────────────────────────────────────────────────────────
const dir = workspace();
const database_ = await database();
const db = await openDb(database_.url);
const client = new pg.Client({ connectionString: database_.url });
await client.connect();
const sink = await startSink();
const url = `smtp://127.0.0.1:${sink.port}`;
const targets = new Targets('targets (herald send: the built CLI with its defaults)');
const watches = [];
try {
  let t = process.hrtime.bigint();
  const ws = await prepare(db, dir);
  const messages = await prebuilt(db);
  const script = await developerScript(ws, client);
  const setup = Number(process.hrtime.bigint() - t) / 1e9;
  const kb = messages.reduce((s, m) => s + m.raw.length, 0) / messages.length / 1024;
  const [{ n: reachable }] = (await client.query(`SELECT count(*)::int AS n FROM shop.customers WHERE email_opt_in AND email ~ ${ADDRESS}`)).rows;
  if (reachable !== MESSAGES) throw new Error(`the developer's query finds ${reachable} customers, herald's audience ${MESSAGES}: they must be the same customers`);

  const pushAll = async (port, count) => {
    let next = 0;
    await Promise.all(Array.from({ length: CONNECTIONS }, () => pipelinedConversation(port, () => (next < count ? messages[next++] : undefined))));
    return count;
  };
  const pooled = smtpTransport(url, { pool: CONNECTIONS });
  const sendAll = (count) => lanes(IN_FLIGHT, count, (i) => pooled.send(messages[i], { source: 'bench-send-transport', ledgerId: i }));

  // Warm-ups: the sink, herald's transport and the developer's loop; herald send starts cold each run, as a user's does.
  await phase(sink, () => pushAll(sink.port, SINK_WARM_UP));
  await phase(sink, () => sendAll(WARM_UP));
  await phase(sink, () => developerLoop(script, client, sink.port, WARM_UP));

  const runs = { ceiling: [], cli: [], inProcess: [], transport: [], nodemailer: [], base64: [], naive: [] };
  const note = (kind, p, problems = '') => {
    runs[kind].push({ ...p, problems });
    watches.push(p.machine);
  };
  const received = (label, p, want) => {
    const ok = p.tally.accepted === want && p.tally.distinct === want && p.tally.missing === 0;
    targets.require(label, ok, `the sink got ${p.tally.accepted} messages, ${p.tally.distinct} distinct Message-IDs, expected ${want}`);
    return ok ? '' : 'NOT EXACT';
  };
  for (let r = 1; r <= RUNS; r++) {
    console.log(`round ${r} of ${RUNS}…`);
    const ceiling = await phase(sink, () => pushAll(sink.port, messages.length));
    note('ceiling', ceiling, received(`ceiling run ${r}`, ceiling, MESSAGES));

    const cliDay = nextDay();
    let cliResult;
    const cli = await phase(sink, async () => {
      cliResult = await heraldSend(cliCampaign(r), cliDay, dir, database_.url, url);
      return cliResult.sent;
    }, true);
    const cliLedger = await ledgerCheck(db, cliCampaign(r), cli.tally, cliResult.sent);
    targets.require(`herald send run ${r}`, cliLedger.exact, cliLedger.text);
    note('cli', cli, cliLedger.exact ? '' : `NOT EXACT: ${cliLedger.text}`);

    const inDay = nextDay();
    await launchCampaign(db, inProcessCampaign(r), inDay);
    const inner = await phase(sink, () => inProcess(db, inProcessCampaign(r), inDay, url), true);
    const innerLedger = await ledgerCheck(db, inProcessCampaign(r), inner.tally, inner.n);
    targets.require(`herald in-process run ${r}`, innerLedger.exact, innerLedger.text);
    note('inProcess', inner, innerLedger.exact ? '' : `NOT EXACT: ${innerLedger.text}`);

    const transport = await phase(sink, () => sendAll(messages.length));
    note('transport', transport, received(`herald's transport run ${r}`, transport, MESSAGES));

    const dev = await phase(sink, () => developerLoop(script, client, sink.port, MESSAGES));
    note('nodemailer', dev, received(`nodemailer pooled run ${r}`, dev, MESSAGES));
    const dev64 = await phase(sink, () => developerLoop(script, client, sink.port, MESSAGES, { textEncoding: 'base64' }));
    note('base64', dev64, received(`nodemailer pooled base64 run ${r}`, dev64, MESSAGES));

    const naive = await phase(sink, async () => {
      const unpooled = nodemailer.createTransport(url);
      for (let i = 0; i < NAIVE; i++) await unpooled.sendMail({ raw: messages[i].raw, envelope: messages[i].envelope });
      unpooled.close();
      return NAIVE;
    });
    note('naive', naive, received(`naive run ${r}`, naive, NAIVE));
  }
  pooled.close();

  // The ceiling once against smtp-server as it comes (its 100 ms greeting pause kept).
  const stockSink = await startSink(true);
  let stock;
  try {
    await phase(stockSink, () => pushAll(stockSink.port, SINK_WARM_UP));
    stock = await phase(stockSink, () => pushAll(stockSink.port, messages.length));
    watches.push(stock.machine);
    received('ceiling, stock smtp-server', stock, MESSAGES);
  } finally {
    await stockSink.close();
  }

  const mid = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, median(v.map((x) => x.rate))]));
  const rate = (x) => `${Math.round(x).toLocaleString('en')}/s`;
  const show = (title, kind, extra = () => '') => {
    console.log(`\n  ${title}: ${spread(runs[kind].map((x) => x.rate), (x) => Math.round(x).toLocaleString('en'))} messages/s`);
    runs[kind].forEach((x, i) => {
      console.log(`    run ${i + 1}: ${rate(x.rate).padStart(8)}  (${x.n.toLocaleString('en')} in ${x.seconds.toFixed(2)} s; cores: ours ${x.machine.ours.toFixed(2)}, other ${x.machine.other.toFixed(2)}${x.machine.disturbed ? ', disturbed' : ''})${extra(x, i)}${x.problems ? `  ${x.problems}` : ''}`);
      const c = cpuPerMessage(kind, x);
      console.log(`           CPU a message: ${c.who} ${c.sender} µs, sink ${c.sink} µs, PostgreSQL ${c.pg} µs`);
    });
  };
  console.log(`\nsend benchmark: ${MESSAGES.toLocaleString('en')} messages of ${kb.toFixed(1)} KB (mean) to an smtp-server sink in its own process, PostgreSQL at ${new URL(server).host}, ${availableParallelism()} cores shared`);
  console.log(`  the sink greets at once: smtp-server's 100 ms greeting pause is removed (bench/send-sink.mjs); the ceiling against the stock server is below`);
  console.log(`  setup (seed ${CUSTOMERS.toLocaleString('en')} customers, apply, pre-build, the developer's templates): ${setup.toFixed(1)} s; ${RUNS} rounds, one run of each a round, alternating; the median run counts`);
  show('herald send (built CLI, its defaults; start-up, launch and MJML compile included, a fresh launch each run)', 'cli', (x) => `, ${(x.rate / runs.ceiling[runs.cli.indexOf(x)].rate * 100).toFixed(0)}% of that round's ceiling`);
  show(`herald in-process (deliver(): ${WORKERS} worker${WORKERS === 1 ? '' : 's'}, batch ${BATCH ?? "herald's default"}, pool ${POOL}; launched beforehand, not timed)`, 'inProcess');
  show(`ceiling: pre-built messages, minimal pipelined client (node:net), ${CONNECTIONS} connections`, 'ceiling');
  console.log(`    against a stock smtp-server (100 ms greeting pause kept), once: ${rate(stock.rate)} (${stock.seconds.toFixed(2)} s; other work ${stock.machine.other.toFixed(2)} cores)`);
  show(`pre-built messages through herald's transport (smtpTransport, pool of ${CONNECTIONS}, ${IN_FLIGHT} in flight)`, 'transport');
  show(`developer's loop: nunjucks per recipient, nodemailer pool: true, maxConnections: 5, ${DEVELOPER_IN_FLIGHT} in flight, default settings`, 'nodemailer');
  show(`developer's loop, the same with textEncoding: 'base64'`, 'base64');
  show(`naive, a different workload: pre-built messages, unpooled nodemailer, one sendMail at a time, first ${NAIVE.toLocaleString('en')} (all ${MESSAGES.toLocaleString('en')} would take ${(MESSAGES / mid.naive).toFixed(0)} s)`, 'naive');
  console.log(`\n  herald send against each (medians): ${(mid.cli / mid.ceiling * 100).toFixed(0)}% of the ceiling; ${(mid.cli / mid.nodemailer).toFixed(1)}× the developer's pooled nodemailer loop, ${(mid.cli / mid.base64).toFixed(1)}× with base64; ${(mid.cli / mid.naive).toFixed(1)}× the naive loop (not the same work)`);
  console.log(`  herald in-process against each (medians): ${(mid.inProcess / mid.ceiling * 100).toFixed(0)}% of the ceiling; ${(mid.inProcess / mid.nodemailer).toFixed(1)}× the pooled nodemailer loop, ${(mid.inProcess / mid.base64).toFixed(1)}× with base64; herald send is ${(mid.cli / mid.inProcess * 100).toFixed(0)}% of it`);
  // What bounds herald send: its worker runs on one thread, and herald, the sink and PostgreSQL share the machine's cores.
  const cpu = Object.fromEntries(['sender', 'sink', 'pg'].map((k) => [k, median(runs.cli.map((x) => cpuPerMessage('cli', x)[k]))]));
  const cores = availableParallelism();
  const wanted = TARGET_SHARE * mid.ceiling;
  const room = Math.min(1e6 / wanted, (cores * 1e6) / wanted - cpu.sink - cpu.pg);
  console.log(`  what bounds herald send (medians of its runs): herald ${cpu.sender} µs of CPU a message, so its one sending thread can do at most ~${rate(1e6 / cpu.sender)}; with the sink's ${cpu.sink} µs and PostgreSQL's ${cpu.pg} µs on ${cores} cores, the machine at most ~${rate((cores * 1e6) / (cpu.sender + cpu.sink + cpu.pg))}. ${Math.round(TARGET_SHARE * 100)}% of the ceiling (${rate(wanted)}) needs herald at ${Math.round(room)} µs a message or less, the sink and PostgreSQL as they are`);
  targets.check('herald send / ceiling, same run (medians)', mid.cli / mid.ceiling, { min: TARGET_SHARE, fmt: (x) => `${(x * 100).toFixed(0)}%` });
  targets.check("herald's transport / ceiling (medians)", mid.transport / mid.ceiling, { min: TARGET_TRANSPORT_SHARE, fmt: (x) => `${(x * 100).toFixed(0)}%` });
  targets.verdict(watches);
} finally {
  await client.end();
  await db.close();
  await sink.close();
  await database_.drop();
  rmSync(dir, { recursive: true, force: true });
}
