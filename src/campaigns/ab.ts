/**
 * The A/B winner decision. Once `winner.after` has passed, the best variant on
 * the campaign's metric wins only if it beat every other variant significantly.
 * Otherwise the declared fallback wins. This module is pure: the caller counts
 * what each variant achieved and stores and reports the decision it gets back.
 */

export interface VariantResult {
  variant: string;
  /** Messages of this variant that were sent (delivered to the SMTP server). */
  sent: number;
  /** Recipients with at least one event of the metric (opened / clicked / ordered). */
  converted: number;
  /** For metric 'revenue': the sum and the sum of squares of revenue per sent message (0 for those without orders). */
  revenue?: { sum: number; sumSquares: number };
}

export interface WinnerDecision {
  metric: 'opens' | 'clicks' | 'orders' | 'revenue';
  /** The chosen variant. */
  winner: string;
  /** Whether the best variant beat every other one significantly. */
  significant: boolean;
  /** The p-value of the deciding (worst) comparison; null when a test was undefined (no sends, no variation). */
  pValue: number | null;
  /** The family-wise significance level; each of the k-1 comparisons is held to alpha / (k-1). */
  alpha: number;
  /**
   * Ranked best first, by rate (converted / sent) or, for revenue, by revenue per
   * message; ties by name, so the decision does not depend on the input order.
   */
  figures: { variant: string; sent: number; converted: number; rate: number; revenuePerMessage?: number }[];
  /** One sentence for people: why this winner. */
  reason: string;
}

type Metric = WinnerDecision['metric'];
type Figure = WinnerDecision['figures'][number];
/** One comparison of the best variant with another: p is null, with a why, when the test is undefined. */
type Comparison = { other: Figure; p: number; why?: undefined } | { other: Figure; p: null; why: string };

export function decideWinner(results: VariantResult[], opts: { metric: Metric; fallback: string; alpha?: number }): WinnerDecision {
  const { metric, fallback, alpha = 0.05 } = opts;
  checkInput(results, metric, fallback, alpha);

  const byName = new Map(results.map((r) => [r.variant, r]));
  const score = (f: Figure): number => (metric === 'revenue' ? f.revenuePerMessage! : f.rate);
  const figures = results
    .map((r) => figure(r, metric))
    .sort((a, b) => score(b) - score(a) || (a.variant < b.variant ? -1 : 1));
  const [best, ...others] = figures as [Figure, ...Figure[]];

  const comparisons: Comparison[] = others.map((other) =>
    metric === 'revenue' ? welch(best, byName.get(best.variant)!, other, byName.get(other.variant)!) : twoProportion(best, other, metric),
  );
  // Every comparison must hold, so one undefined test leaves the whole decision undefined.
  const undefinedTest = comparisons.find((c) => c.p === null);
  const deciding = undefinedTest ?? comparisons.reduce((worst, c) => (c.p! > worst.p! ? c : worst));
  // Bonferroni: k-1 chances to find a difference by luck, so each must pass alpha / (k-1).
  const threshold = alpha / others.length;
  const significant = deciding.p !== null && deciding.p < threshold && others.every((o) => score(best) > score(o));

  const winner = significant ? best.variant : fallback;
  let reason: string;
  if (significant) {
    reason = `${best.variant}: ${shown(best, metric)} ${metric === 'revenue' ? 'revenue per message' : metric} vs ${shown(deciding.other, metric)} (${pText(deciding.p!)})`;
  } else if (deciding.p === null) {
    reason = `no test possible (${deciding.why}); fallback ${fallback}`;
  } else {
    const needs = others.length > 1 ? `, needs p < ${twoDigits(threshold)} across ${figures.length} variants` : '';
    reason = `no significant difference (${pText(deciding.p)}${needs}); fallback ${fallback}`;
  }
  return { metric, winner, significant, pValue: deciding.p, alpha, figures, reason };
}

