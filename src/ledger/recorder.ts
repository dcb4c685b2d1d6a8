import type { Db } from '../db/db.js';
import { retrying } from '../db/retry.js';
import type { Log } from '../log.js';
import * as ledger from './ledger.js';
import { suppressBounced } from '../audience/suppressions.js';
import type { LinkSet } from '../links/rewrite.js';
import type { ChannelName } from '../channels/channel.js';

/**
 * Records a batch's results as the SMTP replies come in, in small group
 * commits, at most one every GROUP_MS: a result is recorded at once when the
 * last commit began that long ago, else with everything else that arrives
 * until then, in one statement (with the bounces' suppressions, in one
 * transaction). A worker killed mid-batch so loses only the results of the
 * last ~100 ms, not a whole batch: those messages, sent but not recorded, are
 * all that go out twice; a slow server's replies are recorded one by one.
 *
 * Commits run one after another. One that fails because the database is
 * unreachable is retried through the outage grace (retry.ts); meanwhile
 * `ready()` holds the worker back from handing over more messages, whose
 * results could not be recorded either.
 */
export const GROUP_MS = 100;

export interface Bounce {
  address: string;
  response: string;
  /** The channel the address is suppressed for (default email). */
  channel?: ChannelName;
}

export class Recorder {
  private outcomes: ledger.Outcome[] = [];
  private bounces: Bounce[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** The commits so far, in order. */
  private chain: Promise<void> = Promise.resolve();
  /** A commit that gave up: every later one, and the worker, stop with it. */
  private failed: { error: unknown } | undefined;
  /** A commit is being retried: the database is unreachable. */
  private struggling = false;
  /** When the last group was taken for a commit (ms since the epoch). */
  private lastFlush = 0;

  constructor(
    private readonly db: Db,
    private readonly worker: string,
    private readonly log: Log,
    private readonly clock: () => Date,
  ) {}

  add(outcome: ledger.Outcome, bounce?: Bounce): void {
    this.outcomes.push(outcome);
    if (bounce) this.bounces.push(bounce);
    this.timer ??= setTimeout(() => void this.flush(), Math.max(0, this.lastFlush + GROUP_MS - Date.now()));
  }

  /** Resolves when results can be recorded: at once, or when the commit being retried gets through. Throws if it never does. */
  async ready(): Promise<void> {
    if (this.struggling) await this.chain;
    if (this.failed) throw this.failed.error;
  }

  /** Records what is left and waits for every commit. */
  async close(): Promise<void> {
    await this.flush();
    if (this.failed) throw this.failed.error;
  }

  private flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.outcomes.length > 0) {
      this.lastFlush = Date.now();
      const outcomes = this.outcomes.splice(0);
      const bounces = this.bounces.splice(0);
      this.chain = this.chain.then(() => this.commit(outcomes, bounces));
      // Whoever waits next hears of a failure through `failed`.
      this.chain = this.chain.catch((error: unknown) => void (this.failed ??= { error }));
    }
    return this.chain;
  }

  private async commit(outcomes: ledger.Outcome[], bounces: Bounce[]): Promise<void> {
    if (this.failed) return;
    const sets = newLinkSets(outcomes);
    let attempt = 0;
    await retrying(this.log, async () => {
      if (attempt++ > 0) this.struggling = true;
      const now = this.clock();
      if (bounces.length === 0 && sets.length === 0) return ledger.recordOutcomes(this.db, this.worker, outcomes, now);
      await this.db.transaction(async (tx) => {
        await ledger.recordLinkSets(tx, sets);
        await ledger.recordOutcomes(tx, this.worker, outcomes, now);
        await suppressBounced(tx, bounces);
      });
    }).finally(() => (this.struggling = false));
    for (const s of sets) storedSets.add(s.hash);
  }
}

/**
 * Link sets this process has stored: most messages of a run share a few, and
 * each is written once, not with every message. Forgetting one (the set is
 * capped) only costs an INSERT that finds it there.
 */
const storedSets = new Set<string>();

function newLinkSets(outcomes: readonly ledger.Outcome[]): LinkSet[] {
  if (storedSets.size > 50_000) storedSets.clear();
  const fresh = new Map<string, LinkSet>();
  for (const o of outcomes) if (o.linkSet && !storedSets.has(o.linkSet.hash)) fresh.set(o.linkSet.hash, o.linkSet);
  return [...fresh.values()];
}
