import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Db, Queryable } from '../db/db.js';
import { quoteIdent } from '../db/ident.js';
import { UserError } from '../errors.js';
import { campaignProducts, type LeftOutProduct } from '../render/products.js';
import { dailyCounts, ledgerCounts, reasonCounts } from '../ledger/ledger.js';
import { enabledAt, runPhase } from '../ledger/runs.js';
import type { SourceKind, SourceRef } from '../ledger/source.js';
import { abDecision } from '../campaigns/winner.js';
import { effectiveStatus } from '../state/overrides.js';
import { loadDeployed, loadObject } from '../state/queries.js';
import { cancelledStatuses, sourceSchema, type Campaign, type Project, type Template, type Trigger } from '../workspace/model.js';
import { windowFor, windowTable } from '../events/windows.js';
import { channelFigures, engagement, liftCounts, type LiftInput } from './outcomes.js';
import { CHART_KINDS, chartFile, chartsFor, chartSvg, type ChartSeries } from './charts.js';
import { activitySeries, attributedOrders, groupOrders } from './series.js';
import { buildResults, type Results } from './results.js';
import { makeReportFolder, reportFileError } from './folder.js';
import { buildReport, reportMarkdown, type Report } from './report.js';
import { buildTriggerReport, triggerReportMarkdown, type TriggerReport } from './trigger.js';
import { buildOverview, overviewMarkdown, overviewRow, type Overview } from './overview.js';
import { replaceFile } from '../workspace/files.js';

/**
 * The reports' I/O: the ledger's figures and the deployed state read for
 * the pure builders (report.ts, trigger.ts), and the report files written.
 *
 * Files: a campaign's report is reports/<campaign>.json and .md, a
 * trigger's reports/triggers/<trigger>.json and .md, so a campaign and a
 * trigger of one name never overwrite each other's. Once anything was
 * sent, its charts are beside them: <name>.activity.svg and
 * <name>.orders.svg (charts.ts).
 */

/**
 * reportSubject: the campaign or trigger `ref` names: `campaign/<name>`,
 * `trigger/<name>`, or a bare name that is one of the two, deployed or with
 * ledger rows (a name that is both has to say which).
 */
export async function reportSubject(db: Queryable, ref: string): Promise<SourceRef> {
  // Names as the workspace allows them: a name is also a file name under reports/.
  const m = /^(?:(campaign|trigger)\/)?([a-z0-9][a-z0-9_-]*)$/.exec(ref);
  if (m?.[1]) return { kind: m[1] as SourceKind, name: m[2]! };
  const kinds = m ? await sourceKinds(db, ref) : [];
  if (kinds.length === 1) return { kind: kinds[0]!, name: ref };
  if (kinds.length > 1) throw new UserError(`"${ref}" is both a campaign and a trigger`, `say which: herald report campaign/${ref} or herald report trigger/${ref}`);
  throw new UserError(`no campaign or trigger "${ref}" is deployed or has messages`, 'check the name (campaigns/<name>.yaml, triggers/<name>.yaml), or run `herald apply` first');
}

/** sourceKinds: the kinds a name is deployed as (unarchived) or has ledger rows under, each probed on its key. */
async function sourceKinds(db: Queryable, name: string): Promise<SourceKind[]> {
  const rows = await db.query<{ kind: SourceKind }>(
    `SELECT k.kind FROM unnest(ARRAY['campaign', 'trigger']) AS k(kind)
      WHERE EXISTS (SELECT 1 FROM herald.objects o WHERE o.kind = k.kind AND o.name = $1 AND o.archived_at IS NULL)
         OR EXISTS (SELECT 1 FROM herald.messages m WHERE m.source_kind = k.kind AND m.source = $1)
      ORDER BY k.kind`,
    [name],
  );
  return rows.map((r) => r.kind);
}

export async function campaignReport(db: Db, campaign: string, now = new Date()): Promise<Report> {
  const spec = await loadObject<Campaign>(db, 'campaign', campaign);
  const ref = { kind: 'campaign' as const, name: campaign };
  const counts = await ledgerCounts(db, ref);
  if (!spec && counts.audience === 0) {
    throw new UserError(`campaign "${campaign}" is not deployed and has no messages`, 'check the name, or run `herald apply` first');
  }
  const { status, override } = await effectiveStatus(db, campaign, spec?.status ?? 'draft');
  const run = { phase: await runPhase(db, ref), inForce: status, ...(override ? { reason: override.reason } : {}) };
  const { results, series } = await outcomes(db, ref, spec, now);
  const report = buildReport(
    campaign,
    spec?.title ?? campaign,
    run,
    counts,
    await abDecision(db, campaign),
    spec ? await productsLeftOut(db, spec) : [],
    await reasonCounts(db, ref),
    results,
  );
  const channels = await channelFigures(db, ref);
  return { ...report, series, ...(channels.some((c) => c.channel !== 'email') ? { by_channel: channels } : {}) };
}

