import { closest, distance } from 'fastest-levenshtein';
import type { Problem } from '../../errors.js';
import { eachCondition, type Condition } from '../model.js';
import { problemAt, type PathSegment, type YamlSource } from '../source.js';
import { durationHours, parseDate, positiveDuration } from './semantic-time.js';

/**
 * The meaning of a segment condition (in segments/ and in trigger
 * audiences), at any depth: windows of zero, dates that do not exist,
 * ranges that match no one, and sites that herald.yaml does not define.
 */
export function conditionProblems(src: YamlSource, c: Condition, path: PathSegment[], sites: ReadonlySet<string>): Problem[] {
  const out: Problem[] = [];
  eachCondition(c, path, (c, path) => {
    if (c.registered) out.push(...datePredicate(src, c.registered, [...path, 'registered'], true));
    if (c.birthday) out.push(...datePredicate(src, c.birthday, [...path, 'birthday'], false));
    for (const key of ['order_count', 'total_spent', 'avg_order_value', 'max_order_value'] as const) {
      const p = c[key];
      if (p) out.push(...aggregate(src, p, [...path, key]));
    }
    if (c.last_order) out.push(...lastOrder(src, c.last_order, [...path, 'last_order']));
    if (c.purchased?.within) out.push(...positiveDuration(src, [...path, 'purchased', 'within'], c.purchased.within, 'matches no one: no order is that recent'));
    for (const key of ['open_order', 'in_cart'] as const) {
      if (c[key]?.within === undefined) continue;
      out.push(problemAt(src, [...path, key, 'within'], `${key} takes no "within": it looks at what is ${key === 'in_cart' ? 'in the cart' : 'ordered and not yet delivered'} now`, 'condition', {
        key: true,
        hint: 'remove within; for past orders use purchased: {skus: [...], within: 365d}',
      }));
    }
    for (const key of ['received', 'opened', 'clicked'] as const) {
      const f = c[key];
      if (!f) continue;
      if (f.within) out.push(...positiveDuration(src, [...path, key, 'within'], f.within, 'matches no one: nothing is that recent'));
      if (f.campaign !== undefined && f.trigger !== undefined) {
        out.push(problemAt(src, [...path, key, 'trigger'], `${key} names a campaign and a trigger; a message comes from one of them`, 'condition', {
          key: true,
          hint: `for either, write any: [{${key}: {campaign: ${f.campaign}}}, {${key}: {trigger: ${f.trigger}}}]`,
        }));
      }
    }
    if (c.site !== undefined) out.push(...siteNames(src, c.site, [...path, 'site'], sites));
  });
  return out;
}

type DatePredicate = NonNullable<Condition['registered']>;

function datePredicate(src: YamlSource, p: DatePredicate, path: PathSegment[], pastEvent: boolean): Problem[] {
  const out: Problem[] = [];
  if (p.within) out.push(...positiveDuration(src, [...path, 'within'], p.within, 'matches no one'));
  if (p.before) out.push(...positiveDuration(src, [...path, 'before'], p.before, 'excludes no one: use a longer duration or remove it'));
  const dates: { key: 'since' | 'until'; ms?: number }[] = [];
  for (const key of ['since', 'until'] as const) {
    const text = p[key];
    if (text === undefined) continue;
    const parsed = parseDate(text);
    if (parsed && 'error' in parsed) {
      out.push(problemAt(src, [...path, key], `${key}: "${text}" is not a real date: ${parsed.error}`, 'date', { hint: 'write a calendar date as YYYY-MM-DD, for example 2026-01-31' }));
    }
    dates.push({ key, ms: parsed && 'ms' in parsed ? parsed.ms : undefined });
  }
  const [since, until] = [dates.find((d) => d.key === 'since')?.ms, dates.find((d) => d.key === 'until')?.ms];
  if (since !== undefined && until !== undefined && since >= until) {
    out.push(problemAt(src, [...path, 'until'], `until (${p.until}) is not after since (${p.since}): the range matches no one`, 'date', { hint: 'since is the start of the range and until its end' }));
  }
  // "Within 30 days and longer ago than 90 days" is empty; birthdays recur, so only past events are checked.
  const [w, b] = [p.within && durationHours(p.within), p.before && durationHours(p.before)];
  if (pastEvent && w && b && b >= w) {
    out.push(problemAt(src, [...path, 'before'], `within ${p.within} and before ${p.before} match no one`, 'condition', {
      hint: 'before must be shorter than within: within: 90d, before: 30d means between 30 and 90 days ago',
    }));
  }
  return out;
}

