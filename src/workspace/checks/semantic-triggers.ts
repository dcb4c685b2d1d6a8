import type { Problem } from '../../errors.js';
import type { Entry, Trigger } from '../model.js';
import { problemAt } from '../source.js';
import { didYouMean } from './semantic-conditions.js';
import { boundedDuration, frequencyCapProblems, positiveDuration, quietHoursProblems } from './semantic-time.js';

type Event = Trigger['event'];
type Parameter = 'after' | 'amount' | 'categories' | 'recommend' | 'sql' | 'days_before';

const PARAMETERS: Parameter[] = ['after', 'amount', 'categories', 'recommend', 'sql', 'days_before'];

/** Each event's parameters: the ones it needs, and the ones it merely accepts. */
const EVENTS: Record<Event, { needs: Parameter[]; accepts: Parameter[] }> = {
  birthday: { needs: [], accepts: ['days_before'] },
  cart_abandoned: { needs: ['after'], accepts: [] },
  back_in_stock: { needs: [], accepts: [] },
  no_order_after_signup: { needs: ['after'], accepts: [] },
  order_total_over: { needs: ['amount'], accepts: [] },
  cross_sell_after_purchase: { needs: ['after', 'categories'], accepts: ['recommend'] },
  sql: { needs: ['sql'], accepts: [] },
};

const EXAMPLES: Record<Parameter, string> = {
  after: 'after: 4h (how long after the event to send)',
  amount: 'amount: 10000 (the order total, in the site currency, above which to send)',
  categories: 'categories: [shoes] (purchased categories that start the trigger)',
  recommend: 'recommend: [socks] (categories whose products the message shows)',
  sql: 'sql: SELECT customer_id, event_key FROM ...',
  days_before: 'days_before: 3',
};

/** The event's parameters, the trigger's sites, and its overrides of the sending windows. */
export function triggerProblems(t: Entry<Trigger>, sites: ReadonlySet<string>): Problem[] {
  return [...parameters(t), ...siteProblems(t, sites), ...windows(t)];
}

function parameters(t: Entry<Trigger>): Problem[] {
  const out: Problem[] = [];
  const { event } = t.spec;
  const rule = EVENTS[event];
  for (const p of rule.needs) {
    if (t.spec[p] !== undefined) continue;
    out.push(problemAt(t.source, ['event'], `event ${event} needs "${p}"`, 'trigger', { hint: `add ${EXAMPLES[p]}` }));
  }
  const allowed = [...rule.needs, ...rule.accepts];
  for (const p of PARAMETERS) {
    if (t.spec[p] === undefined || allowed.includes(p)) continue;
    out.push(problemAt(t.source, [p], `"${p}" does not apply to event ${event}`, 'trigger', {
      key: true,
      hint: allowed.length ? `${event} takes: ${allowed.join(', ')}` : `${event} takes no parameters; remove ${p}`,
    }));
  }
  // Every cart and every new customer is "without an order" at the moment it starts.
  if (t.spec.after !== undefined && (event === 'cart_abandoned' || event === 'no_order_after_signup')) {
    out.push(...positiveDuration(t.source, ['after'], t.spec.after, `would send the moment the ${event === 'cart_abandoned' ? 'cart is filled' : 'customer signs up'}`));
  } else if (t.spec.after !== undefined) {
    out.push(...boundedDuration(t.source, ['after'], t.spec.after));
  }
  return out;
}

function siteProblems(t: Entry<Trigger>, sites: ReadonlySet<string>): Problem[] {
  const { site, sites: many } = t.spec;
  if (site !== undefined && many !== undefined) {
    return [problemAt(t.source, ['sites'], 'give "site" or "sites", not both', 'trigger', { key: true, hint: 'site: <id> for one site, sites: [<id>, ...] for several' })];
  }
  const named = many ? many.map((id, i) => ({ id, path: ['sites', i] })) : site !== undefined ? [{ id: site, path: ['site'] }] : [];
  return named
    .filter((n) => !sites.has(n.id))
    .map((n) => problemAt(t.source, n.path, `site "${n.id}" is not defined in herald.yaml`, 'reference', { hint: didYouMean(n.id, [...sites], 'defined sites') }));
}

function windows(t: Entry<Trigger>): Problem[] {
  const out: Problem[] = [];
  const { once, quiet_hours: quiet, frequency_cap: cap } = t.spec;
  if (once !== undefined && !once.startsWith('per_')) {
    out.push(...positiveDuration(t.source, ['once'], once, 'lets the notification repeat without limit'));
  }
  if (quiet) out.push(...quietHoursProblems(t.source, ['quiet_hours'], quiet, 'quiet_hours: false turns them off for this trigger'));
  if (cap) out.push(...frequencyCapProblems(t.source, ['frequency_cap'], cap));
  return out;
}
