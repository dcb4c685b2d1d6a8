import type { Db } from '../db/db.js';
import { retrying } from '../db/retry.js';
import type { Log } from '../log.js';
import { loadDeployed } from '../state/queries.js';
import { effectiveStatus } from '../state/overrides.js';
import type { Campaign } from '../workspace/model.js';
import type { WinnerDecision } from '../campaigns/ab.js';
import { deliver, emptyTotals, TOTAL_COUNTS, type DeliverTotals, type SourceLoader } from '../ledger/worker.js';
import { runPhase, sendingSources } from '../ledger/runs.js';
import { launchCampaign } from '../campaigns/send.js';
import type { Transport } from '../channels/email/transport.js';
import { decideIfDue } from '../campaigns/winner.js';
import { sourceLoader } from './sources.js';
import { channelsOver } from '../channels/channels.js';
import { sweepAll, type SweptTrigger } from '../triggers/sweeps.js';
import { pollBounces, type BouncePoll } from './bounces.js';
import { attributeOrders } from '../events/attribution.js';

/**
 * The scheduler tick, `herald run`, as CI calls it on a schedule: launch the
 * campaigns whose time has come, sweep the triggers (their new occurrences
 * into the ledger, src/triggers/), decide the A/B winners that are due,
 * read the bounce mailbox (when herald.yaml names one), attribute the new
 * orders to the messages that brought them (src/events/), and
 * deliver with the given number of workers until nothing is due or the
 * budget is spent. Every step is safe to run twice at once: launching is
 * idempotent, a sweep runs under its trigger's lock and the ledger's key, a decision is taken under a row lock, claims skip locked rows.
 * So overlapping ticks, and any number of `herald deliver` hosts, never send
 * a message twice.
 */
export interface TickOptions {
  transport: Transport;
  log: Log;
  clock?: () => Date;
  workers?: number;
  batchSize?: number;
  leaseSeconds?: number;
  /** Stop claiming when this is true (the budget ran out, SIGTERM); what is in flight is finished. */
  shouldStop?: () => boolean;
  onBatch?: (t: DeliverTotals) => void;
}

export interface TickResult {
  launched: { campaign: string; rows: number }[];
  swept: SweptTrigger[];
  decided: { campaign: string; decision: WinnerDecision }[];
  /** Orders attributed to messages by this tick's pass (src/events/attribution.ts); the error when it failed. */
  attribution: { attributed: number; error?: string };
  delivered: DeliverTotals;
  /** The bounce mailbox, when herald.yaml names one (bounces.imap). */
  bounces?: BouncePoll;
}

export async function tick(db: Db, o: TickOptions): Promise<TickResult> {
  const clock = o.clock ?? (() => new Date());
  // A database restart between ticks or during one is ridden out, as workers do.
  const { launched, decided } = await retrying(o.log, () => schedule(db, o, clock));
  const swept = await retrying(o.log, () => sweepAll(db, clock(), o.log));
  const bounces = await pollBounces(db, o.log, clock);
  const attribution = await attribute(db, o, clock);
  const delivered = await deliverWith(db, o, clock);
  return { launched, swept, decided, attribution, delivered, ...(bounces ? { bounces } : {}) };
}

/** The attribution pass; its failure is logged and reported, and does not keep delivery from running. */
async function attribute(db: Db, o: TickOptions, clock: () => Date): Promise<TickResult['attribution']> {
  try {
    const pass = await retrying(o.log, () => attributeOrders(db, clock()));
    if (pass?.attributed) o.log.info({ attributed: pass.attributed }, 'orders attributed');
    return { attributed: pass?.attributed ?? 0 };
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    o.log.error({ err: error }, 'attribution failed; delivery goes on');
    return { attributed: 0, error };
  }
}

/** Launch what is due and decide what is due; both are safe to repeat after a lost connection. */
async function schedule(db: Db, o: TickOptions, clock: () => Date): Promise<Pick<TickResult, 'launched' | 'decided'>> {
  const now = clock();
  const campaigns = (await loadDeployed(db)).filter((d) => d.kind === 'campaign' && !d.archivedAt);
  const launched: TickResult['launched'] = [];
  for (const d of campaigns) {
    const c = d.spec as unknown as Campaign;
    if (!c.schedule?.at || new Date(c.schedule.at).getTime() > now.getTime()) continue;
    if (await runPhase(db, { kind: 'campaign', name: d.name })) continue;
    if ((await effectiveStatus(db, d.name, c.status ?? 'draft')).status !== 'ready') continue;
    const r = await launchCampaign(db, d.name, now);
    if (r.launched) {
      launched.push({ campaign: d.name, rows: r.materialised });
      o.log.info({ campaign: d.name, rows: r.materialised }, 'launched: audience materialised');
    }
  }
  const decided: TickResult['decided'] = [];
  for (const { name } of await sendingSources(db, 'campaign')) {
    const spec = campaigns.find((d) => d.name === name)?.spec as unknown as Campaign | undefined;
    if (!spec?.ab_test) continue;
    const decision = await decideIfDue(db, name, spec, clock());
    if (decision) {
      decided.push({ campaign: name, decision });
      o.log.info({ campaign: name, winner: decision.winner, p: decision.pValue }, `A/B decided: ${decision.reason}`);
    }
  }
  return { launched, decided };
}

/** N workers in this process, each its own claims and leases; their totals added up. */
export async function deliverWith(db: Db, o: TickOptions, clock: () => Date): Promise<DeliverTotals> {
  const sum = emptyTotals();
  const each = new Map<number, DeliverTotals>();
  const add = () => {
    const all = [...each.values()];
    for (const k of TOTAL_COUNTS) sum[k] = all.reduce((n, t) => n + t[k], 0);
    sum.completed = [...new Set(all.flatMap((t) => t.completed))];
    sum.paused = [...new Set(all.flatMap((t) => t.paused))];
  };
  await Promise.all(
    Array.from({ length: Math.max(1, o.workers ?? 1) }, (_, i) =>
      deliver(db, {
        channel: channelsOver(o.transport, db),
        log: o.log,
        clock,
        loadSource: sourceLoader(db, clock),
        ...(o.batchSize ? { batchSize: o.batchSize } : {}),
        ...(o.leaseSeconds ? { leaseSeconds: o.leaseSeconds } : {}),
        ...(o.shouldStop ? { shouldStop: o.shouldStop } : {}),
        onBatch: (t) => {
          each.set(i, t);
          add();
          o.onBatch?.(sum);
        },
      }).then((t) => {
        each.set(i, t);
        add();
      }),
    ),
  );
  return sum;
}
