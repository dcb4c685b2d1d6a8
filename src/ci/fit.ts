/**
 * Sizing a body for where GitHub shows it. A PR comment holds 65,536
 * characters; a step's job summary 1 MiB. A body is a head, whole sections
 * and a foot; when it is too large, sections are cut from the end and a
 * pointer says how many and where to read them.
 */
export interface Budget {
  /** The most the body may measure. */
  max: number;
  /** The most one section's code may measure before it is cut short. */
  section: number;
  measure(s: string): number;
  /** Where the body goes, for the pointer's wording. */
  where: 'comment' | 'summary';
}

/**
 * GitHub counts a comment's characters; a JavaScript string's length counts
 * UTF-16 code units, never fewer. 65,000 of them leaves room to spare.
 */
export const COMMENT: Budget = { max: 65_000, section: 16_000, measure: (s) => s.length, where: 'comment' };

/** A step's summary may hold 1 MiB, in bytes; kept a little under it. */
export const JOB_SUMMARY: Budget = { max: 1_000_000, section: 200_000, measure: (s) => Buffer.byteLength(s, 'utf8'), where: 'summary' };

export interface Body {
  head: string;
  sections: readonly string[];
  foot: string;
}

const SEP = '\n\n';

/**
 * The body whole when it fits; else the head, as many sections as fit in
 * order, `pointer(cut)` and the foot. Never more than `budget.max`.
 */
export function fitBody(body: Body, budget: Budget, pointer: (cut: number) => string): string {
  const whole = `${join([body.head, ...body.sections, body.foot])}\n`;
  if (budget.measure(whole) <= budget.max) return whole;
  // The pointer's longest form (every section cut) is reserved up front.
  let used = budget.measure(join([body.head, pointer(body.sections.length), body.foot])) + 1;
  const kept: string[] = [];
  for (const s of body.sections) {
    const more = budget.measure(s) + SEP.length;
    if (used + more > budget.max) break;
    kept.push(s);
    used += more;
  }
  const out = `${join([body.head, ...kept, pointer(body.sections.length - kept.length), body.foot])}\n`;
  // Only a head or foot larger than the budget gets here; herald's are a few lines.
  return budget.measure(out) <= budget.max ? out : cutText(out, budget.max, budget.measure);
}

/**
 * Text for a code block, at most `max` long: whole lines, then a line saying
 * how many more there were.
 */
export function cutLines(text: string, max: number, measure: (s: string) => number, more: (n: number) => string): string {
  if (measure(text) <= max) return text;
  const lines = text.split('\n');
  const kept: string[] = [];
  let used = measure(more(lines.length)) + 1;
  for (const l of lines) {
    const n = measure(l) + 1;
    if (used + n > max) break;
    kept.push(l);
    used += n;
  }
  return [...kept, more(lines.length - kept.length)].join('\n');
}

function join(parts: readonly string[]): string {
  return parts.filter((p) => p !== '').join(SEP);
}

/** The longest prefix within `max`, never splitting a surrogate pair. */
function cutText(s: string, max: number, measure: (s: string) => number): string {
  let lo = 0;
  let hi = s.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (measure(s.slice(0, mid)) <= max) lo = mid;
    else hi = mid - 1;
  }
  const end = lo > 0 && /[\ud800-\udbff]/.test(s[lo - 1]!) ? lo - 1 : lo;
  return s.slice(0, end);
}
