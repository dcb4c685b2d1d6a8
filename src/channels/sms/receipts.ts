import type { Db } from '../../db/db.js';
import { suppressBounced } from '../../audience/suppressions.js';

/**
 * Delivery receipts: what an SMS provider reports after it took a message,
 * applied to the ledger row it names by the provider's id (herald.messages.
 * message_id, recorded by the worker from the provider's reply; the partial
 * index messages_sms_provider_id finds it). Idempotent: a provider that
 * reports twice, or retries, changes nothing the second time.
 *
 * - delivered: a `delivered` event on the message, once;
 * - bounced: the number cannot take SMS (Twilio 30003 unreachable handset,
 *   30005 unknown number, 30006 landline or unreachable carrier): the row
 *   becomes `bounced` with the reason and a `bounce` event is recorded; when
 *   the cause is permanent (`suppress`), the number is suppressed for SMS;
 * - failed: any other undelivered message: the row becomes `failed` with the reason.
 *
 * Only a `sent` row changes: a receipt for a row already bounced or failed,
 * or one that comes before the worker recorded the provider's id, is
 * reported as unmatched and changes nothing.
 */
export interface Receipt {
  providerId: string;
  outcome: 'delivered' | 'bounced' | 'failed';
  /** What the provider said, for the row's reason and the event's detail. */
  reason: string;
  origin: 'twilio' | 'webhook';
  /** A bounce whose cause is permanent: the number to suppress for SMS, in E.164. */
  suppress?: string;
  at: Date;
}

export interface ReceiptResult {
  /** A sent SMS of herald's has this provider id. */
  matched: boolean;
  /** The receipt changed something (false for one seen before). */
  changed: boolean;
}

/**
 * record_delivered: the `delivered` event of the SMS with this provider id,
 * once (message_events_delivered).
 */
const RECORD_DELIVERED = `
  WITH m AS (SELECT id FROM herald.messages WHERE message_id = $1 AND channel = 'sms'),
  added AS (
    INSERT INTO herald.message_events (message_id, kind, origin, detail, at)
    SELECT id, 'delivered', $2, $3::jsonb, $4 FROM m
    ON CONFLICT (message_id) WHERE kind = 'delivered' DO NOTHING
    RETURNING 1)
  SELECT EXISTS (SELECT 1 FROM m) AS matched, EXISTS (SELECT 1 FROM added) AS changed`;

/**
 * settle_undelivered: a sent SMS the provider could not deliver becomes
 * bounced or failed with the reason; a bounce also gets its event (once,
 * message_events_once).
 */
const SETTLE_UNDELIVERED = `
  WITH m AS (SELECT id, status FROM herald.messages WHERE message_id = $1 AND channel = 'sms' FOR UPDATE),
  settled AS (
    UPDATE herald.messages x SET status = $2, reason = $3
      FROM m WHERE x.id = m.id AND m.status = 'sent'
    RETURNING x.id),
  event AS (
    INSERT INTO herald.message_events (message_id, kind, origin, detail, at)
    SELECT id, 'bounce', $4, $5::jsonb, $6 FROM settled WHERE $2 = 'bounced'
    ON CONFLICT DO NOTHING)
  SELECT EXISTS (SELECT 1 FROM m) AS matched, EXISTS (SELECT 1 FROM settled) AS changed`;

export async function applyReceipt(db: Db, r: Receipt): Promise<ReceiptResult> {
  const detail = JSON.stringify({ reason: clean(r.reason) });
  if (r.outcome === 'delivered') {
    const [row] = await db.query<ReceiptResult>(RECORD_DELIVERED, [r.providerId, r.origin, detail, r.at]);
    return row!;
  }
  return db.transaction(async (tx) => {
    const [row] = await tx.query<ReceiptResult>(SETTLE_UNDELIVERED, [r.providerId, r.outcome, clean(r.reason), r.origin, detail, r.at]);
    if (row!.changed && r.outcome === 'bounced' && r.suppress) await suppressBounced(tx, [{ address: r.suppress, response: clean(r.reason), channel: 'sms' }]);
    return row!;
  });
}

/** A provider's words, fit to store: no NUL (PostgreSQL takes none in text), bounded. */
function clean(text: string): string {
  return text.replace(/\0/g, '').slice(0, 500);
}