/**
 * outcomes: engagement and lift of a source's messages, and the series of
 * its charts. Lift reads the shop's orders within each message's click
 * window (its source's, else its site's, else herald.yaml's), so it needs
 * the deployed project; without one (or without an orders table) there is
 * engagement and no lift. The orders chart compares the groups as lift
 * does when there is a control group, else shows the attributed orders.
 */
async function outcomes(db: Db, ref: SourceRef, spec: Campaign | Trigger | undefined, now: Date): Promise<{ results: Results; series: ChartSeries }> {
  const e = await engagement(db, ref);
  const { step, buckets } = await activitySeries(db, ref);
  const project = await loadObject<Project>(db, 'project', 'herald');
  const none = { recipients: { n: 0, converted: 0, revenue: { sum: 0, sumSquares: 0 } }, control: { n: 0, converted: 0, revenue: { sum: 0, sumSquares: 0 } }, windowClosesAt: null, currencies: [] };
  if (!project || !(await hasOrders(db, sourceSchema(project)))) {
    return { results: buildResults(e, none, now), series: { step, activity: buckets, orders: await attributedOrders(db, ref) } };
  }
  const table = windowTable(project, spec ? [{ kind: ref.kind, name: ref.name, spec }] : []);
  const input: LiftInput = {
    schema: sourceSchema(project),
    cancelled: cancelledStatuses(project),
    windows: project.sites.map((s) => ({ site: s.id, seconds: windowFor(table, s.id, ref).clickSeconds })),
    defaultSeconds: windowFor(table, undefined, ref).clickSeconds,
  };
  const counts = await liftCounts(db, ref, input);
  const orders =
    counts.control.n > 0
      ? await groupOrders(db, ref, input, { recipients: counts.recipients.n, control: counts.control.n })
      : await attributedOrders(db, ref);
  return { results: buildResults(e, counts, now), series: { step, activity: buckets, orders } };
}

async function hasOrders(db: Queryable, schema: string): Promise<boolean> {
  const [table] = await db.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [`${quoteIdent(schema)}.orders`]);
  return table?.ok ?? false;
}

/** The campaign's products its messages leave out, by the same check as a send; none when the shop has no products table here. */
async function productsLeftOut(db: Db, campaign: Campaign): Promise<LeftOutProduct[]> {
  const project = await loadObject<Project>(db, 'project', 'herald');
  if (!project || !campaign.products?.length) return [];
  const schema = sourceSchema(project);
  const [table] = await db.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [`${quoteIdent(schema)}.products`]);
  return table?.ok ? (await campaignProducts(db, schema, project, campaign)).leftOut : [];
}

export async function triggerReport(db: Db, name: string, now = new Date()): Promise<TriggerReport> {
  const ref = { kind: 'trigger' as const, name };
  const spec = await loadObject<Trigger>(db, 'trigger', name);
  const days = await dailyCounts(db, ref);
  if (!spec && days.length === 0) throw new UserError(`trigger "${name}" is not deployed and has no messages`, `check triggers/${name}.yaml, or run \`herald apply\` first`);
  const { status, override } = await effectiveStatus(db, name, spec?.status ?? 'paused', 'trigger');
  const state = { description: spec?.description ?? '', status, ...(override ? { reason: override.reason } : {}), enabledAt: await enabledAt(db, ref) };
  const { results, series } = await outcomes(db, ref, spec, now);
  const channels = await channelFigures(db, ref);
  return { ...buildTriggerReport(name, state, days, await reasonCounts(db, ref), results), series, ...(channels.some((c) => c.channel !== 'email') ? { by_channel: channels } : {}) };
}

/**
 * Every report: each deployed campaign's and trigger's, and those of sources
 * no longer deployed that have messages, with the overview over all of them
 * (overview.ts).
 */
