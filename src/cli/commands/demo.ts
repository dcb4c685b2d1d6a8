import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { applyPlan } from '../../apply/apply.js';
import { makePlan } from '../../plan/make.js';
import { breakdownLine } from '../../plan/format.js';
import { isServerUrl, redactSpec, type Db } from '../../db/db.js';
import { UserError } from '../../errors.js';
import { createLog } from '../../log.js';
import { seedShop } from '../../demo/seed.js';
import { describeCommit, gitInfo } from '../../git/commit.js';
import { reportText } from '../../report/report.js';
import { defaultRange } from '../../calendar/calendar.js';
import { readCalendar } from '../../calendar/facts.js';
import { writeCalendar } from '../../calendar/write.js';
import { desiredObjects } from '../../state/objects.js';
import { allReports, campaignReport, triggerReport, writeOverview, writeReport, writeTriggerReport } from '../../report/write.js';
import { tick, type TickResult } from '../../tick/tick.js';
import { shopMovesOn } from '../../demo/activity.js';
import { sendCampaign } from '../../campaigns/send.js';
import { testSend } from '../../preview/test-send.js';
import { dkimKeys } from '../../channels/email/dkim.js';
import { linkSecret, linkSecrets } from '../../links/secret.js';
import { customersRespond, type Responses } from '../../demo/responses.js';
import { buildPreview } from '../../preview/preview.js';
import { loadSamples } from '../../preview/samples.js';
import { transportFromEnv } from '../../channels/email/transport.js';
import { sourceSchema, type Workspace } from '../../workspace/model.js';
import { dbSpec, heraldPath, print, validWorkspace, withDb, workspaceDir, type GlobalOptions } from '../context.js';
import { positiveInt } from '../options.js';

interface DemoOptions extends GlobalOptions {
  customers: string;
  seed: string;
  fresh?: boolean;
  /** commander's --no-send sets this false. */
  send?: boolean;
}

/**
 * The whole path on this repository's own workspace: seed a deterministic shop
 * into the embedded database, validate, apply, send every ready campaign to the
 * outbox, run the triggers over a timeline (the shop moves on between two
 * ticks; a second tick at the same time sends nothing twice), and write the
 * reports. The demo's clock is today at 10:00 UTC and the next day at 12:00,
 * inside working hours, so quiet hours never empty it, whenever it runs.
 */
