import type { Queryable } from '../db/db.js';
import { createChannelRenderer } from '../render/channels.js';
import { UserError } from '../errors.js';
import { linkSecret } from '../links/secret.js';
import type { MessageSource, TemplateSpec } from '../render/message.js';
import { campaignProducts, productTokens, type ProductToken } from '../render/products.js';
import { loadDeployed } from '../state/queries.js';
import { sourceSchema, type Campaign, type Project } from '../workspace/model.js';
import { contactPolicy } from '../ledger/source.js';
import type { SourceContext } from '../ledger/worker.js';

/**
 * Everything a worker needs to render a deployed campaign's messages, loaded
 * once per campaign from the deployed state (never the working copy). Every
 * message carries the campaign's products (see checkProducts), formatted
 * for its locale.
 */
export interface CampaignContext extends SourceContext {
  campaign: Campaign;
}

export async function loadCampaignContext(db: Queryable, name: string, now: () => Date): Promise<CampaignContext> {
  const deployed = (await loadDeployed(db)).filter((d) => !d.archivedAt);
  const find = <T>(kind: string, n: string) => deployed.find((d) => d.kind === kind && d.name === n)?.spec as T | undefined;
  const campaign = find<Campaign>('campaign', name);
  if (!campaign) throw new UserError(`campaign "${name}" is not deployed`, `check campaigns/${name}.yaml and run \`herald apply\``);
  const project = find<Project>('project', 'herald')!;
  const template = (t: string): TemplateSpec => {
    const spec = find<TemplateSpec>('template', t);
    if (!spec) throw new UserError(`template "${t}" of campaign "${name}" is not deployed`, 'run `herald apply`');
    return spec;
  };
  const schema = sourceSchema(project);
  const secret = await linkSecret(db, project.tracking?.secret_env ?? 'HERALD_SECRET');
  const { products: rows } = await campaignProducts(db, schema, project, campaign);
  const byLocale = new Map<string, ProductToken[]>();
  const base: MessageSource = {
    kind: 'campaign',
    name,
    title: campaign.title,
    personalizedGreeting: campaign.personalized_greeting ?? false,
    templateName: campaign.template,
    template: template(campaign.template),
    ...(campaign.tracking ? { tracking: campaign.tracking } : {}),
  };
  const sources = new Map<string | null, MessageSource>([[null, base]]);
  for (const v of campaign.ab_test?.variants ?? []) {
    const t = v.template ?? campaign.template;
    sources.set(v.name, { ...base, templateName: t, template: template(t), variant: v });
  }
  // The renderer signs auto-login expiry from the clock at first render; a worker's lifetime is short next to 7 days.
  const renderer = createChannelRenderer({ project, secret, now: now() });
  const products = (locale: string) => {
    let p = byLocale.get(locale);
    if (!p) byLocale.set(locale, (p = productTokens(rows, locale)));
    return p;
  };
  return {
    ref: { kind: 'campaign', name },
    campaign,
    project,
    schema,
    lists: [...(campaign.audience.list ? [campaign.audience.list] : []), ...(campaign.audience.lists ?? [])],
    renderer,
    ...(campaign.throttle ? { throttle: campaign.throttle } : {}),
    policy: contactPolicy('campaign', campaign, project),
    message(variant) {
      const s = sources.get(variant);
      if (!s) throw new UserError(`campaign "${name}" has no variant "${variant}" any more, but its ledger does`, 'restore the variant in the campaign file and apply');
      return s;
    },
    async extras(batch) {
      return new Map(batch.map((m) => [m.id, { products: products(m.locale) }]));
    },
  };
}
