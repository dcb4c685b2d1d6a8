import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Db } from '../db/db.js';
import { retrying } from '../db/retry.js';
import type { Log } from '../log.js';
import { loadCampaignContext, type CampaignContext } from '../campaigns/context.js';
import { backoffSeconds, classifyFailure, type SmtpFailure } from '../channels/email/classify.js';
import { composeRendered, type ComposedMessage } from '../channels/email/compose.js';
import * as ledger from './ledger.js';
import { Recorder, type Bounce } from './recorder.js';
import { joinSession, type Session } from './session.js';
import { setOverride } from '../state/overrides.js';
import { giveBack, parseRate, takeTokens, tokenWaitMs, type Rate } from './throttle.js';
import type { Transport } from '../channels/email/transport.js';
import { durationMs } from '../audience/duration.js';

/**
 * A worker: claims due messages of the campaigns that are sending, renders
 * and sends them, and records every result as its reply comes in (in group
 * commits, recorder.ts). Stateless: everything it knows is in the database,
 * so any number of workers, in one process or on many machines, can run side
 * by side. A killed worker loses nothing: the messages it held return to the
 * queue at once, as its process's session lock (session.ts) is gone; the
 * only ones sent twice are those whose replies came in since its last commit.
 */
export interface DeliverOptions {
  transport: Transport;
  log: Log;
  /** The clock retries, expiry and leases are reckoned by (tests inject one). */
  clock?: () => Date;
  /** This worker's name in the ledger; unique per worker. */
  worker?: string;
  batchSize?: number;
  /** How long a claim holds without renewal: a dead process's claims are free at once (session.ts), a stuck or cut-off one's after this. */
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

  const session = joinSession(db);
  try {
    for (;;) {
      if (o.shouldStop?.()) break;
      const campaigns = o.campaigns ?? (await retrying(o.log, () => ledger.sendingCampaigns(db)));
      let worked = false;
      let throttledFor = 0;
      for (const name of campaigns) {
        if (o.shouldStop?.()) break;
        const ctx = await retrying(o.log, () => contextFor(name));
        const r = await deliverBatch(db, ctx, { ...o, clock, worker, batchSize, leaseSeconds, session }, totals);
        if (r.worked) worked = true;
        if (r.throttledMs) throttledFor = throttledFor ? Math.min(throttledFor, r.throttledMs) : r.throttledMs;
      }
      if (!worked) {
        if (!throttledFor) break;
        await sleep(throttledFor);
      }
    }
  } finally {
    await session.release();
  }
  return totals;
}

interface BatchResult {
  worked: boolean;
  /** Nothing claimed because a throttle ran dry: try again after this long. */
  throttledMs?: number;
}

/**
 * One batch: take throttle tokens, claim, then render and hand over each
 * message while the replies of earlier ones are recorded. Every database step
 * rides out an outage (retrying); once messages are out, nothing is claimed
 * again until their results are recorded.
 */
