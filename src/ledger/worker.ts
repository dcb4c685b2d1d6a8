import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Db } from '../db/db.js';
import { retrying } from '../db/retry.js';
import type { Log } from '../log.js';
import * as ledger from './ledger.js';
import { claimBatch, type ClaimCursor, type ClaimedBatch, type ClaimedMessage } from './claim.js';
import { completeIfDone, countAttempts, isSending, runPhase, sendingSources } from './runs.js';
import { countAndTrip } from './breaker.js';
import { Recorder, type Bounce } from './recorder.js';
import { joinSession, type Session } from './session.js';
import { sourceLabel, type ContactPolicy, type SourceRef } from './source.js';
import type { MessageExtras, MessageSource } from '../render/message.js';
import type { LinkSet } from '../links/rewrite.js';
import type { Project } from '../workspace/model.js';

import { giveBack, parseRate, takeTokens, tokenWaitMs, type Rate } from './throttle.js';
import { ChannelFailure, type Channel, type ChannelName, type Handed, type Outgoing } from '../channels/channel.js';
import { liveSubscriptions, type PushSubscription } from '../channels/push/subscriptions.js';
import type { ChannelRenderer } from '../render/channels.js';
import { durationMs } from '../audience/duration.js';

/**
 * What a worker needs of a source to send its messages, loaded once per
 * source from the deployed state (never the working copy): src/campaigns/
 * and src/triggers/ each build theirs. The worker knows nothing else of what
 * a campaign or a trigger is.
 */
export interface SourceContext {
  ref: SourceRef;
  project: Project;
  schema: string;
  /** The lists whose extra CSV columns become customer.* tokens. */
  lists: string[];
  renderer: ChannelRenderer;
  /** The source's own throttle ("50/s"), besides delivery.throttle. */
  throttle?: string;
  policy: ContactPolicy;
  /** A trigger's exit conditions, checked in the claim (claim.ts). */
  exitSql?: (param: (v: unknown) => string) => string;
  /** The message source of a ledger row's variant (null: no A/B test). */
  message(variant: string | null): MessageSource;
  /** The tokens beyond the recipient's of a claimed batch's messages, by ledger id (one query per batch). */
  extras(batch: readonly ClaimedMessage[]): Promise<Map<number, MessageExtras>>;
}

export type SourceLoader = (ref: SourceRef) => Promise<SourceContext>;

/**
 * A worker: claims due messages of the sources that are sending, renders
 * and sends them, and records every result as its reply comes in (in group
 * commits, recorder.ts). Stateless: everything it knows is in the database,
 * so any number of workers, in one process or on many machines, can run side
 * by side. A killed worker loses nothing: the messages it held return to the
 * queue at once, as its process's session lock (session.ts) is gone; the
 * only ones sent twice are those whose replies came in since its last commit.
 */
export interface DeliverOptions {
  /** The channel each ledger row goes through, by its channel column, for the project of the source. */
  channel: (name: ChannelName, project: Project) => Channel;
  log: Log;
  /** The clock retries, expiry and leases are reckoned by (tests inject one). */
  clock?: () => Date;
  /** This worker's name in the ledger; unique per worker. */
  worker?: string;
  /** Messages per claim; by default defaultBatchSize's. */
  batchSize?: number;
  /** How long a claim holds without renewal: a dead process's claims are free at once (session.ts), a stuck or cut-off one's after this. */
  leaseSeconds?: number;
  /** Builds a source's context, once per source and worker. */
  loadSource: SourceLoader;
  /** Only these sources (herald send); otherwise every source that is sending. */
  sources?: SourceRef[];
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
  /** Settled at claim: a trigger's event went away. */
  exited: number;
  /** Settled at claim: over the frequency cap, skipped. */
  capped: number;
  /** Put off at claim: quiet hours, or over the frequency cap. */
  deferred: number;
  /** Campaigns this worker saw complete. */
  completed: string[];
  /** Sources the circuit breaker paused ("campaign x", "trigger y"). */
  paused: string[];
}

export function emptyTotals(): DeliverTotals {
  return { sent: 0, failed: 0, bounced: 0, retried: 0, expired: 0, unknown: 0, suppressed: 0, exited: 0, capped: 0, deferred: 0, completed: [], paused: [] };
}

/** The counters of DeliverTotals, for adding several workers' up. */
export const TOTAL_COUNTS = ['sent', 'failed', 'bounced', 'retried', 'expired', 'unknown', 'suppressed', 'exited', 'capped', 'deferred'] as const;