/** Guards against programming errors: the workspace checks already reject these in campaign files. */
function checkInput(results: VariantResult[], metric: Metric, fallback: string, alpha: number): void {
  const names = results.map((r) => r.variant);
  if (names.length < 2) throw new Error(`an A/B decision needs at least 2 variants, got ${names.length}`);
  if (new Set(names).size !== names.length) throw new Error(`A/B variant names must be unique: ${names.join(', ')}`);
  if (!names.includes(fallback)) throw new Error(`fallback variant "${fallback}" is not one of the variants: ${names.join(', ')}`);
  if (!(alpha > 0 && alpha < 1)) throw new Error(`alpha must be between 0 and 1, got ${alpha}`);
  for (const r of results) {
    if (!Number.isInteger(r.sent) || !Number.isInteger(r.converted) || r.converted < 0 || r.converted > r.sent) {
      throw new Error(`variant ${r.variant}: ${r.converted} converted of ${r.sent} sent is not a count`);
    }
    if (metric === 'revenue' && !r.revenue) throw new Error(`variant ${r.variant}: metric revenue needs the revenue sums`);
  }
}

function figure(r: VariantResult, metric: Metric): Figure {
  // A variant that sent nothing shows 0, not NaN; the decision is the fallback anyway.
  const per = (x: number): number => (r.sent === 0 ? 0 : x / r.sent);
  const f: Figure = { variant: r.variant, sent: r.sent, converted: r.converted, rate: per(r.converted) };
  if (metric === 'revenue') f.revenuePerMessage = per(r.revenue!.sum);
  return f;
}

function shown(f: Figure, metric: Metric): string {
  return metric === 'revenue' ? f.revenuePerMessage!.toFixed(2) : `${(f.rate * 100).toFixed(1)}%`;
}

/** Two significant digits, and "< 0.001" beyond: more would claim a precision the test does not have. */
function pText(p: number): string {
  return p < 0.001 ? 'p < 0.001' : `p = ${twoDigits(p)}`;
}

function twoDigits(x: number): string {
  return String(Number(x.toPrecision(2)));
}

/** Two-sided two-proportion z-test with the pooled standard error (the null hypothesis is "same rate"). */
function twoProportion(a: Figure, b: Figure, metric: Metric): Comparison {
  const noSends = [a, b].find((f) => f.sent === 0);
  if (noSends) return { other: b, p: null, why: `${noSends.variant} has no sends` };
  const converted = a.converted + b.converted;
  const sent = a.sent + b.sent;
  // Pooled rate 0 or 1: no variation at all, the standard error is 0 and z undefined.
  if (converted === 0 || converted === sent) {
    return { other: b, p: null, why: `${a.variant} and ${b.variant} both at ${shown(a, metric)} ${metric}` };
  }
  const pooled = converted / sent;
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / a.sent + 1 / b.sent));
  return { other: b, p: erfc(Math.abs(a.rate - b.rate) / se / Math.SQRT2) };
}

/**
 * Welch's t-test on revenue per sent message, from n, sum and sum of squares.
 * Revenue is mostly zeros with a long tail, so the variances differ between
 * variants; Welch does not assume they are equal. The p-value comes from the
 * Student t distribution itself, not its normal approximation, so a small test
 * group is not declared a winner too eagerly.
 */
function welch(a: Figure, ra: VariantResult, b: Figure, rb: VariantResult): Comparison {
  const few = [a, b].find((f) => f.sent < 2);
  if (few) return { other: b, p: null, why: few.sent === 0 ? `${few.variant} has no sends` : `${few.variant} has fewer than 2 sends` };
  const va = variance(a.sent, ra.revenue!) / a.sent;
  const vb = variance(b.sent, rb.revenue!) / b.sent;
  if (va + vb === 0) return { other: b, p: null, why: `revenue per message does not vary within ${a.variant} or ${b.variant}` };
  const t = (a.revenuePerMessage! - b.revenuePerMessage!) / Math.sqrt(va + vb);
  // Welch–Satterthwaite degrees of freedom: between min(n) - 1 and na + nb - 2.
  const df = (va + vb) ** 2 / (va ** 2 / (a.sent - 1) + vb ** 2 / (b.sent - 1));
  return { other: b, p: tTwoSidedP(t, df) };
}

