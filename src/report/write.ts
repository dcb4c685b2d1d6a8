import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Db } from '../db/db.js';
import { quoteIdent } from '../db/ident.js';
import { UserError } from '../errors.js';
import { campaignProducts, type LeftOutProduct } from '../render/products.js';
import { dailyCounts, ledgerCounts, reasonCounts, type DayCounts, type ReasonCount } from '../ledger/ledger.js';
import { allRuns, runPhase } from '../ledger/runs.js';
import { abDecision } from '../campaigns/winner.js';
import { effectiveStatus } from '../state/overrides.js';
import { loadObject } from '../state/queries.js';
import { sourceSchema, type Campaign, type Project, type Trigger } from '../workspace/model.js';
import { buildReport, reportMarkdown, type Report } from './report.js';

export async function campaignReport(db: Db, campaign: string): Promise<Report> {
  const spec = await loadObject<Campaign>(db, 'campaign', campaign);
  const ref = { kind: 'campaign' as const, name: campaign };
  const counts = await ledgerCounts(db, ref);
  if (!spec && counts.audience === 0) {
    throw new UserError(`campaign "${campaign}" is not deployed and has no messages`, 'check the name, or run `herald apply` first');
  }
  const { status, override } = await effectiveStatus(db, campaign, spec?.status ?? 'draft');
  const run = { phase: await runPhase(db, ref), inForce: status, ...(override ? { reason: override.reason } : {}) };
  return buildReport(campaign, spec?.title ?? campaign, run, counts, await abDecision(db, campaign), spec ? await productsLeftOut(db, spec) : []);
}

/** The campaign's products its messages leave out, by the same check as a send; none when the shop has no products table here. */
async function productsLeftOut(db: Db, campaign: Campaign): Promise<LeftOutProduct[]> {
  const project = await loadObject<Project>(db, 'project', 'herald');
  if (!project || !campaign.products?.length) return [];
  const schema = sourceSchema(project);
  const [table] = await db.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [`${quoteIdent(schema)}.products`]);
  return table?.ok ? (await campaignProducts(db, schema, project, campaign)).leftOut : [];
}

/** Writes reports/<campaign>.json and .md, each replaced atomically. */
export function writeReport(dir: string, r: Report): string[] {
  const folder = join(dir, 'reports');
  mkdirSync(folder, { recursive: true });
  const files = [
    [join(folder, `${r.campaign}.json`), JSON.stringify(r, null, 2) + '\n'],
    [join(folder, `${r.campaign}.md`), reportMarkdown(r)],
  ] as const;
  for (const [file, content] of files) {
    writeFileSync(`${file}.tmp`, content);
    renameSync(`${file}.tmp`, file);
  }
  return files.map(([f]) => f);
}

/** A trigger's report: what its sweeps found and what became of each occurrence, per day and in total. */
export interface TriggerReport {
  kind: 'trigger';
  name: string;
  description: string;
  /** The status in force: the file's, or an override's. */
  status: string;
  /** When it was first swept as active (the back-fill horizon's anchor); null before. */
  enabled_at: string | null;
  totals: Omit<DayCounts, 'day'>;
  days: DayCounts[];
  /** Skipped (capped, exited, suppressed) and put off (deferred), by reason. */
  reasons: ReasonCount[];
}

export async function triggerReport(db: Db, name: string): Promise<TriggerReport> {
  const ref = { kind: 'trigger' as const, name };
  const spec = await loadObject<Trigger>(db, 'trigger', name);
  const days = await dailyCounts(db, ref);
  if (!spec && days.length === 0) throw new UserError(`trigger "${name}" is not deployed and has no messages`, 'check the name, or run `herald apply` first');
  const { status } = await effectiveStatus(db, name, spec?.status ?? 'paused', 'trigger');
  const run = (await allRuns(db)).find((r) => r.kind === 'trigger' && r.name === name);
  const totals = { occurrences: 0, sent: 0, capped: 0, exited: 0, deferred: 0, suppressed: 0, failed: 0, pending: 0 };
  for (const d of days) for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += d[k];
  return {
    kind: 'trigger',
    name,
    description: spec?.description ?? '',
    status,
    enabled_at: run?.enabledAt?.toISOString() ?? null,
    totals,
    days,
    reasons: await reasonCounts(db, ref),
  };
}