export async function allReports(db: Db, now = new Date()): Promise<{ campaigns: Report[]; triggers: TriggerReport[]; overview: Overview }> {
  const deployed = (await loadDeployed(db)).filter((d) => !d.archivedAt);
  const names = new Map<string, { kind: SourceKind; name: string }>();
  for (const d of deployed) if (d.kind === 'campaign' || d.kind === 'trigger') names.set(`${d.kind}/${d.name}`, { kind: d.kind, name: d.name });
  const facts = await db.query<{ kind: SourceKind; name: string; first_sent: Date | null; last_sent: Date | null }>(SENDING_DATES);
  for (const f of facts) names.set(`${f.kind}/${f.name}`, { kind: f.kind, name: f.name });
  const project = deployed.find((d) => d.kind === 'project')?.spec as Project | undefined;
  const locale = project?.sites[0]?.default_locale;
  const templates = new Map(deployed.filter((d) => d.kind === 'template').map((d) => [d.name, d.spec as unknown as Template]));
  const campaigns: Report[] = [];
  const triggers: TriggerReport[] = [];
  const rows = [];
  for (const ref of [...names.values()].sort((a, b) => a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name))) {
    const spec = deployed.find((d) => d.kind === ref.kind && d.name === ref.name)?.spec as Campaign | Trigger | undefined;
    const template = spec?.template ? templates.get(spec.template) : undefined;
    const subject = locale && template ? ((template.subject as Record<string, string>)[locale] ?? null) : null;
    const f = facts.find((x) => x.kind === ref.kind && x.name === ref.name);
    const r = ref.kind === 'campaign' ? await campaignReport(db, ref.name, now) : await triggerReport(db, ref.name, now);
    if ('kind' in r) triggers.push(r);
    else campaigns.push(r);
    rows.push(overviewRow(r, { subject, firstSent: f?.first_sent ?? null, lastSent: f?.last_sent ?? null }));
  }
  return { campaigns, triggers, overview: buildOverview(rows) };
}

/** sending_dates: when each source's first and last messages went out, over the whole ledger in one pass. */
const SENDING_DATES = `
  SELECT source_kind AS kind, source AS name, min(sent_at) AS first_sent, max(sent_at) AS last_sent
    FROM herald.messages
   WHERE sent_at IS NOT NULL
   GROUP BY source_kind, source`;

/** Writes reports/index.json and .md, each replaced atomically. */
export function writeOverview(dir: string, o: Overview): string[] {
  return writeFiles(dir, join(dir, 'reports'), 'index', o, overviewMarkdown(o));
}

/** Writes reports/<campaign>.json and .md, and its charts, each replaced atomically. */
export function writeReport(dir: string, r: Report): string[] {
  return writeFiles(dir, join(dir, 'reports'), r.campaign, r, reportMarkdown(r), charts(r.campaign, r.title, r.series));
}

/** Writes reports/triggers/<trigger>.json and .md, and its charts, each replaced atomically. */
export function writeTriggerReport(dir: string, r: TriggerReport): string[] {
  return writeFiles(dir, join(dir, 'reports', 'triggers'), r.name, r, triggerReportMarkdown(r), charts(r.name, `Trigger ${r.name}`, r.series));
}

/**
 * A report's chart files: each chart it has, and each it has not as null,
 * so the file goes (a chart left from an earlier report would show figures
 * the report no longer has).
 */
function charts(name: string, subject: string, series: ChartSeries | undefined): [string, string | null][] {
  const has = chartsFor(name, series);
  return CHART_KINDS.map((kind) => [chartFile(name, kind), series && has.some((c) => c.kind === kind) ? chartSvg(kind, subject, series) : null]);
}

/**
 * <name>.json, <name>.md and the charts in `folder`, each written beside and
 * renamed over, so a reader never sees half a report; a chart the report no
 * longer has is removed. Returns the files written.
 */
function writeFiles(root: string, folder: string, name: string, json: unknown, markdown: string, extra: [string, string | null][] = []): string[] {
  makeReportFolder(root, folder, 'the reports');
  const files = [
    [`${name}.json`, JSON.stringify(json, null, 2) + '\n'],
    [`${name}.md`, markdown],
    ...extra,
  ] as const;
  const written: string[] = [];
  for (const [base, content] of files) {
    const file = join(folder, base);
    if (content === null) {
      rmSync(file, { force: true });
      continue;
    }
    try {
      replaceFile(file, content);
    } catch (e) {
      throw reportFileError(e, file, 'the reports');
    }
    written.push(file);
  }
  return written;
}