/** Sample variance from sums; what is left below rounding noise of sumSquares counts as no variation. */
function variance(n: number, { sum, sumSquares }: { sum: number; sumSquares: number }): number {
  const squares = sumSquares - (sum * sum) / n;
  return squares > 1e-12 * sumSquares ? squares / (n - 1) : 0;
}

// ---- Numerics. Hand-written to stay dependency-free; each is checked against Python (math, scipy) in the tests.

/**
 * The complementary error function, to a relative error below 2e-13 (worst
 * just under x = 2). Abramowitz–Stegun 7.1.26 is only good to 1.5e-7
 * absolute, useless for the small p-values that decide a winner. Below 2, the
 * all-positive series A&S 7.1.6 gives erf without cancellation, and 1 - erf
 * stays accurate because erfc(2) is still 4.7e-3. From 2 on, the continued
 * fraction A&S 7.1.14 converges fast and keeps full relative accuracy deep
 * into the tail (erfc(8) = 1.1e-29).
 */
export function erfc(x: number): number {
  if (x < 0) return 2 - erfc(-x);
  const front = Math.exp(-x * x) / Math.sqrt(Math.PI);
  if (x < 2) {
    let term = x;
    let sum = x;
    for (let n = 1; term > 1e-17 * sum; n++) {
      term *= (2 * x * x) / (2 * n + 1);
      sum += term;
    }
    return 1 - 2 * front * sum;
  }
  // erfc(x) = e^(-x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …))))
  return front / continuedFraction(x, (n) => n / 2, () => x);
}

/** Two-sided p-value of Student's t with df (not necessarily whole) degrees of freedom: I_{df/(df+t²)}(df/2, 1/2). */
export function tTwoSidedP(t: number, df: number): number {
  return regularizedBeta(df / (df + t * t), df / 2, 0.5);
}

/** The regularized incomplete beta function I_x(a, b), by its continued fraction (Numerical Recipes 6.4). */
function regularizedBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  // The fraction converges fast only for x < (a+1)/(a+b+2); beyond, use I_x(a,b) = 1 - I_{1-x}(b,a).
  if (x > (a + 1) / (a + b + 2)) return 1 - regularizedBeta(1 - x, b, a);
  const front = Math.exp(lnGamma(a + b) - lnGamma(a) - lnGamma(b) + a * Math.log(x) + b * Math.log1p(-x)) / a;
  // 1/(1 + d1/(1 + d2/(1 + …))), with d_{2m} = m(b-m)x / ((a+2m-1)(a+2m)) and d_{2m+1} = -(a+m)(a+b+m)x / ((a+2m)(a+2m+1)).
  const d = (n: number): number => {
    const m = Math.floor(n / 2);
    return n % 2 === 0 ? (m * (b - m) * x) / ((a + 2 * m - 1) * (a + 2 * m)) : (-(a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 2 * m + 1));
  };
  return front / continuedFraction(1, d, () => 1);
}

/**
 * ln Γ(x) for x ≥ 0.5 (all we need: a, b ≥ 1/2 above) by the Lanczos
 * approximation, g = 7, n = 9. The difference of two large values costs some
 * digits: at a million degrees of freedom the p-value is good to about 1e-9.
 */
function lnGamma(x: number): number {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  const y = x - 1;
  let sum = c[0]!;
  for (let i = 1; i < c.length; i++) sum += c[i]! / (y + i);
  const t = y + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (y + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** b0 + a1/(b1 + a2/(b2 + …)) by the modified Lentz method, to double precision. */
function continuedFraction(b0: number, a: (n: number) => number, b: (n: number) => number): number {
  const tiny = 1e-300;
  let f = b0 === 0 ? tiny : b0;
  let c = f;
  let d = 0;
  for (let n = 1; n <= 100_000; n++) {
    d = b(n) + a(n) * d;
    d = 1 / (d === 0 ? tiny : d);
    c = b(n) + a(n) / c;
    if (c === 0) c = tiny;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-15) return f;
  }
  throw new Error('continued fraction did not converge');
}