async function deliverBatch(
  db: Db,
  ctx: CampaignContext,
  o: DeliverOptions & { clock: () => Date; worker: string; batchSize: number; leaseSeconds: number; session: Session },
  totals: DeliverTotals,
): Promise<BatchResult> {
  const { clock, worker, log, session } = o;
  const q = <T>(fn: () => Promise<T>) => retrying(log, fn);
  const delivery = ctx.project.delivery ?? {};
  const buckets: { key: string; rate: Rate }[] = [
    ...(ctx.campaign.throttle ? [{ key: `campaign:${ctx.name}`, rate: parseRate(ctx.campaign.throttle) }] : []),
    ...(delivery.throttle ? [{ key: 'global', rate: parseRate(delivery.throttle) }] : []),
  ];
  // A claim is made only under a held session lock: it is what tells others this worker lives.
  // Taken before the throttle's tokens, so a claim follows its tokens at once.
  await q(() => session.ensure());
  let want = o.batchSize;
  const taken: { key: string; rate: Rate; n: number }[] = [];
  for (const b of buckets) {
    const n = await q(() => takeTokens(db, b.key, b.rate, want, clock()));
    taken.push({ ...b, n });
    want = Math.min(want, n);
  }
  const giveBackAll = async (used: number) => {
    for (const t of taken) await q(() => giveBack(db, t.key, t.rate, t.n - used));
  };
  if (want === 0) {
    await giveBackAll(0);
    return { worked: false, throttledMs: Math.max(...buckets.map((b) => tokenWaitMs(b.rate))) };
  }

  let generation = 0;
  const batch = await q(async () => {
    await session.ensure();
    generation = session.generation;
    return ledger.claimBatch(db, { campaign: ctx.name, schema: ctx.schema, worker, limit: want, leaseSeconds: o.leaseSeconds, now: clock(), lists: ctx.lists, session });
  });
  await giveBackAll(batch.messages.length);
  totals.suppressed += batch.suppressed;
  if (batch.messages.length === 0) {
    if (batch.suppressed === 0 && (await q(() => ledger.completeIfDone(db, ctx.name, clock())))) {
      totals.completed.push(ctx.name);
      log.info({ campaign: ctx.name }, 'campaign completed');
    }
    return { worked: batch.suppressed > 0 };
  }

  const leaseEnd = () => new Date(clock().getTime() + o.leaseSeconds * 1000);
  // Keep the claim alive while the batch is in flight, however slow the SMTP server.
  const inFlight = new Set(batch.messages.map((m) => m.id));
  const renew = setInterval(() => {
    ledger.renewLeases(db, worker, [...inFlight], leaseEnd()).catch((e) => log.warn({ err: String(e) }, 'could not renew leases'));
  }, (o.leaseSeconds * 1000) / 3);
  const recorder = new Recorder(db, worker, log, clock);
  const outcomes: ledger.Outcome[] = [];
  let policy = 0;
  const result = (m: ledger.ClaimedMessage, outcome: ledger.Outcome, bounce?: Bounce) => {
    inFlight.delete(m.id);
    outcomes.push(outcome);
    recorder.add(outcome, bounce);
  };
  const send = async (m: ledger.ClaimedMessage, message: ComposedMessage): Promise<void> => {
    const dkim = ctx.dkim.get(m.site);
    try {
      const { response } = await o.transport.send({ ...message, ...(dkim ? { dkim } : {}) }, { campaign: ctx.name, ledgerId: m.id });
      return result(m, { id: m.id, status: 'sent', response, messageId: message.messageId });
    } catch (err) {
      const v = classifyFailure(err as SmtpFailure);
      if (v.status === 'retry') {
        if (v.policy) policy++;
        const maxAge = durationMs(delivery.max_age ?? DEFAULT_MAX_AGE);
        const deadline = new Date(m.first_attempt_at).getTime() + maxAge;
        const now = clock().getTime();
        if (now >= deadline) return result(m, { id: m.id, status: 'expired', response: `expired after ${delivery.max_age ?? DEFAULT_MAX_AGE}: ${v.response}`, messageId: message.messageId });
        const next = new Date(Math.min(now + backoffSeconds(m.attempts) * 1000, deadline));
        return result(m, { id: m.id, status: 'queued', response: v.response, messageId: message.messageId, nextAttemptAt: next });
      }
      const bounce = v.status === 'bounced' ? { email: m.email, response: v.response } : undefined;
      return result(m, { id: m.id, status: v.status, response: v.response, messageId: message.messageId }, bounce);
    }
  };
  const handedOver = new Set<number>();
  try {
    const sending: Promise<void>[] = [];
    for (const m of batch.messages) {
      // Nothing more goes out while results cannot be recorded (the database is away) …
      await recorder.ready();
      // … or while this process's session lock is not held: others may take its claims meanwhile.
      if (!session.held || session.generation !== generation) {
        await q(() => session.ensure());
        generation = session.generation;
        const mine = new Set(await q(() => ledger.reclaim(db, worker, [...inFlight], leaseEnd(), session.key)));
        for (const id of inFlight) if (!mine.has(id) && !handedOver.has(id)) inFlight.delete(id);
      }
      if (!inFlight.has(m.id)) continue; // taken over by another worker while the lock was lost
      const rendered = await ctx.renderer.render(ctx.source(m.variant), m, { products: ctx.products(m.locale) });
      handedOver.add(m.id);
      sending.push(send(m, composeRendered(rendered, { to: m.email, id: `${ctx.name}.${m.id}` })));
      // Rendering is CPU work: between messages, the SMTP replies that came in
      // meanwhile are read, so connections never wait on a whole batch's renders.
      await new Promise(setImmediate);
    }
    await Promise.all(sending);
  } finally {
    clearInterval(renew);
  }
  // The messages went out: their results must be recorded, even through a database restart.
  await recorder.close();
  for (const x of outcomes) {
    if (x.status === 'sent') totals.sent++;
    else if (x.status === 'queued') totals.retried++;
    else totals[x.status]++;
  }
  await q(() => breaker(db, ctx, outcomes.length, policy, totals, log));
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