type Aggregate = NonNullable<Condition['order_count']>;
type Bound = { key: string; v: number; strict: boolean };

/** gte/gt/lte/lt/eq that no number satisfies, such as gte: 5 with lte: 2. */
function aggregate(src: YamlSource, p: Aggregate, path: PathSegment[]): Problem[] {
  const out: Problem[] = [];
  if (p.within) out.push(...positiveDuration(src, [...path, 'within'], p.within, 'matches no one: no order is that recent'));
  // The schema keeps bounds at 0 or more; counts and amounts are never below 0 either.
  if (p.lt === 0) {
    out.push(problemAt(src, [...path, 'lt'], `${String(path.at(-1))}: lt 0 matches no one: it is never negative`, 'condition', { key: true, hint: 'for none at all, write eq: 0' }));
    return out;
  }
  const lower: Bound[] = [];
  const upper: Bound[] = [];
  if (p.gte !== undefined) lower.push({ key: 'gte', v: p.gte, strict: false });
  if (p.gt !== undefined) lower.push({ key: 'gt', v: p.gt, strict: true });
  if (p.lte !== undefined) upper.push({ key: 'lte', v: p.lte, strict: false });
  if (p.lt !== undefined) upper.push({ key: 'lt', v: p.lt, strict: true });
  if (p.eq !== undefined) {
    const eq = { key: 'eq', v: p.eq, strict: false };
    lower.push(eq);
    upper.push(eq);
  }
  for (const lo of lower) {
    for (const hi of upper) {
      if (lo === hi) continue;
      const empty = lo.v > hi.v || (lo.v === hi.v && (lo.strict || hi.strict));
      if (!empty) continue;
      const at = hi.key === 'eq' ? lo.key : hi.key;
      out.push(problemAt(src, [...path, at], `${String(path.at(-1))}: ${lo.key} ${lo.v} and ${hi.key} ${hi.v} match no one`, 'condition', {
        key: true,
        hint: 'gte/gt give the lower bound and lte/lt the upper one',
      }));
      return out;
    }
  }
  return out;
}

type LastOrder = NonNullable<Condition['last_order']>;

function lastOrder(src: YamlSource, p: LastOrder, path: PathSegment[]): Problem[] {
  const out: Problem[] = [];
  if (p.within) out.push(...positiveDuration(src, [...path, 'within'], p.within, 'matches no one: no order is that recent'));
  if (p.before) out.push(...positiveDuration(src, [...path, 'before'], p.before, 'excludes no one: use a longer duration or remove it'));
  if (p.exists === false && (p.within || p.before)) {
    out.push(problemAt(src, [...path, 'exists'], 'exists: false (never ordered) cannot be combined with within or before', 'condition', {
      key: true,
      hint: 'use exists: false alone for customers who never ordered',
    }));
  }
  const [w, b] = [p.within && durationHours(p.within), p.before && durationHours(p.before)];
  if (w && b && b >= w) {
    out.push(problemAt(src, [...path, 'before'], `a last order within ${p.within} cannot also be before ${p.before}`, 'condition', {
      hint: 'before must be shorter than within: within: 180d, before: 90d means the last order was 90 to 180 days ago',
    }));
  }
  return out;
}

function siteNames(src: YamlSource, p: NonNullable<Condition['site']>, path: PathSegment[], sites: ReadonlySet<string>): Problem[] {
  const named: { id: string; path: PathSegment[] }[] =
    typeof p === 'string'
      ? [{ id: p, path }]
      : [...(p.in ?? []).map((id, i) => ({ id, path: [...path, 'in', i] })), ...(p.not_in ?? []).map((id, i) => ({ id, path: [...path, 'not_in', i] }))];
  return named
    .filter((n) => !sites.has(n.id))
    .map((n) => problemAt(src, n.path, `site "${n.id}" is not defined in herald.yaml`, 'reference', { hint: didYouMean(n.id, [...sites], 'defined sites') }));
}

export function didYouMean(name: string, known: string[], what: string): string {
  if (known.length === 0) return `there are no ${what}`;
  const guess = closest(name, known);
  return distance(name, guess) <= Math.max(2, Math.floor(name.length / 3)) ? `did you mean "${guess}"?` : `${what}: ${known.join(', ')}`;
}
