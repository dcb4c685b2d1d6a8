import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Db } from '../db/db.js';
import { retrying } from '../db/retry.js';
import type { Log } from '../log.js';
import { loadCampaignContext, type CampaignContext } from './campaign.js';
import { backoffSeconds, classifyFailure, type SmtpFailure } from './classify.js';
import { composeRendered, type ComposedMessage } from './compose.js';
import * as ledger from './ledger.js';
import { setOverride } from '../state/overrides.js';
import { giveBack, parseRate, takeTokens, tokenWaitMs, type Rate } from './throttle.js';
import type { Transport } from './transport.js';
import { durationMs } from '../audience/duration.js';

/**
 * A worker: claims due messages of the campaigns that are sending, renders
 * and sends them, and records every result. Stateless: everything it knows
 * is in the database, so any number of workers, in one process or on many
 * machines, can run side by side, and a killed worker loses nothing but the
 * messages it held, which return to the queue when their lease runs out.
 */
export interface DeliverOptions {
  transport: Transport;
  log: Log;
  /** The clock retries, expiry and leases are reckoned by (tests inject one). */
  clock?: () => Date;
  /** This worker's name in the ledger; unique per worker. */
  worker?: string;
  batchSize?: number;
  /** How long a claim holds without renewal. A dead worker's messages are free again after this. */
  leaseSeconds?: number;
  /** Only these campaigns (herald send); otherwise every campaign that is sending. */
  campaigns?: string[];
  /** Checked before each claim: true stops claiming; what is in flight is finished and recorded. */
  shouldStop?: () => boolean;
  /** After each batch, the totals so far (for progress bars). */
  onBatch?: (t: DeliverTotals) => void;
}

export interface DeliverTotals {
  sent: number;
  failed: number;
  bounced: number;
  retried: number;
  expired: number;
  unknown: number;
  suppressed: number;
  /** Campaigns this worker saw complete. */
  completed: string[];
  /** Campaigns the circuit breaker paused. */
  paused: string[];
}

const DEFAULT_MAX_AGE = '24h';

export async function deliver(db: Db, o: DeliverOptions): Promise<DeliverTotals> {
  const clock = o.clock ?? (() => new Date());
  const worker = o.worker ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const batchSize = o.batchSize ?? 50;
  const leaseSeconds = o.leaseSeconds ?? 60;
  const totals: DeliverTotals = { sent: 0, failed: 0, bounced: 0, retried: 0, expired: 0, unknown: 0, suppressed: 0, completed: [], paused: [] };
  const contexts = new Map<string, CampaignContext>();
  const contextFor = async (name: string) => {
    let c = contexts.get(name);
    if (!c) contexts.set(name, (c = await loadCampaignContext(db, name, clock)));
    return c;
  };

  for (;;) {
    if (o.shouldStop?.()) break;
    const campaigns = o.campaigns ?? (await retrying(o.log, () => ledger.sendingCampaigns(db)));
    let worked = false;
    let throttledFor = 0;
    for (const name of campaigns) {
      if (o.shouldStop?.()) break;
      const ctx = await retrying(o.log, () => contextFor(name));
      const r = await retrying(o.log, () => deliverBatch(db, ctx, { ...o, clock, worker, batchSize, leaseSeconds }, totals));
      if (r.worked) worked = true;
      if (r.throttledMs) throttledFor = throttledFor ? Math.min(throttledFor, r.throttledMs) : r.throttledMs;
    }
    if (!worked) {
      if (!throttledFor) break;
      await sleep(throttledFor);
    }
  }
  return totals;
}

interface BatchResult {
  worked: boolean;
  /** Nothing claimed because a throttle ran dry: try again after this long. */
  throttledMs?: number;
}