const DEFAULT_MAX_AGE = '24h';

/**
 * Messages per claim, by default: 20 for each SMTP connection the project
 * keeps (delivery.smtp_pool, 5 by default), at least 50. Two batches are in
 * flight at a time (deliver), so each connection has its next messages
 * queued while a claim's round trips and the next batch's rendering happen.
 */
export function defaultBatchSize(project: Project): number {
  return Math.max(50, 20 * (project.delivery?.smtp_pool ?? 5));
}
/** How soon a worker looks again at rows another claim held the cap lock for. */
const BUSY_RETRY_MS = 50;

/** What a worker keeps of a source between its claims: a cache, never coordination (claim.ts). */
interface SourceState {
  /** Where its last claim ended. */
  cursor?: ClaimCursor;
  /** When its last claim that took back was made (ms); 0: never yet. */
  fullAt: number;
  /** Attempts not yet added to the run's count (the circuit breaker's). */
  attempts: number;
  /** When they were last added (ms). */
  countedAt: number;
}

/** How often the run's attempt count is brought up to date when nothing was refused: one UPDATE of one row per batch would grow a version chain as long as the send while any snapshot is open. */
const COUNT_EVERY_MS = 10_000;

export async function deliver(db: Db, o: DeliverOptions): Promise<DeliverTotals> {
  const clock = o.clock ?? (() => new Date());
  const worker = o.worker ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const leaseSeconds = o.leaseSeconds ?? 60;
  const totals = emptyTotals();
  const contexts = new Map<string, SourceContext>();
  const states = new Map<string, SourceState>();
  const contextFor = async (ref: SourceRef) => {
    const key = sourceLabel(ref);
    let c = contexts.get(key);
    if (!c) contexts.set(key, (c = await o.loadSource(ref)));
    return c;
  };
  const stateOf = (ref: SourceRef) => {
    const key = sourceLabel(ref);
    let s = states.get(key);
    if (!s) states.set(key, (s = { fullAt: 0, attempts: 0, countedAt: Date.now() }));
    return s;
  };
  // This worker's rows in flight, of every batch not yet recorded: a claim never takes them back.
  const flying = new Set<number>();
  // The batch in flight: its replies and their recording. The next batch is
  // claimed, rendered and handed over meanwhile, so the connections never
  // drain at a batch's end; it is awaited before the one after is claimed.
  let pending: Promise<void> | undefined;
  const drain = async () => {
    const p = pending;
    pending = undefined;
    await p;
  };

  // The next batch of a source, claimed while this one is rendered and
  // handed over: the claim's round trips (~20 ms for 100 messages) left the
  // connections with nothing to send at every batch's end. Claimed only
  // when the worker has one source to itself and the queue is not running
  // dry; it goes only if its source still sends when its turn comes, and
  // is given back (queued again as it was) if it does not or the worker stops.
  let ahead: { key: string; next: Promise<Claimed | BatchResult> } | undefined;
  const handBack = async (c: Claimed): Promise<void> => {
    const ids = c.batch.messages.map((m) => m.id);
    await retrying(o.log, () => ledger.unclaim(db, worker, ids));
    for (const id of ids) flying.delete(id);
    // Those rows lie behind where the claims have got to: the next claim looks from the start.
    delete stateOf(c.ctx.ref).cursor;
  };
  const dropAhead = async (): Promise<void> => {
    const a = ahead;
    ahead = undefined;
    const c = await a?.next.catch(() => undefined);
    if (c && 'batch' in c) await handBack(c);
  };

  const session = joinSession(db);
  try {
    for (;;) {
      if (o.shouldStop?.()) break;
      const sources = o.sources ?? (await retrying(o.log, () => sendingSources(db)));
      let worked = false;
      let throttledFor = 0;
      for (const ref of sources) {
        if (o.shouldStop?.()) break;
        const ctx = await retrying(o.log, () => contextFor(ref));
        const key = sourceLabel(ref);
        const options: BatchOptions = { ...o, clock, worker, leaseSeconds, session, flying, inFlight: !!pending };
        let c: Claimed | BatchResult;
        if (ahead?.key === key) {
          const a = ahead;
          ahead = undefined;
          c = await a.next;
          // Claimed before the batches in flight were recorded: a pause, a cancel or the circuit breaker may have come since.
          if ('batch' in c && !(await retrying(o.log, () => isSending(db, ref)))) {
            await handBack(c);
            c = { worked: true, drain: true };
          }
        } else {
          await dropAhead();
          c = await claimFor(db, ctx, stateOf(ref), options, totals);
        }
        let r: BatchResult;
        if ('batch' in c) {
          if (sources.length === 1 && c.full && !o.shouldStop?.()) {
            const next = claimFor(db, ctx, stateOf(ref), { ...options, inFlight: true }, totals);
            next.catch(() => {}); // observed when its turn comes, or by dropAhead
            ahead = { key, next };
          }
          r = await sendBatch(db, c, options, totals, stateOf(ref));
        } else r = c;
        if (r.done) {
          const previous = pending;
          pending = r.done;
          // Observed by drain(), or by the finally below when something else failed first.
          pending.catch(() => {});
          if (previous) await previous;
        } else if (r.drain) await drain();
        if (r.worked) worked = true;
        if (r.throttledMs) throttledFor = throttledFor ? Math.min(throttledFor, r.throttledMs) : r.throttledMs;
      }
      if (!worked) {
        await drain();
        if (!throttledFor) break;
        await sleep(throttledFor);
      }
    }
    await dropAhead();
    await drain();
    // The attempts not yet counted, for the next breaker's reckoning.
    for (const [key, s] of states) {
      const ctx = contexts.get(key);
      if (ctx && s.attempts > 0) await retrying(o.log, () => countAttempts(db, ctx.ref, s.attempts, 0)).then(() => (s.attempts = 0));
    }
  } finally {
    // Something failed: the batch in flight is still recorded, and one claimed ahead given back, before the session goes.
    await pending?.catch(() => {});
    await dropAhead().catch(() => {});
    await session.release();
  }
  return totals;
}

