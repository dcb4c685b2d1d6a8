import type { Queryable } from '../db/db.js';
import { quoteIdent } from '../db/ident.js';
import { campaignHosts, checkProducts, escapedText, loadProducts } from '../render/products.js';
import type { DeployObject } from '../state/objects.js';
import type { Campaign, Project } from '../workspace/model.js';

/**
 * Plan's warning for each campaign product a send would leave out: its link
 * is not http(s) on the domains of the campaign's sites, or its image is off
 * them (checkProducts, the rule a send applies). A warning, not a refusal:
 * the shop's data can be fixed at any time before the send, and the rest of
 * the message is fine. One query for every campaign's SKUs; a shop without a
 * products table is the shop contract's to report.
 */
export async function productWarnings(db: Queryable, schema: string, desired: readonly DeployObject[]): Promise<string[]> {
  const project = desired.find((o) => o.kind === 'project')?.spec as unknown as Project | undefined;
  const campaigns = desired.filter((o) => o.kind === 'campaign' && ((o.spec as unknown as Campaign).products ?? []).length > 0);
  if (!project || campaigns.length === 0) return [];
  const [table] = await db.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [`${quoteIdent(schema)}.products`]);
  if (!table?.ok) return [];
  const skus = [...new Set(campaigns.flatMap((o) => (o.spec as unknown as Campaign).products ?? []))];
  const bySku = new Map((await loadProducts(db, schema, skus)).map((p) => [p.sku, p]));
  const warnings: string[] = [];
  for (const o of campaigns) {
    const campaign = o.spec as unknown as Campaign;
    const rows = (campaign.products ?? []).flatMap((sku) => (bySku.has(sku) ? [bySku.get(sku)!] : []));
    for (const p of checkProducts(rows, campaignHosts(project, campaign)).leftOut) {
      warnings.push(`campaign/${o.name}: product ${escapedText(p.sku)} is left out of its messages: ${p.reason}`);
    }
  }
  return warnings;
}
