import type { Campaign, Condition } from '../workspace/model.js';

/**
 * A campaign's audience as one condition: in any of its segments or lists,
 * and in none of the excluded segments. It compiles like any segment.
 */
export function audienceCondition(a: Campaign['audience']): Condition {
  const include: Condition[] = [
    ...(a.segment ? [a.segment] : []),
    ...(a.segments ?? []),
  ].map((segment) => ({ segment }));
  include.push(...[...(a.list ? [a.list] : []), ...(a.lists ?? [])].map((list) => ({ list })));
  const anyOf: Condition = include.length === 1 ? include[0]! : { any: include as [Condition, ...Condition[]] };
  if (!a.exclude?.length) return anyOf;
  return { all: [anyOf, ...a.exclude.map((segment): Condition => ({ not: { segment } }))] };
}
