import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Db } from '../db/db.js';
import { quoteIdent } from '../db/ident.js';
import { UserError } from '../errors.js';
import { campaignProducts, type LeftOutProduct } from '../render/products.js';
import { ledgerCounts } from '../ledger/ledger.js';
import { runPhase } from '../ledger/runs.js';
import { abDecision } from '../campaigns/winner.js';
import { effectiveStatus } from '../state/overrides.js';
import { loadObject } from '../state/queries.js';
import { sourceSchema, type Campaign, type Project } from '../workspace/model.js';
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
