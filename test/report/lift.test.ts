import { describe, expect, it } from 'vitest';
import { lift, liftSentence, mdeRate, newcombe, tQuantile, welch, wilson } from '../../src/report/lift.js';

/** Each statistic against published or independently computed values. */
const four = (i: { low: number; high: number } | null) => (i ? [Number(i.low.toFixed(4)), Number(i.high.toFixed(4))] : null);
const revenue = (xs: number[]) => ({ sum: xs.reduce((s, x) => s + x, 0), sumSquares: xs.reduce((s, x) => s + x * x, 0) });

describe('lift statistics', () => {
  it('Wilson: 10 of 100 is 0.0552 to 0.1744 (Newcombe 1998, Table I; Brown, Cai & DasGupta 2001)', () => {
    expect(four(wilson(10, 100))).toEqual([0.0552, 0.1744]);
    expect(four(wilson(0, 10))).toEqual([0, 0.2775]);
    expect(four(wilson(10, 10))).toEqual([0.7225, 1]);
  });

  it('Newcombe hybrid score interval: the worked examples of Newcombe 1998 (Statistics in Medicine 17:873), Table II, method 10', () => {
    const table: [number, number, number, number, [number, number]][] = [
      [56, 70, 48, 80, [0.0524, 0.3339]],
      [9, 10, 3, 10, [0.1705, 0.809]],
      [5, 56, 0, 29, [-0.0381, 0.1926]],
      [0, 10, 0, 20, [-0.1611, 0.2775]],
      [0, 10, 0, 10, [-0.2775, 0.2775]],
      [10, 10, 0, 20, [0.6791, 1]],
      [10, 10, 0, 10, [0.6075, 1]],
    ];
    for (const [x1, n1, x2, n2, expected] of table) expect(four(newcombe(x1, n1, x2, n2)), `${x1}/${n1} − ${x2}/${n2}`).toEqual(expected);
  });

  it("t quantiles (0.975) match scipy.stats.t.ppf, whole and fractional degrees of freedom", () => {
    const scipy: [number, number][] = [
      [1, 12.706204736174694],
      [2, 4.302652729749462],
      [2.5, 3.5746548420036817],
      [10, 2.228138851986274],
      [30, 2.0422724563012378],
      [1000, 1.9623390808264083],
    ];
    for (const [df, t] of scipy) expect(tQuantile(df)).toBeCloseTo(t, 9);
  });

  it("Welch: the Wikipedia example (A2 vs A1) gives scipy's interval 0.3492 to 3.9841 on 24.99 degrees of freedom", () => {
    const a1 = [27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4];
    const a2 = [27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4];
    const w = welch({ n: 15, converted: 15, revenue: revenue(a2) }, { n: 15, converted: 15, revenue: revenue(a1) });
    // scipy.stats.ttest_ind(A2, A1, equal_var=False): df 24.988529290231416, CI (0.3492370661924069, 3.984096267140929).
    expect(w.df).toBeCloseTo(24.988529290231416, 9);
    expect(w.interval!.low).toBeCloseTo(0.3492370661924069, 8);
    expect(w.interval!.high).toBeCloseTo(3.984096267140929, 8);
    expect(w.significant).toBe(true);
  });

  it('minimum detectable effect at 80% power, α = 0.05: (z.975 + z.8) · √(p(1−p)(1/n1 + 1/n2))', () => {
    // (norm.ppf(0.975) + norm.ppf(0.8)) * sqrt(0.09 * 0.002) in scipy.
    expect(mdeRate(1000, 1000, 0.1)).toBeCloseTo(0.037587209954755035, 12);
    expect(mdeRate(1000, 1000, 0)).toBeNull();
  });

  it('a small campaign is "not significant", with what it could have detected, never a bare percentage', () => {
    const l = lift({ n: 40, converted: 3, revenue: revenue([50, 20, 10]) }, { n: 40, converted: 2, revenue: revenue([30, 25]) })!;
    expect(l.conversion.significant).toBe(false);
    expect(l.conversion.difference).toBeCloseTo(0.025, 12);
    expect(l.conversion.interval!.low).toBeLessThan(0);
    expect(l.revenue_per_recipient.significant).toBe(false);
    expect(liftSentence(l)).toMatch(/^conversion: not significant \(95% CI -\d+\.\d\d pp to \+\d+\.\d\d pp; these group sizes detect \d+\.\d\d pp or more\)$/);

    const big = lift({ n: 70, converted: 56, revenue: revenue([]) }, { n: 80, converted: 48, revenue: revenue([]) })!;
    expect(big.conversion.significant).toBe(true);
    expect(liftSentence(big)).toBe('conversion +20.00 pp vs control (95% CI +5.24 pp to +33.39 pp)');
    expect(big.revenue_per_recipient).toMatchObject({ interval: null, significant: false, note: 'revenue does not vary within either group' });
    expect(lift({ n: 10, converted: 1, revenue: revenue([5]) }, { n: 0, converted: 0, revenue: revenue([]) })).toBeUndefined();
  });
});
