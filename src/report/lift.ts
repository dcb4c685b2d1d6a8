import { tTwoSidedP } from '../campaigns/ab.js';

/**
 * Lift: what a campaign changed, measured against its control group (the
 * audience members held out and never sent). Pure: the caller counts, per
 * group, the members, those who ordered within the attribution window, and
 * their revenue (src/report/outcomes.ts); this module turns those counts
 * into differences with 95% confidence intervals and the smallest effect
 * the groups' sizes could have shown.
 *
 * - Conversion rate: each group's Wilson score interval, and the Newcombe
 *   hybrid score interval for the difference (Newcombe 1998, method 10):
 *   good coverage even at rates near 0 and small groups, where the textbook
 *   Wald interval fails.
 * - Revenue per recipient: Welch's t interval for the difference of means,
 *   with Welch–Satterthwaite degrees of freedom: revenue is mostly zeros with
 *   a long tail, and the groups' variances differ.
 * - Minimum detectable effect: at 80% power and α = 0.05 (two-sided), the
 *   smallest true difference these group sizes would find significant most
 *   of the time. A campaign whose interval includes 0 is "not significant",
 *   and its MDE says how large an effect it could have detected.
 */

/** z for a two-sided 95% interval, and for 80% power. */
const Z_95 = 1.959963984540054;
const Z_POWER_80 = 0.8416212335729143;
const ALPHA = 0.05;

export interface GroupCounts {
  /** Members of the group. */
  n: number;
  /** Members who placed at least one order in the window. */
  converted: number;
  /** Sum, and sum of squares, of each member's revenue in the window (0 for those without orders). */
  revenue: { sum: number; sumSquares: number };
}

export interface Interval {
  low: number;
  high: number;
}

export interface GroupFigures {
  n: number;
  converted: number;
  rate: number;
  /** The Wilson score interval of the rate. */
  rate_interval: Interval;
  revenue: number;
  revenue_per_member: number;
}

export interface Difference {
  /** Recipients less control. */
  difference: number;
  /** 95% interval of the difference; null when it cannot be computed (say why in `note`). */
  interval: Interval | null;
  /** The interval excludes 0. */
  significant: boolean;
  /** The smallest true difference detected with 80% power at α = 0.05 (null when undefined). */
  mde: number | null;
  note?: string;
}

export interface Lift {
  recipients: GroupFigures;
  control: GroupFigures;
  /** Difference in conversion rate (a proportion: 0.012 is 1.2 percentage points). */
  conversion: Difference;
  /** Difference in revenue per member, in the site's currency; with the Welch degrees of freedom. */
  revenue_per_recipient: Difference & { df: number | null };
}

/** lift: recipients against control; undefined when either group is empty (nothing to compare). */
export function lift(recipients: GroupCounts, control: GroupCounts): Lift | undefined {
  if (recipients.n === 0 || control.n === 0) return undefined;
  for (const g of [recipients, control]) {
    if (!Number.isInteger(g.n) || !Number.isInteger(g.converted) || g.converted < 0 || g.converted > g.n) throw new Error(`${g.converted} converted of ${g.n} is not a count`);
  }
  const t = group(recipients);
  const c = group(control);
  const conversionInterval = newcombe(recipients.converted, recipients.n, control.converted, control.n);
  const conversion: Difference = {
    difference: t.rate - c.rate,
    interval: conversionInterval,
    significant: excludesZero(conversionInterval),
    mde: mdeRate(recipients.n, control.n, baseRate(recipients, control)),
  };
  const w = welch(recipients, control);
  return { recipients: t, control: c, conversion, revenue_per_recipient: w };
}

function group(g: GroupCounts): GroupFigures {
  return {
    n: g.n,
    converted: g.converted,
    rate: g.converted / g.n,
    rate_interval: wilson(g.converted, g.n),
    revenue: g.revenue.sum,
    revenue_per_member: g.revenue.sum / g.n,
  };
}

const excludesZero = (i: Interval | null): boolean => i !== null && (i.low > 0 || i.high < 0);