interface BatchResult {
  worked: boolean;
  /** Nothing claimed because a throttle ran dry: try again after this long. */
  throttledMs?: number;
  /** The batch handed over: resolves when every result is recorded. */
  done?: Promise<void>;
  /** Nothing claimed while a batch was in flight: wait for it, then look again (its retries, the campaign's completion). */
  drain?: boolean;
}

/** What a worker's batch steps need besides the caller's options. */
type BatchOptions = DeliverOptions & { clock: () => Date; worker: string; leaseSeconds: number; session: Session; flying: Set<number>; inFlight: boolean };

/** A claimed batch, ready to render and hand over (sendBatch). */
interface Claimed {
  ctx: SourceContext;
  batch: ClaimedBatch;
  extras: Map<number, MessageExtras>;
  devices: Map<number, PushSubscription[]>;
  /** The session's generation the claim was made under: a later one means the lock was lost meanwhile. */
  generation: number;
  /** As many as were asked for: the queue is not running dry. */
  full: boolean;
}

/**
 * One batch's claim: take throttle tokens, claim, and read what rendering
 * needs (the batch's extras, a push's devices). Every database step rides
 * out an outage (retrying); the batch's rows stay out of every claim of
 * this worker until their results are recorded. Nothing claimed: what the
 * worker does next (BatchResult).
 */
