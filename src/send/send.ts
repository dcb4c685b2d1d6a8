import type { Db } from '../db/db.js';
import { UserError } from '../errors.js';
import type { Log } from '../log.js';
import { audienceCondition } from '../audience/audience.js';
import { compileSegment } from '../audience/compile.js';
import type { SiteLocales } from '../audience/recipients.js';
import { linkSecret } from '../links/secret.js';
import { createRenderer, type MessageSource, type TemplateSpec } from '../render/message.js';
import { loadProducts, productTokens, type ProductToken } from '../render/products.js';
import { loadDeployed } from '../state/queries.js';
import { effectiveStatus } from '../state/overrides.js';
import { campaignSites, cancelledStatuses, openStatuses, sourceSchema, type Campaign, type Project, type Segment } from '../workspace/model.js';
import { composeRendered } from './compose.js';
import { dkimKeys } from './dkim.js';
import * as ledger from './ledger.js';
import type { Transport } from './transport.js';

export interface SendOptions {
  campaign: string;
  transport: Transport;
  /** The time relative segment conditions resolve against. */
  now: Date;
  log: Log;
  batchSize?: number;
  /** A claim older than this is taken to belong to a dead worker. */
  leaseSeconds?: number;
}

export interface SendResult {
  /** Recipients added to the ledger by this run (0 when the campaign had already started). */
  materialised: number;
  sent: number;
  failed: number;
  /** Rows settled as `suppressed` at claim time: their address was suppressed after materialisation. */
  suppressed: number;
  completed: boolean;
}

/**
 * Sends an applied, ready campaign: materialise the audience into the ledger
 * once, then claim batches, render, send and record each result. Everything
 * comes from the deployed state, never from the working copy.
 */
export async function sendCampaign(db: Db, o: SendOptions): Promise<SendResult> {
  const deployed = (await loadDeployed(db)).filter((d) => !d.archivedAt);
  const find = <T>(kind: string, name: string) => deployed.find((d) => d.kind === kind && d.name === name)?.spec as T | undefined;
  const campaign = find<Campaign>('campaign', o.campaign);
  if (!campaign) {
    throw new UserError(`campaign "${o.campaign}" is not deployed`, `check campaigns/${o.campaign}.yaml and run \`herald apply\``);
  }
  const { status, override } = await effectiveStatus(db, o.campaign, campaign.status ?? 'draft');
  if (status !== 'ready') {
    throw new UserError(
      `campaign "${o.campaign}" is ${status}${override ? ` (set by ${override.setBy}: ${override.reason})` : ''}; only a ready campaign sends`,
      override
        ? `run \`herald resume ${o.campaign} --reason ...\` when it may send again`
        : `set "status: ready" in campaigns/${o.campaign}.yaml and run \`herald apply\``,
    );
  }
  const project = find<Project>('project', 'herald')!;
  const template = find<TemplateSpec>('template', campaign.template)!;
  const segments = new Map(deployed.filter((d) => d.kind === 'segment').map((d) => [d.name, d.spec as unknown as Segment]));
  const schema = sourceSchema(project);
  const siteById = new Map(project.sites.map((s) => [s.id, s]));
  const campaignSiteList = campaignSites(campaign).map((id) => siteById.get(id)!);

  const campaignLists = [...(campaign.audience.list ? [campaign.audience.list] : []), ...(campaign.audience.lists ?? [])];
  const materialised = await db.transaction(async (tx) => {
    if (!(await ledger.startRun(tx, o.campaign))) return 0;
    const where = audienceCondition(campaign.audience);
    const compiled = compileSegment(where, { schema, segments, cancelled: cancelledStatuses(project), open: openStatuses(project), timezone: project.defaults?.timezone }, o.now);
    const locales: SiteLocales = Object.fromEntries(campaignSiteList.map((s) => [s.id, { locales: s.locales, default: s.default_locale }]));
    const customers = await ledger.materialise(tx, o.campaign, schema, compiled, locales);
    return customers + (await ledger.materialiseContacts(tx, o.campaign, campaignLists, locales));
  });
  if (materialised > 0) o.log.info({ campaign: o.campaign, recipients: materialised }, 'audience materialised');

  const requeued = await ledger.requeueAbandoned(db, o.campaign, o.leaseSeconds ?? 300);
  if (requeued > 0) o.log.warn({ campaign: o.campaign, requeued }, 'requeued messages abandoned by a stopped worker');

  const secret = await linkSecret(db, project.tracking?.secret_env ?? 'HERALD_SECRET');
  const dkim = dkimKeys(project);
  const productRows = await loadProducts(db, schema, campaign.products ?? []);
  const productsByLocale = new Map<string, ProductToken[]>();
  const productsFor = (locale: string): ProductToken[] => {
    let p = productsByLocale.get(locale);
    if (!p) productsByLocale.set(locale, (p = productTokens(productRows, locale)));
    return p;
  };
  const renderer = createRenderer({ project, secret, now: o.now });
  const source: MessageSource = {
    kind: 'campaign',
    name: o.campaign,
    title: campaign.title,
    personalizedGreeting: campaign.personalized_greeting ?? false,
    templateName: campaign.template,
    template,
  };

  let sent = 0;
  let failed = 0;
  let suppressed = 0;
  for (;;) {
    const batch = await ledger.claimBatch(db, o.campaign, schema, o.batchSize ?? 100, campaignLists);
    if (batch.messages.length === 0 && batch.suppressed === 0) break;
    suppressed += batch.suppressed;
    const outcomes = await Promise.all(
      batch.messages.map(async (m): Promise<ledger.Outcome> => {
        const rendered = await renderer.render(source, m, { products: productsFor(m.locale) });
        const message = { ...composeRendered(rendered, { to: m.email, id: `${o.campaign}.${m.id}` }), dkim: dkim.get(m.site) };
        try {
          const { response } = await o.transport.send(message, { campaign: o.campaign, ledgerId: m.id });
          return { id: m.id, status: 'sent', response, messageId: String(message.messageId) };
        } catch (err) {
          return { id: m.id, status: 'failed', response: smtpError(err), messageId: String(message.messageId) };
        }
      }),
    );
    await ledger.recordOutcomes(db, outcomes);
    for (const x of outcomes) x.status === 'sent' ? sent++ : failed++;
    o.log.debug({ campaign: o.campaign, sent, failed, suppressed }, 'batch done');
  }
  if (suppressed > 0) o.log.info({ campaign: o.campaign, suppressed }, 'skipped addresses suppressed since the audience was materialised');
  const completed = await ledger.completeIfDone(db, o.campaign);
  return { materialised, sent, failed, suppressed, completed };
}

/** The SMTP reply of a failure, or the error's message when there was none. */
function smtpError(err: unknown): string {
  const e = err as { response?: string; message?: string };
  return String(e.response ?? e.message ?? err);
}