/** The base rate for the MDE: the control's, unless it is 0 or 1 (no variation), then both groups' together. */
function baseRate(t: GroupCounts, c: GroupCounts): number {
  const p = c.converted / c.n;
  return p > 0 && p < 1 ? p : (t.converted + c.converted) / (t.n + c.n);
}

/** wilson: the Wilson score interval of x successes in n trials (95%). */
export function wilson(x: number, n: number, z = Z_95): Interval {
  if (n === 0) return { low: 0, high: 1 };
  const p = x / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  // Clamped: at x = 0 or x = n rounding can push a bound a hair past 0 or 1.
  return { low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}

/** newcombe: the hybrid score interval for p1 − p2 (Newcombe 1998, method 10), from each proportion's Wilson interval. */
export function newcombe(x1: number, n1: number, x2: number, n2: number, z = Z_95): Interval {
  const p1 = x1 / n1;
  const p2 = x2 / n2;
  const a = wilson(x1, n1, z);
  const b = wilson(x2, n2, z);
  const d = p1 - p2;
  return {
    low: d - Math.sqrt((p1 - a.low) ** 2 + (b.high - p2) ** 2),
    high: d + Math.sqrt((a.high - p1) ** 2 + (p2 - b.low) ** 2),
  };
}

/** Sample variance from n, sum and sum of squares; rounding noise below the sums' precision is no variation. */
function variance(g: GroupCounts): number {
  const squares = g.revenue.sumSquares - (g.revenue.sum * g.revenue.sum) / g.n;
  return squares > 1e-12 * g.revenue.sumSquares ? squares / (g.n - 1) : 0;
}

/** welch: the difference of revenue per member with Welch's 95% t interval and its degrees of freedom. */
export function welch(a: GroupCounts, b: GroupCounts): Difference & { df: number | null } {
  const difference = a.revenue.sum / a.n - b.revenue.sum / b.n;
  if (a.n < 2 || b.n < 2) return { difference, interval: null, significant: false, mde: null, df: null, note: 'a group has fewer than 2 members' };
  const va = variance(a) / a.n;
  const vb = variance(b) / b.n;
  if (va + vb === 0) return { difference, interval: null, significant: false, mde: null, df: null, note: 'revenue does not vary within either group' };
  const se = Math.sqrt(va + vb);
  // Welch–Satterthwaite: between min(n) − 1 and na + nb − 2.
  const df = (va + vb) ** 2 / (va ** 2 / (a.n - 1) + vb ** 2 / (b.n - 1));
  const t = tQuantile(df);
  const interval = { low: difference - t * se, high: difference + t * se };
  // The MDE for a mean: the same standard error, with the power's z added to the interval's t.
  return { difference, interval, significant: excludesZero(interval), mde: (t + Z_POWER_80) * se, df };
}

/** mdeRate: the smallest difference in rate detected with 80% power at α = 0.05, two-sided, at base rate p. */
export function mdeRate(n1: number, n2: number, p: number): number | null {
  if (!(p > 0 && p < 1)) return null;
  return (Z_95 + Z_POWER_80) * Math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2));
}

/**
 * tQuantile: the t such that P(|T| > t) = α for Student's t with df degrees
 * of freedom (not necessarily whole), by bisection on the two-sided p-value
 * (src/campaigns/ab.ts), which falls monotonically in t. Good to about 1e-10.
 */
export function tQuantile(df: number, alpha = ALPHA): number {
  if (!(df > 0)) throw new Error(`degrees of freedom must be positive, got ${df}`);
  let lo = 0;
  let hi = 2;
  while (tTwoSidedP(hi, df) > alpha) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (tTwoSidedP(mid, df) > alpha) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** One line for people: the difference with its interval, or "not significant" with what could have been detected. */
export function liftSentence(l: Lift): string {
  const pp = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(2)} pp`;
  const c = l.conversion;
  if (!c.interval) return 'conversion: no interval';
  const range = `95% CI ${pp(c.interval.low)} to ${pp(c.interval.high)}`;
  if (c.significant) return `conversion ${pp(c.difference)} vs control (${range})`;
  return `conversion: not significant (${range}${c.mde !== null ? `; these group sizes detect ${(100 * c.mde).toFixed(2)} pp or more` : ''})`;
}
