import { ADDRESS_SQL } from '../audience/address.js';
import { quoteIdent } from '../db/ident.js';
import type { Trigger } from '../workspace/model.js';
import { unboughtRecommendation } from './recommend.js';

/**
 * Exit conditions: a trigger's occurrence waits in the ledger until it is
 * due (a cart for four hours, an order for a week), and by then what made it
 * may have gone away. The claim statement settles such a row as `exited`,
 * with the reason, instead of sending it. Each reason is a fixed short text:
 * reports group by it ("ordered" is how many abandoned carts came back).
 *
 * The expression reads the shop as it is at the claim, against the row's
 * payload as the sweep wrote it:
 *
 *   cart_abandoned   {"cart_id": 123, "version": "<carts.updated_at>"}
 *   back_in_stock    {"sku": "X", "back_at": "<ISO>"}
 *   order_total_over, cross_sell_after_purchase  {"order_id": 1}
 *   birthday         {"birthday": "YYYY-MM-DD", "year": 2026}
 *   no_order_after_signup, sql: nothing of the payload is read
 *
 * The event's own reasons come first, so a cart that was ordered counts as
 * ordered whatever else changed; then the customer's (address, consent).
 * Suppressions (unsubscribes, bounces) are the claim's own check.
 */

export interface ExitContext {
  /** The shop's schema (source.schema), validated and quoted here. */
  schema: string;
  /** Order statuses that do not count as orders (source.cancelled_statuses). */
  cancelled: readonly string[];
}

/** One way an occurrence goes away: a boolean over the ledger row `m`, its customer `c` and the event's row. */
interface Exit {
  reason: string;
  when: string;
}

/** The event's row, LEFT JOINed once so that each exit can read it, and so that a row gone is an exit too. */
interface Subject {
  join: string;
  exits: Exit[];
}

/**
 * exitReasonSql: an SQL expression over the ledger row aliased `m`, the
 * reason the occurrence went away, or NULL while it holds. It goes into the
 * claim statement, `param` adding each value to that statement's parameters
 * (a value is added only when used: PostgreSQL cannot type a parameter the
 * statement never mentions).
 *
 * One scalar subquery per row: the customer and the event's row are joined
 * once to a single row, so a customer or cart that no longer exists reads as
 * NULLs (an exit) rather than as no row.
 */
export function exitReasonSql(spec: Trigger, ctx: ExitContext, param: (v: unknown) => string): string {
  const s = quoteIdent(ctx.schema);
  let cancelledRef: string | undefined;
  const cancelled = () => (cancelledRef ??= `${param([...ctx.cancelled])}::text[]`);
  const subject = eventSubject(spec, s, cancelled, param);
  const exits = [...subject.exits, ...customerExits()];
  return `(SELECT CASE
            ${exits.map((e) => `WHEN ${e.when} THEN '${e.reason}'`).join('\n            ')}
          END
     FROM (VALUES (1)) AS one (x)
     LEFT JOIN ${s}.customers c ON c.id = m.customer_id${subject.join ? `\n     ${subject.join}` : ''})`;
}

/** The customer can no longer be written to, whatever the event: true of every trigger. */
function customerExits(): Exit[] {
  return [
    // no address: the customer's email is gone or no longer an address (a
    // customer deleted from the shop has none either).
    { reason: 'no address', when: `m.customer_id IS NOT NULL AND (c.email IS NULL OR c.email !~ ${ADDRESS_SQL})` },
    // no consent: email_opt_in was withdrawn since the sweep.
    { reason: 'no consent', when: 'm.customer_id IS NOT NULL AND c.email_opt_in IS NOT TRUE' },
  ];
}

function eventSubject(spec: Trigger, s: string, cancelled: () => string, param: (v: unknown) => string): Subject {
  // A counted order of the customer's: not in a cancelled status.
  const counted = () => `o.customer_id = m.customer_id AND o.status <> ALL(${cancelled()})`;
  const version = `(m.payload->>'version')::timestamptz`;
  switch (spec.event) {
    case 'cart_abandoned':
      return {
        join: `LEFT JOIN ${s}.carts k ON k.id = (m.payload->>'cart_id')::bigint AND k.customer_id = m.customer_id`,
        exits: [
          // ordered: the customer placed a counted order since this version
          // of the cart; most shops also delete the cart then, so this
          // comes before "emptied" to be counted as what it is.
          { reason: 'ordered', when: `EXISTS (SELECT 1 FROM ${s}.orders o WHERE ${counted()} AND o.created_at >= ${version})` },
          // cart emptied: no lines left, or no cart (k.id NULL finds no lines).
          { reason: 'cart emptied', when: `NOT EXISTS (SELECT 1 FROM ${s}.cart_items i WHERE i.cart_id = k.id)` },
          // cart changed: it was updated since; the new version is an
          // occurrence of its own, which the sweep finds. The version may
          // have passed through a JavaScript Date (milliseconds), so only a
          // move of more than a millisecond is a change.
          { reason: 'cart changed', when: `abs(extract(epoch FROM k.updated_at - ${version})) > 0.001` },
        ],
      };
    case 'back_in_stock':
      return {
        join: `LEFT JOIN ${s}.products p ON p.sku = m.payload->>'sku'`,
        exits: [
          // out of stock again: sold out before the message went (or gone from the catalogue).
          { reason: 'out of stock again', when: 'p.in_stock IS NOT TRUE' },
          // preorder withdrawn: the customer no longer waits for it.
          { reason: 'preorder withdrawn', when: `NOT EXISTS (SELECT 1 FROM ${s}.preorders w WHERE w.customer_id = m.customer_id AND w.sku = m.payload->>'sku')` },
        ],
      };
    case 'no_order_after_signup':
      return {
        join: '',
        // ordered: any counted order at all; the welcome is for those without one.
        exits: [{ reason: 'ordered', when: `EXISTS (SELECT 1 FROM ${s}.orders o WHERE ${counted()})` }],
      };
    case 'order_total_over':
    case 'cross_sell_after_purchase': {
      // order cancelled: its status is now a cancelled one, or the order is gone.
      const exits: Exit[] = [{ reason: 'order cancelled', when: `o.id IS NULL OR o.status = ANY(${cancelled()})` }];
      if (spec.event === 'cross_sell_after_purchase' && spec.recommend) {
        // nothing left to recommend: the customer has bought every in-stock
        // product of `recommend` (recommend.ts, as the message picks them).
        const recommend = `${param([...spec.recommend])}::text[]`;
        const unbought = unboughtRecommendation({ schema: s, customerId: 'm.customer_id', recommend, cancelled: cancelled() });
        exits.push({ reason: 'nothing left to recommend', when: `NOT EXISTS (SELECT 1 FROM ${s}.products p WHERE ${unbought})` });
      }
      return { join: `LEFT JOIN ${s}.orders o ON o.id = (m.payload->>'order_id')::bigint AND o.customer_id = m.customer_id`, exits };
    }
    case 'birthday':
      return {
        join: '',
        // birthday changed: it falls on another day now. Only the day and
        // month: a corrected year of birth does not move the greeting. A
        // customer gone from the shop is "no address" instead.
        exits: [{ reason: 'birthday changed', when: `c.id IS NOT NULL AND to_char(c.birthday, 'MM-DD') IS DISTINCT FROM to_char((m.payload->>'birthday')::date, 'MM-DD')` }],
      };
    case 'sql':
      // The SELECT decides what an occurrence is; herald cannot know when it ends.
      return { join: '', exits: [] };
  }
}
