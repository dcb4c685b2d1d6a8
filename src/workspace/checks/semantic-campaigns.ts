import type { Problem } from '../../errors.js';
import type { Campaign, Entry } from '../model.js';
import { problemAt } from '../source.js';
import { didYouMean } from './semantic-conditions.js';
import { checkScheduleTime, positiveDuration } from './semantic-time.js';

/** A campaign's schedule, its shares of the audience, and its A/B test. */
export function campaignProblems(c: Entry<Campaign>, timeZone: string): Problem[] {
  return [...schedule(c, timeZone), ...shares(c), ...abTest(c)];
}

function schedule(c: Entry<Campaign>, timeZone: string): Problem[] {
  const at = c.spec.schedule?.at;
  if (at === undefined) return [];
  const result = checkScheduleTime(at, timeZone);
  return result.ok ? [] : [problemAt(c.source, ['schedule', 'at'], result.message, 'schedule', { hint: result.hint })];
}

function percent(text: string | undefined): number | undefined {
  return text === undefined ? undefined : Number(text.slice(0, -1));
}

/**
 * The control group is held out and the test group split across variants;
 * what is left gets the winner, so the two together must leave someone.
 */
function shares(c: Entry<Campaign>): Problem[] {
  const out: Problem[] = [];
  const control = percent(c.spec.control_group);
  const test = percent(c.spec.ab_test?.test_size);
  if (control !== undefined && (control <= 0 || control > 50)) {
    out.push(problemAt(c.source, ['control_group'], `control_group ${c.spec.control_group} is out of range: it must be more than 0% and at most 50%`, 'percentage', {
      hint: control <= 0 ? 'remove control_group to send to everyone' : 'a control group of 5–10% is usually enough to measure lift',
    }));
  }
  if (test !== undefined && (test <= 0 || test >= 100)) {
    out.push(problemAt(c.source, ['ab_test', 'test_size'], `test_size ${c.spec.ab_test!.test_size} is out of range: it must be more than 0% and less than 100%`, 'percentage', {
      hint: 'the rest of the audience gets the winning variant; 10–30% is usual',
    }));
  } else if (test !== undefined && control !== undefined && control > 0 && control <= 50 && control + test >= 100) {
    out.push(problemAt(c.source, ['ab_test', 'test_size'], `control_group ${c.spec.control_group} and test_size ${c.spec.ab_test!.test_size} leave no one for the winning variant`, 'percentage', {
      hint: 'control_group plus test_size must stay under 100%',
    }));
  }
  return out;
}

function abTest(c: Entry<Campaign>): Problem[] {
  const ab = c.spec.ab_test;
  if (!ab) return [];
  const out: Problem[] = [];
  const seen = new Map<string, number>();
  ab.variants.forEach((v, i) => {
    if (seen.has(v.name)) {
      out.push(problemAt(c.source, ['ab_test', 'variants', i, 'name'], `variant name "${v.name}" is used twice`, 'ab_test', { hint: 'give each variant its own name, such as a and b' }));
    } else {
      seen.set(v.name, i);
    }
  });
  const names = [...seen.keys()];
  if (!seen.has(ab.winner.fallback)) {
    out.push(problemAt(c.source, ['ab_test', 'winner', 'fallback'], `fallback variant "${ab.winner.fallback}" is not one of the variants`, 'ab_test', { hint: didYouMean(ab.winner.fallback, names, 'variants') }));
  }
  out.push(...positiveDuration(c.source, ['ab_test', 'winner', 'after'], ab.winner.after, 'leaves no time to measure the test'));

  // A variant sends its own subject, template or sender, or the campaign's; two that send the same are no test.
  const sends = new Map<string, string>();
  ab.variants.forEach((v, i) => {
    const what = JSON.stringify([canonical(v.subject ?? null), v.template ?? c.spec.template, canonical(v.from ?? null)]);
    const twin = sends.get(what);
    if (twin !== undefined && twin !== v.name) {
      out.push(problemAt(c.source, ['ab_test', 'variants', i, 'name'], `variant "${v.name}" sends the same as variant "${twin}"`, 'ab_test', {
        hint: 'give each variant its own subject, template or from',
      }));
    } else if (twin === undefined) {
      sends.set(what, v.name);
    }
  });
  return out;
}

/**
 * Key order never makes two variants differ. Keys sorted by code unit: any
 * fixed order will do, and localeCompare's first call loads ICU's collation
 * data (12 ms of every validate).
 */
function canonical(v: unknown): unknown {
  if (!v || typeof v !== 'object') return v;
  return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
