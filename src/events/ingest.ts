import type { Queryable } from '../db/db.js';
import type { Log } from '../log.js';
import type { EventClass } from './classify.js';

/**
 * The tracking server's event writer. Opens and clicks are the bulk of what
 * it receives, and one INSERT per request would make the database the limit
 * (bench/track.mjs measures it): events are held in memory and written in
 * batches, one set-based statement each, every `intervalMs` or as soon as
 * `batchSize` are waiting. close() writes whatever is left, so a graceful
 * stop (SIGTERM) loses nothing. A batch the database refuses (it is
 * restarting, say) stays and is tried again at the next flush.
 */
export interface TrackedEvent {
  message: number;
  kind: 'open' | 'click';
  class: EventClass;
  /** A click's index in its message's link set. */
  link: number | null;
  origin: 'pixel' | 'click';
  detail: Record<string, unknown> | null;
  at: Date;
}

export interface IngestOptions {
  intervalMs?: number;
  batchSize?: number;
  /** Events held at most while the database is away; past it the oldest are dropped, and counted. */
  maxHeld?: number;
  log: Log;
}

/** A click this soon after the ledger says the message was sent is a scanner's: nobody reads and clicks that fast. */
export const SCANNER_CLICK_SECONDS = 10;

/**
 * record_events: one batch, as a JSON array of rows. Joined to
 * herald.messages, so an event of a message the ledger does not have (a
 * token signed for another database, a message since erased) is dropped
 * instead of failing the batch on the foreign key. The join also applies the
 * timing rule: a click a human-looking agent made within
 * SCANNER_CLICK_SECONDS of sent_at, or before the send was even recorded
 * (sent_at NULL: a gateway scanning the message while the SMTP conversation
 * ends), is a scanner's, with `"by": "timing"` in its detail.
 */
const RECORD_EVENTS = `
  INSERT INTO herald.message_events (message_id, kind, class, link, origin, detail, at)
  SELECT e.message_id, e.kind,
         CASE WHEN e.kind = 'click' AND e.class = 'human' AND (m.sent_at IS NULL OR e.at < m.sent_at + make_interval(secs => $2)) THEN 'scanner' ELSE e.class END,
         e.link, e.origin,
         CASE WHEN e.kind = 'click' AND e.class = 'human' AND (m.sent_at IS NULL OR e.at < m.sent_at + make_interval(secs => $2))
              THEN coalesce(e.detail, '{}'::jsonb) || '{"by": "timing"}'::jsonb ELSE e.detail END,
         e.at
    FROM jsonb_to_recordset($1::jsonb) AS e(message_id bigint, kind text, class text, link int, origin text, detail jsonb, at timestamptz, n int)
    JOIN herald.messages m ON m.id = e.message_id
   -- Ids in the order the events happened: the join may have reordered them.
   ORDER BY e.n`;

export class EventWriter {
  private held: TrackedEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private closed = false;
  private readonly intervalMs: number;
  private readonly batchSize: number;
  private readonly maxHeld: number;
  /** Events written, and dropped because the database stayed away too long; for logs and tests. */
  written = 0;
  dropped = 0;

  constructor(
    private readonly db: Queryable,
    private readonly o: IngestOptions,
  ) {
    this.intervalMs = o.intervalMs ?? 200;
    this.batchSize = o.batchSize ?? 2000;
    this.maxHeld = o.maxHeld ?? 200_000;
  }

  /** Holds one event; it is written within intervalMs. Never waits for the database. */
  record(e: TrackedEvent): void {
    if (this.closed) throw new Error('the event writer is closed');
    this.held.push(e);
    if (this.held.length > this.maxHeld) {
      const over = this.held.length - this.maxHeld;
      this.held.splice(0, over);
      this.dropped += over;
    }
    if (this.held.length >= this.batchSize) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.intervalMs);
  }

  /** Events held and not yet written. */
  get pending(): number {
    return this.held.length;
  }

  /**
   * Writes the oldest batch held. Failures are logged, never thrown: a
   * request never waits on this. After a failure the next try backs off, up
   * to 5 s, so a database that is away is not hammered.
   */
  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    // One write at a time, so batches go in order and an event never twice.
    while (this.flushing) await this.flushing;
    if (this.held.length === 0) return;
    const ok = await this.writeNext();
    if (this.held.length === 0 || this.closed) return;
    if (ok && this.held.length >= this.batchSize) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), ok ? this.intervalMs : Math.min(this.intervalMs * 2 ** this.failures, 5000));
  }

  private failures = 0;

  /** The oldest batch held, written; put back in front when the database refuses it. */
  private writeNext(): Promise<boolean> {
    const batch = this.held.splice(0, this.batchSize);
    const p = this.db
      // One JSON document, not seven parameter arrays: V8 writes it natively, where
      // pg would quote every array element (a user agent, a date) in JavaScript.
      .query(RECORD_EVENTS, [
        JSON.stringify(batch.map((e, n) => ({ message_id: e.message, kind: e.kind, class: e.class, link: e.link, origin: e.origin, detail: e.detail ?? null, at: e.at, n }))),
        SCANNER_CLICK_SECONDS,
      ])
      .then(
        () => {
          this.written += batch.length;
          this.failures = 0;
          return true;
        },
        (err: unknown) => {
          this.held.unshift(...batch);
          this.failures++;
          this.o.log.warn({ err: (err as Error).message, events: batch.length }, 'tracking events not written yet; will try again');
          return false;
        },
      );
    this.flushing = p.then(() => {
      this.flushing = undefined;
    });
    return p;
  }

  /**
   * Stops taking events and writes everything held. A batch that fails is
   * tried again, `attempts` times in all, a second apart; what still cannot
   * be written is logged as lost.
   */
  async close(attempts = 5): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    let failed = 0;
    for (;;) {
      while (this.flushing) await this.flushing;
      if (this.held.length === 0) break;
      if (await this.writeNext()) continue;
      if (++failed >= attempts) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    if (this.held.length > 0) this.o.log.error({ events: this.held.length }, 'tracking events lost: the database did not take them before the server stopped');
  }
}