async function claimFor(db: Db, ctx: SourceContext, state: SourceState, o: BatchOptions, totals: DeliverTotals): Promise<Claimed | BatchResult> {
  const { clock, worker, log, session } = o;
  const q = <T>(fn: () => Promise<T>) => retrying(log, fn);
  const delivery = ctx.project.delivery ?? {};
  const buckets: { key: string; rate: Rate }[] = [
    ...(ctx.throttle ? [{ key: `${ctx.ref.kind}:${ctx.ref.name}`, rate: parseRate(ctx.throttle) }] : []),
    ...(delivery.throttle ? [{ key: 'global', rate: parseRate(delivery.throttle) }] : []),
  ];
  // A claim is made only under a held session lock: it is what tells others this worker lives.
  // Taken before the throttle's tokens, so a claim follows its tokens at once.
  await q(() => session.ensure());
  let want = o.batchSize ?? defaultBatchSize(ctx.project);
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
  // A full claim (claim.ts) on the first of this source and after a claim
  // that failed (it may have committed: its rows are this worker's, unseen);
  // claims whose holder is gone are taken back once per lease period too.
  let attempt = 0;
  const batch = await q(async () => {
    await session.ensure();
    generation = session.generation;
    const full = attempt++ > 0 || state.fullAt === 0;
    const takeBack = Date.now() - state.fullAt >= o.leaseSeconds * 1000;
    if (full || takeBack) state.fullAt = Date.now();
    return claimBatch(db, {
      source: ctx.ref,
      schema: ctx.schema,
      worker,
      limit: want,
      leaseSeconds: o.leaseSeconds,
      now: clock(),
      lists: ctx.lists,
      session,
      policy: ctx.policy,
      ...(ctx.exitSql ? { exitSql: ctx.exitSql } : {}),
      ...(state.cursor ? { after: state.cursor } : {}),
      full,
      takeBack,
      inFlight: [...o.flying],
    });
  });
  if (batch.cursor) state.cursor = batch.cursor;
  await giveBackAll(batch.messages.length);
  totals.suppressed += batch.suppressed;
  totals.exited += batch.exited;
  totals.capped += batch.capped;
  totals.deferred += batch.deferred;
  const settled = batch.suppressed + batch.exited + batch.capped + batch.deferred;
  if (batch.messages.length === 0) {
    // The batch in flight may yet leave rows to retry, and the campaign is not done while it flies.
    if (settled === 0 && o.inFlight) return { worked: true, drain: true };
    // A completion retried after a lost reply finds the run completed already: its own.
    let tries = 0;
    const completing = async () => (tries++ > 0 && (await runPhase(db, ctx.ref)) === 'completed') || completeIfDone(db, ctx.ref, clock());
    if (settled === 0 && (await q(completing))) {
      totals.completed.push(ctx.ref.name);
      log.info({ campaign: ctx.ref.name }, 'campaign completed');
    }
    // Rows left for a moment because another claim held their recipient's cap lock: look again shortly, not never.
    return { worked: settled > 0, ...(batch.busy > 0 ? { throttledMs: BUSY_RETRY_MS } : {}) };
  }
  for (const m of batch.messages) o.flying.add(m.id);
  try {
    const extras = await q(() => ctx.extras(batch.messages));
    // A push goes to every live device of its customer: the batch's devices in one query.
    const pushed = batch.messages.filter((m) => m.channel === 'push' && m.customer_id !== null).map((m) => m.customer_id!);
    const devices = pushed.length ? await q(() => liveSubscriptions(db, ctx.schema, pushed)) : new Map<number, PushSubscription[]>();
    return { ctx, batch, extras, devices, generation, full: batch.messages.length >= want };
  } catch (e) {
    for (const m of batch.messages) o.flying.delete(m.id);
    throw e;
  }
}

/**
 * A claimed batch: render and hand over each message while the replies of
 * earlier ones (this batch's and the one before) are recorded. Returns once
 * every message is handed over, with `done`, the recording of their results.
 */
