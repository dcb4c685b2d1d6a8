import type { Db } from '../db/db.js';
import { UserError } from '../errors.js';
import type { Log } from '../log.js';
import { campaignQuery } from '../audience/breakdown.js';
import { evaluateSqlConditions, withSqlSession } from '../audience/sql-sandbox.js';
import { requireShop } from '../shop/check.js';
import { loadDeployed } from '../state/queries.js';
import { effectiveStatus } from '../state/overrides.js';
import type { Campaign, Project, Segment } from '../workspace/model.js';
import { deliver, type DeliverOptions, type DeliverTotals } from '../ledger/worker.js';
import { retryReason, type RetryReason } from '../ledger/ledger.js';
import { launch } from '../ledger/materialise.js';
import { runPhase } from '../ledger/runs.js';
import { loadObject, objectVersion } from '../state/queries.js';
import type { Transport } from '../channels/email/transport.js';
import { loadCampaignContext } from './context.js';
import { channelsOver } from '../channels/channels.js';

/**
 * Launching a campaign (materialising its audience into the ledger, once)
 * and sending one campaign from start to end, as `herald send` does. The
 * scheduler tick (run.ts) launches due campaigns the same way.
 */
export interface LaunchResult {
  /** Rows added to the ledger (0 when the campaign had already launched). */
  materialised: number;
  launched: boolean;
}

/**
 * launchCampaign: checks the campaign is deployed and ready (its status in
 * force, overrides included) and the shop against the contract, then
 * materialises its audience in one transaction, with its control group and
 * A/B split. Relative segment conditions resolve against `now`. Its sql:
 * conditions run before that transaction, in a READ ONLY one of their own
 * (src/audience/sql-sandbox.ts).
 */
export async function launchCampaign(db: Db, name: string, now: Date): Promise<LaunchResult> {
  const deployed = (await loadDeployed(db)).filter((d) => !d.archivedAt);
  const campaign = deployed.find((d) => d.kind === 'campaign' && d.name === name)?.spec as Campaign | undefined;
  if (!campaign) throw new UserError(`campaign "${name}" is not deployed`, `check campaigns/${name}.yaml and run \`herald apply\``);
  await requireReady(db, name, campaign);
  const project = deployed.find((d) => d.kind === 'project')!.spec as unknown as Project;
  const segments = new Map(deployed.filter((d) => d.kind === 'segment').map((d) => [d.name, d.spec as unknown as Segment]));
  const q = campaignQuery(name, campaign, { project, segments, now });
  await requireShop(db, { ...q.sandbox, ...(q.channels ? { channels: q.channels.channels } : {}) });
  const ab = campaign.ab_test;
  const conditions = q.audience.sqlConditions ?? [];
  // sql: conditions are evaluated first, read-only and confined, on the connection the launch then writes from.
  const added = await withSqlSession(db, q.sandbox, conditions.length > 0, async (s) => {
    if (conditions.length > 0) await s.transaction((tx) => evaluateSqlConditions(tx, conditions, q.sandbox));
    return s.transaction(async (tx) =>
      launch(tx, {
        campaign: name,
        schema: q.schema,
        audience: q.audience,
        sites: q.sites,
        lists: q.lists ?? [],
        ...(q.channels ? { channels: q.channels } : {}),
        split: {
          ...(q.control ? { control: q.control } : {}),
          ...(ab ? { ab: { testPercent: Number(ab.test_size.slice(0, -1)), variants: ab.variants.map((v) => v.name) } } : {}),
        },
        versions: { campaign: await objectVersion(tx, 'campaign', name), template: await objectVersion(tx, 'template', campaign.template) },
        now,
      }),
    );
  });
  return { materialised: added ?? 0, launched: added !== undefined };
}

export interface SendOptions extends Omit<DeliverOptions, 'sources' | 'clock' | 'loadSource' | 'channel'> {
  campaign: string;
  transport: Transport;
  /** The time relative segment conditions resolve against, and the clock's start. */
  now: Date;
  log: Log;
  /** Defaults to the real clock. */
  clock?: () => Date;
}

export interface SendResult extends Omit<DeliverTotals, 'completed' | 'paused'> {
  /** Recipients added to the ledger by this run (0 when the campaign had already started). */
  materialised: number;
  completed: boolean;
  paused: boolean;
  /** When messages wait for a retry: the reply that keeps most of them waiting. */
  retry?: RetryReason;
}

/** sendCampaign: launch (once) and deliver one campaign until nothing of it is due. */
export async function sendCampaign(db: Db, o: SendOptions): Promise<SendResult> {
  const ref = { kind: 'campaign' as const, name: o.campaign };
  const clock = o.clock ?? (() => new Date());
  const phase = await runPhase(db, ref);
  if (phase) await checkSendable(db, o.campaign);
  // What sending needs of the deployed state (its templates, the link-signing
  // secret) is loaded before the launch writes anything: a secret too short
  // stops the send before the audience is materialised, not after.
  const context = await loadCampaignContext(db, o.campaign, clock);
  const { materialised } = phase ? { materialised: 0 } : await launchCampaign(db, o.campaign, o.now);
  if (materialised > 0) o.log.info({ campaign: o.campaign, rows: materialised }, 'audience materialised');
  const { completed, paused, ...totals } = await deliver(db, { ...o, channel: channelsOver(o.transport, db), sources: [ref], clock, loadSource: async () => context });
  if (totals.suppressed > 0) o.log.info({ campaign: o.campaign, suppressed: totals.suppressed }, 'skipped addresses suppressed since the audience was materialised');
  const retry = await retryReason(db, ref);
  return { materialised, ...totals, completed: completed.includes(o.campaign), paused: paused.length > 0, ...(retry ? { retry } : {}) };
}

/** A campaign already running is refused by name when paused or cancelled, rather than silently sending nothing. */
async function checkSendable(db: Db, name: string): Promise<void> {
  const spec = await loadObject<Campaign>(db, 'campaign', name);
  if (!spec) throw new UserError(`campaign "${name}" is not deployed`, `check campaigns/${name}.yaml and run \`herald apply\``);
  await requireReady(db, name, spec);
}

async function requireReady(db: Db, name: string, campaign: Campaign): Promise<void> {
  const { status, override } = await effectiveStatus(db, name, campaign.status ?? 'draft');
  if (status === 'ready') return;
  throw new UserError(
    `campaign "${name}" is ${status}${override ? ` (set by ${override.setBy}: ${override.reason})` : ''}; only a ready campaign sends`,
    override ? `run \`herald resume ${name} --reason ...\` when it may send again` : `set "status: ready" in campaigns/${name}.yaml and run \`herald apply\``,
  );
}