async function deliverBatch(
  db: Db,
  ctx: CampaignContext,
  o: DeliverOptions & { clock: () => Date; worker: string; batchSize: number; leaseSeconds: number },
  totals: DeliverTotals,
): Promise<BatchResult> {
  const { clock, worker, log } = o;
  const delivery = ctx.project.delivery ?? {};
  const buckets: { key: string; rate: Rate }[] = [
    ...(ctx.campaign.throttle ? [{ key: `campaign:${ctx.name}`, rate: parseRate(ctx.campaign.throttle) }] : []),
    ...(delivery.throttle ? [{ key: 'global', rate: parseRate(delivery.throttle) }] : []),
  ];
  let want = o.batchSize;
  const taken: { key: string; rate: Rate; n: number }[] = [];
  for (const b of buckets) {
    const n = await takeTokens(db, b.key, b.rate, want, clock());
    taken.push({ ...b, n });
    want = Math.min(want, n);
  }
  const giveBackAll = async (used: number) => {
    for (const t of taken) await giveBack(db, t.key, t.rate, t.n - used);
  };
  if (want === 0) {
    await giveBackAll(0);
    return { worked: false, throttledMs: Math.max(...buckets.map((b) => tokenWaitMs(b.rate))) };
  }

  const batch = await ledger.claimBatch(db, { campaign: ctx.name, schema: ctx.schema, worker, limit: want, leaseSeconds: o.leaseSeconds, now: clock(), lists: ctx.lists });
  await giveBackAll(batch.messages.length);
  totals.suppressed += batch.suppressed;
  if (batch.messages.length === 0) {
    if (batch.suppressed === 0 && (await ledger.completeIfDone(db, ctx.name, clock()))) {
      totals.completed.push(ctx.name);
      log.info({ campaign: ctx.name }, 'campaign completed');
    }
    return { worked: batch.suppressed > 0 };
  }

  // Keep the claim alive while the batch is in flight, however slow the SMTP server.
  const ids = batch.messages.map((m) => m.id);
  const renew = setInterval(() => {
    ledger.renewLeases(db, worker, ids, new Date(clock().getTime() + o.leaseSeconds * 1000)).catch((e) => log.warn({ err: String(e) }, 'could not renew leases'));
  }, (o.leaseSeconds * 1000) / 3);
  let outcomes: ledger.Outcome[];
  const bounces: { email: string; response: string }[] = [];
  let policy = 0;
  const send = async (m: ledger.ClaimedMessage, message: ComposedMessage): Promise<ledger.Outcome> => {
    const dkim = ctx.dkim.get(m.site);
    try {
      const { response } = await o.transport.send({ ...message, ...(dkim ? { dkim } : {}) }, { campaign: ctx.name, ledgerId: m.id });
      return { id: m.id, status: 'sent', response, messageId: message.messageId };
    } catch (err) {
      const v = classifyFailure(err as SmtpFailure);
      if (v.status === 'retry') {
        if (v.policy) policy++;
        const maxAge = durationMs(delivery.max_age ?? DEFAULT_MAX_AGE);
        const deadline = new Date(m.first_attempt_at).getTime() + maxAge;
        const now = clock().getTime();
        if (now >= deadline) return { id: m.id, status: 'expired', response: `expired after ${delivery.max_age ?? DEFAULT_MAX_AGE}: ${v.response}`, messageId: message.messageId };
        const next = new Date(Math.min(now + backoffSeconds(m.attempts) * 1000, deadline));
        return { id: m.id, status: 'queued', response: v.response, messageId: message.messageId, nextAttemptAt: next };
      }
      if (v.status === 'bounced') bounces.push({ email: m.email, response: v.response });
      return { id: m.id, status: v.status, response: v.response, messageId: message.messageId };
    }
  };
  try {
    const sending: Promise<ledger.Outcome>[] = [];
    for (const m of batch.messages) {
      const rendered = await ctx.renderer.render(ctx.source(m.variant), m, { products: ctx.products(m.locale) });
      sending.push(send(m, composeRendered(rendered, { to: m.email, id: `${ctx.name}.${m.id}` })));
      // Rendering is CPU work: between messages, the SMTP replies that came in
      // meanwhile are read, so connections never wait on a whole batch's renders.
      await new Promise(setImmediate);
    }
    outcomes = await Promise.all(sending);
  } finally {
    clearInterval(renew);
  }
  // The messages went out: their results must be recorded even through a database restart.
  await retrying(log, () => ledger.recordOutcomes(db, worker, outcomes, clock()));
  await retrying(log, () => ledger.suppressBounced(db, bounces));
  for (const x of outcomes) {
    if (x.status === 'sent') totals.sent++;
    else if (x.status === 'queued') totals.retried++;
    else totals[x.status]++;
  }
  await breaker(db, ctx, outcomes.length, policy, totals, log);
  o.onBatch?.(totals);
  return { worked: true };
}

/**
 * The circuit breaker: refusals for policy or authentication (5.7.x) say the
 * receiving servers distrust the sender (DKIM, DMARC, reputation). Past the
 * threshold the campaign is paused, with the reason, as `herald pause` would;
 * `herald resume` continues it once the cause is fixed.
 */
async function breaker(db: Db, ctx: CampaignContext, attempts: number, policy: number, totals: DeliverTotals, log: Log): Promise<void> {
  const counts = await ledger.countAttempts(db, ctx.name, attempts, policy);
  if (policy === 0) return;
  const min = ctx.project.delivery?.breaker?.min ?? 5;
  const rate = Number((ctx.project.delivery?.breaker?.rate ?? '5%').slice(0, -1)) / 100;
  if (counts.policy_refusals < min || counts.policy_refusals < rate * counts.attempts) return;
  const [spec] = await db.query<{ hash: string }>("SELECT hash FROM herald.objects WHERE kind = 'campaign' AND name = $1", [ctx.name]);
  const reason = `circuit breaker: ${counts.policy_refusals} of ${counts.attempts} attempts refused for policy or authentication (5.7.x)`;
  await setOverride(db, { campaign: ctx.name, status: 'paused', reason, actor: 'herald', specHash: spec?.hash ?? '', action: 'paused by the circuit breaker' });
  totals.paused.push(ctx.name);
  log.error({ campaign: ctx.name, ...counts }, `${reason}; paused. Fix the cause (DKIM, SPF, DMARC, reputation), then \`herald resume ${ctx.name} --reason …\``);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