async function sendBatch(db: Db, claimed: Claimed, o: BatchOptions, totals: DeliverTotals, state: SourceState): Promise<BatchResult> {
  const { clock, worker, log, session } = o;
  const { ctx, batch, extras, devices } = claimed;
  let { generation } = claimed;
  const q = <T>(fn: () => Promise<T>) => retrying(log, fn);
  const delivery = ctx.project.delivery ?? {};
  const leaseEnd = () => new Date(clock().getTime() + o.leaseSeconds * 1000);
  // Keep the claim alive while the batch is in flight, however slow the SMTP server.
  const inFlight = new Set(batch.messages.map((m) => m.id));
  const renew = setInterval(() => {
    ledger.renewLeases(db, worker, [...inFlight], leaseEnd()).catch((e) => log.warn({ err: String(e) }, 'could not renew leases'));
  }, (o.leaseSeconds * 1000) / 3);
  const recorder = new Recorder(db, worker, log, clock);
  const outcomes: ledger.Outcome[] = [];
  let policy = 0;
  const result = (m: ClaimedMessage, outcome: ledger.Outcome, bounce?: Bounce) => {
    inFlight.delete(m.id);
    outcomes.push(outcome);
    recorder.add(outcome, bounce);
  };
  const channels = new Map<ChannelName, Channel>();
  const channelOf = (name: ChannelName): Channel => {
    let c = channels.get(name);
    if (!c) channels.set(name, (c = o.channel(name, ctx.project)));
    return c;
  };
  const send = async (m: ClaimedMessage, handed: Handed, linkSet?: LinkSet): Promise<void> => {
    const { messageId } = handed;
    try {
      // An SMS provider's id for the message comes with its reply.
      const reply = await handed.sent;
      const sent = typeof reply === 'string' ? { response: reply, messageId } : reply;
      return result(m, { id: m.id, status: 'sent', ...sent, ...(linkSet ? { linkSet } : {}) });
    } catch (err) {
      if (!(err instanceof ChannelFailure)) throw err;
      const v = err.verdict;
      if (v.status === 'retry') {
        if (v.policy) policy++;
        const maxAge = durationMs(delivery.max_age ?? DEFAULT_MAX_AGE);
        const deadline = new Date(m.first_attempt_at).getTime() + maxAge;
        const now = clock().getTime();
        if (now >= deadline) return result(m, { id: m.id, status: 'expired', response: `expired after ${delivery.max_age ?? DEFAULT_MAX_AGE}: ${v.response}`, messageId });
        const next = new Date(Math.min(now + Math.max(backoffSeconds(m.attempts), v.retryAfter ?? 0) * 1000, deadline));
        return result(m, { id: m.id, status: 'queued', response: v.response, messageId, nextAttemptAt: next });
      }
      const bounce = v.status === 'bounced' ? { address: err.address ?? m.address, response: v.response, channel: m.channel } : undefined;
      return result(m, { id: m.id, status: v.status, response: v.response, messageId }, bounce);
    }
  };
  const handedOver = new Set<number>();
  const sending: Promise<void>[] = [];
  // Every result is recorded, the batch's rows leave `flying`, then the totals and the breaker.
  const finish = async (): Promise<void> => {
    try {
      await Promise.all(sending);
    } finally {
      clearInterval(renew);
    }
    // The messages went out: their results must be recorded, even through a database restart.
    try {
      await recorder.close();
    } finally {
      for (const m of batch.messages) o.flying.delete(m.id);
    }
    for (const x of outcomes) {
      if (x.status === 'sent') totals.sent++;
      else if (x.status === 'queued') totals.retried++;
      else totals[x.status]++;
    }
    state.attempts += outcomes.length;
    if (policy > 0 || Date.now() - state.countedAt >= COUNT_EVERY_MS) {
      const attempts = state.attempts;
      state.attempts = 0;
      state.countedAt = Date.now();
      await q(() => breaker(db, ctx, attempts, policy, totals, log));
    }
    o.onBatch?.(totals);
  };
  try {
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
      // customer.email is the customer's address on every channel; the row's address is the channel's (a phone, a device).
      const recipient = Object.assign({}, m, { email: m.channel === 'email' ? m.address : (m.customer_email ?? '') });
      const rendered = await ctx.renderer.on(m.channel, ctx.message(m.variant), recipient, extras.get(m.id) ?? { products: [] }, m.id);
      handedOver.add(m.id);
      const outgoing: Outgoing = { ledgerId: m.id, source: ctx.ref, address: m.address, site: m.site, customerId: m.customer_id, country: m.country, rendered };
      if (m.channel === 'push' && m.customer_id !== null) outgoing.subscriptions = devices.get(m.customer_id) ?? [];
      sending.push(send(m, channelOf(m.channel).send(outgoing), rendered.linkSet));
      // Rendering is CPU work: between messages, the SMTP replies that came in
      // meanwhile are read, so connections never wait on a whole batch's renders.
      await new Promise(setImmediate);
    }
  } catch (e) {
    // What was handed over is still recorded; then the failure goes on.
    await finish().catch(() => {});
    throw e;
  }
  return { worked: true, done: finish() };
}

/** The circuit breaker over this batch's attempts (breaker.ts); a pause is logged with what to do. */
async function breaker(db: Db, ctx: SourceContext, attempts: number, policy: number, totals: DeliverTotals, log: Log): Promise<void> {
  const reason = await countAndTrip(db, ctx.project, ctx.ref, attempts, policy);
  if (!reason) return;
  totals.paused.push(sourceLabel(ctx.ref));
  log.error({ [ctx.ref.kind]: ctx.ref.name }, `${reason}; paused. Fix the cause (DKIM, SPF, DMARC, reputation), then \`herald resume ${ctx.ref.name} --reason …\``);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Backoff before the n-th retry (n ≥ 1): 1, 2, 4, … minutes, at most an hour, whatever the channel. */
export function backoffSeconds(attempt: number): number {
  return Math.min(60 * 2 ** Math.max(0, attempt - 1), 3600);
}