export default async function demo(_args: string[], opts: DemoOptions): Promise<void> {
  const customers = positiveInt(opts.customers, '--customers', 10000);
  const seed = positiveInt(opts.seed, '--seed', 42);
  const dir = workspaceDir(opts);
  const spec = dbSpec(opts);
  const outbox = heraldPath(opts, 'outbox');
  if (opts.fresh) {
    if (isServerUrl(spec)) throw new UserError('--fresh only resets the embedded database', 'drop the server database yourself if you mean it');
    rmSync(spec, { recursive: true, force: true });
    rmSync(outbox, { recursive: true, force: true });
  }
  // The demo seeds a database of its own, so it may create the folder it was given (other commands create only the default).
  if (!isServerUrl(spec)) mkdirSync(spec, { recursive: true });

  const started = Date.now();
  const step = (text: string) => print(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${text}`);

  // The timeline: the shop's data ends at midnight UTC today; the demo starts at 10:00.
  const today = new Date();
  today.setUTCHours(0, 0, 0, 0);
  const t0 = new Date(today.getTime() + 10 * 3600_000);
  const t1 = new Date(today.getTime() + 36 * 3600_000);
  const at = (t: Date) => t.toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
  const ws = await validWorkspace(opts);
  step(`validated ${dir}: ${ws.segments.size} segments, ${ws.templates.size} templates, ${ws.campaigns.size} campaigns`);

  await withDb(opts, async (db) => {
    step(`database: ${db.kind} at ${redactSpec(db.where)}`);
    await ensureShop(db, ws, { customers, seed }, today, step);

    const git = gitInfo(dir);
    const plan = await makePlan(db, ws, { now: t0, gitCommit: describeCommit(git) });
    const applied = await applyPlan(db, plan, { gitCommit: plan.gitCommit, gitAuthor: git.user, holder: 'herald demo', workspaceDir: dir });
    const s = plan.summary;
    step(`applied: ${s.create} created, ${s.update} updated, ${s.delete} deleted, ${s.unchanged} unchanged`);
    for (const a of plan.audiences) {
      if (a.breakdown) step(`audience of ${a.campaign}: ${breakdownLine(a.breakdown)} = ${a.recipients} recipients`);
    }
    for (const t of plan.triggers ?? []) {
      if (t.wouldSend !== null) step(`trigger ${t.trigger}: would send ${t.wouldSend} now, ${t.skippedByHorizon} skipped by the back-fill horizon`);
    }
    for (const [name, l] of Object.entries(applied.lists ?? {})) {
      step(`imported list ${name}: ${l.members} members (${l.customers} shop customers, ${l.contacts} contacts of their own)`);
    }

    // What a reviewer sees in the pull request: every message, rendered for the shop's own customers.
    const samples = await loadSamples(ws, { db });
    const previewDir = heraldPath(opts, 'preview');
    const { summary } = await buildPreview(ws, { out: previewDir, samples, now: t0 });
    const problems = summary.cells.reduce((n, c) => n + c.problems.length, 0);
    step(`previewed ${summary.cells.length} messages (every campaign variant and trigger × site × locale), ${problems} problem${problems === 1 ? '' : 's'} → ${join(previewDir, 'index.html')}`);

    const ready = opts.send === false ? [] : [...ws.campaigns.values()].filter((c) => (c.spec.status ?? 'draft') === 'ready');
    if (opts.send === false) step('not sending (--no-send)');
    const transport = transportFromEnv(outbox);
    try {
      if (opts.send !== false) {
        // A marketer's check before launch: real messages to their own inbox, never in the ledger.
        const secret = await linkSecret(db, ws.project.spec.tracking?.secret_env ?? 'HERALD_SECRET');
        const tests = await testSend(ws, { target: 'shoe-care-week', to: ['marketer@shop.example.com'], samples, secret, transport, dkim: dkimKeys(ws.project.spec), now: t0 });
        step(`test-sent shoe-care-week: ${tests.map((t) => `"${t.subject}"`).join(' and ')} to marketer@shop.example.com → ${transport.description}/test-sends`);
      }
      for (const c of ready) {
        const r = await sendCampaign(db, { campaign: c.name, transport, now: t0, clock: () => t0, log: createLog('warn') });
        step(`sent ${c.name}: ${r.sent} sent, ${r.failed} failed${r.sent + r.failed === 0 ? ' (already sent: the ledger sends each message once)' : ''} → ${transport.description}`);
      }
      if (!process.env.HERALD_SMTP_URL) {
        // The customers answer: the tracking server, bounces and complaints, orders in the shop.
        const secrets = await linkSecrets(db, ws.project.spec.tracking);
        for (const c of ready) {
          const r = await customersRespond(db, { project: ws.project.spec, secrets, outbox, campaign: c.name, schema: sourceSchema(ws.project.spec), from: new Date(t0.getTime() + 30 * 60_000), log: createLog('warn') });
          if (r) step(respondedLine(c.name, r));
        }
      }
      if (opts.send !== false) {
        // The triggers' timeline: the first tick enables them (nothing already due is back-filled),
        // the shop moves on, and the next day's tick sends what came due, once.
        const log = createLog('warn');
        const ticked = async (t: Date, label: string) => {
          const r = await tick(db, { transport, log, clock: () => t });
          step(`${label} ${at(t)}: ${tickLine(r)}`);
          return r;
        };
        await ticked(t0, 'tick at');
        const home = ws.project.spec.sites[0]!;
        const moved = await shopMovesOn(db, sourceSchema(ws.project.spec), new Date(t0.getTime() + 3600_000), { site: home.id, currency: home.currency });
        if (moved) step(`the shop moves on: ${moved.carts} carts left behind, ${moved.bigOrders} orders over 300 ${home.currency}, ${moved.restocked} preordered products back in stock`);
        await ticked(t1, 'tick at');
        await ticked(t1, 'again at');
      }
      for (const c of ready) {
        const report = await campaignReport(db, c.name);
        writeReport(dir, report);
        print(`\n${reportText(report)}\n  written to reports/${c.name}.json and .md, with its charts (.activity.svg, .orders.svg)\n`);
      }
      if (opts.send !== false) {
        for (const name of ws.triggers.keys()) {
          const r = await triggerReport(db, name);
          writeTriggerReport(dir, r);
          if (r.totals.occurrences === 0) continue;
          const reasons = r.reasons.map((x) => `${x.count} ${x.kind} (${x.reason})`).join(', ');
          print(`trigger ${name} (${r.status}): ${r.totals.occurrences} occurrences, ${r.totals.sent} sent${reasons ? `; ${reasons}` : ''} → reports/triggers/${name}.md`);
        }
        // The summary over all mailings, as `herald report --all` writes it.
        const { overview } = await allReports(db, t1);
        writeOverview(dir, overview);
        const t = overview.totals;
        step(`all mailings: ${t.mailings} sent ${t.sent} messages, opened by ${t.opened} and clicked by ${t.clicked} people, ${t.orders} orders attributed → reports/index.md`);
        // The calendar, as `herald calendar` writes it: sends by day, what the triggers are expected to send, cap warnings.
        const cal = await readCalendar(db, { now: t1, ...defaultRange(t1), desired: desiredObjects(ws) });
        writeCalendar(dir, cal);
        const expected = cal.triggers.reduce((n, x) => n + (x.per_day ?? 0), 0);
        step(`calendar ${cal.from} to ${cal.to}: ${cal.days.flatMap((d) => d.entries).filter((e) => e.what === 'sent').length} sends, about ${Math.round(expected)} trigger messages a day expected, ${cal.warnings.length} cap warning${cal.warnings.length === 1 ? '' : 's'} → reports/calendar.md and .ics`);
      }
    } finally {
      transport.close();
    }
  });
  step('done. Run `npm start -- --fresh` to start over.');
}

/** Seeds the shop unless the database already holds the same demo shop. */
async function ensureShop(db: Db, ws: Workspace, want: { customers: number; seed: number }, today: Date, step: (t: string) => void) {
  const schema = sourceSchema(ws.project.spec);
  // The shop's shape is part of the key: a demo shop seeded before push subscriptions existed is seeded again.
  const key = JSON.stringify({ ...want, shape: 2 });
  const [row] = await db.query<{ value: string }>("SELECT value FROM herald.settings WHERE key = 'demo_shop'");
  const [exists] = await db.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [`${schema}.customers`]);
  if (row?.value === key && exists?.ok) {
    step(`demo shop already seeded (${want.customers} customers, seed ${want.seed})`);
    return;
  }
  // Seeding replaces the schema. Never do that to a shop's own data.
  const [foreign] = await db.query<{ ok: boolean }>('SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS ok', [schema]);
  if (!row && foreign?.ok) {
    throw new UserError(
      `schema "${schema}" already exists in ${db.where} and was not created by herald demo; the demo never replaces it`,
      'run the demo on the embedded database (no --db, no HERALD_DATABASE_URL) or on an empty database',
    );
  }
  const summary = await seedShop(db, {
    schema,
    customers: want.customers,
    seed: want.seed,
    sites: ws.project.spec.sites.map((s) => ({ id: s.id, locales: s.locales, currency: s.currency, url: s.url })),
    now: today,
  });
  await db.query(
    "INSERT INTO herald.settings (key, value) VALUES ('demo_shop', $1) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
    [key],
  );
  step(`seeded the demo shop: ${summary.customers} customers, ${summary.orders} orders, ${summary.products} products, ${summary.carts} carts`);
}

/** One tick of the timeline, in a line: what its sweeps found and what it delivered. */
function tickLine(r: TickResult): string {
  const added = r.swept.reduce((n, w) => n + w.inserted, 0);
  const held = r.swept.reduce((n, w) => n + w.skippedByHorizon, 0);
  const failed = r.swept.filter((w) => w.error).map((w) => `${w.trigger} failed: ${w.error}`);
  const t = r.delivered;
  return (
    `swept ${r.swept.length} triggers: ${added} new` +
    (held ? ` (${held} due before they were enabled, not back-filled)` : '') +
    `; ${t.sent} sent` +
    (t.capped ? `, ${t.capped} over the frequency cap` : '') +
    (t.exited ? `, ${t.exited} exited` : '') +
    (t.deferred ? `, ${t.deferred} put off` : '') +
    (failed.length ? `; ${failed.join('; ')}` : '')
  );
}

/** What the customers did with a campaign's messages, in a line. */
function respondedLine(campaign: string, r: Responses): string {
  const f = r.feedback;
  return (
    `customers answer ${campaign}, through a tracking server (herald serve) on 127.0.0.1:\n` +
    `         ${r.opens.human} opened it, ${r.opens.mpp} more were only fetched by Apple Mail Privacy Protection; ` +
    `${r.clicks.human} clicked, after a security gateway had followed ${r.clicks.scanner} links; ${r.unsubscribed} unsubscribed with one click\n` +
    `         ${f.recorded.bounce} bounced and ${f.recorded.complaint} complained later (DSNs and an ARF report, read as \`herald bounces import\` reads them): ${f.suppressed.length} suppressed\n` +
    `         ${r.orders.clickers} of those who clicked and ${r.orders.others} other customers (the control group among them) ordered in the shop`
  );
}
