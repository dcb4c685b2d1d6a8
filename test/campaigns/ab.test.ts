import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decideWinner, erfc, tTwoSidedP, type VariantResult } from '../../src/campaigns/ab.js';

// Reference values come from Python 3.11 on this machine: math.erfc for the
// normal, scipy.stats (ttest_ind, t.sf, chi2_contingency) for the tests, and
// mpmath.betainc at 30 digits as a second opinion on the Student t p-values.

/** Relative closeness, for values spanning many orders of magnitude. */
function expectClose(actual: number | null, expected: number, relative = 1e-9): void {
  expect(actual).not.toBeNull();
  expect(Math.abs(actual! - expected)).toBeLessThanOrEqual(relative * Math.abs(expected));
}

const v = (variant: string, sent: number, converted: number): VariantResult => ({ variant, sent, converted });

/** Revenue per sent message: `orders` messages with revenue `value` each, the rest 0. */
function rv(variant: string, sent: number, orders: number, value: number): VariantResult {
  return { variant, sent, converted: orders, revenue: { sum: orders * value, sumSquares: orders * value * value } };
}

describe('erfc', () => {
  // python3 -c "import math; print(repr(math.erfc(x)))"
  it.each([
    [0, 1],
    [0.5, 0.4795001221869535],
    [1, 0.15729920705028513],
    [1.5, 0.033894853524689274],
    [1.999, 0.004698443348629488],
    [2, 0.004677734981047265],
    [3, 2.2090496998585438e-5],
    [5, 1.5374597944280351e-12],
    [8, 1.1224297172982928e-29],
    [20, 5.3958656116079005e-176],
    [-1, 1.842700792949715],
  ])('erfc(%s) matches math.erfc', (x, expected) => {
    expectClose(erfc(x), expected, 1e-12);
  });

  // Two-sided normal p-values: python3 -c "import math; print(repr(math.erfc(z / math.sqrt(2))))"
  it.each([
    [0.5, 0.6170750774519738],
    [1.96, 0.04999579029644087],
    [3, 0.0026997960632601913],
    [5, 5.733031437583892e-7],
    [8, 1.2441921148543639e-15],
  ])('two-sided p for |z| = %s matches math.erfc', (z, expected) => {
    expectClose(erfc(z / Math.SQRT2), expected, 1e-12);
    expectClose(erfc(-z / Math.SQRT2), 2 - expected, 1e-12);
  });
});

describe('tTwoSidedP', () => {
  // 2 * scipy.stats.t.sf(t, df), and mpmath.betainc(df/2, 1/2, 0, df/(df+t²), regularized=True)
  it.each([
    [2.5, 3, 0.087706647008065547],
    [1.3, 10.7, 0.22090726505730842],
    [2, 1, 0.29516723530086653], // Cauchy: 1 - 2·atan(2)/π
    [0, 5, 1],
  ])('t = %s, df = %s', (t, df, expected) => {
    expectClose(tTwoSidedP(t, df), expected, 1e-12);
  });

  it('stays accurate to 1e-9 at millions of degrees of freedom', () => {
    expectClose(tTwoSidedP(4, 1e6), 6.3347034010048105e-5, 1e-8);
    expectClose(tTwoSidedP(1, 1e6), 0.31731074983357813, 1e-8);
    expectClose(tTwoSidedP(10, 2e6), 1.5259146654582473e-23, 1e-8);
  });
});

describe('decideWinner: proportions', () => {
  it('computes the pooled two-proportion z-test', () => {
    // 200/1000 vs 150/1000: z = 2.9424494316825, p = math.erfc(z/√2) = 0.0032562696284120633;
    // scipy chi2_contingency without continuity correction (χ² = z²) agrees: 0.0032562696284120763.
    const d = decideWinner([v('a', 1000, 200), v('b', 1000, 150)], { metric: 'clicks', fallback: 'b' });
    expectClose(d.pValue, 0.0032562696284120633, 1e-12);
    expect(d).toMatchObject({ metric: 'clicks', winner: 'a', significant: true, alpha: 0.05 });
    expect(d.figures).toEqual([
      { variant: 'a', sent: 1000, converted: 200, rate: 0.2 },
      { variant: 'b', sent: 1000, converted: 150, rate: 0.15 },
    ]);
  });

  it.each([
    [62, 500, 40, 520, 0.012232030238336423],
    [3, 10, 1, 12, 0.18952626866051042],
    [1, 1, 0, 1, 0.1572992070502852],
  ])('%s/%s vs %s/%s has p = %s', (c1, n1, c2, n2, expected) => {
    const d = decideWinner([v('a', n1, c1), v('b', n2, c2)], { metric: 'opens', fallback: 'a' });
    expectClose(d.pValue, expected, 1e-12);
  });

  it('picks a clear winner and says why', () => {
    // p = 0.0015238137550964836
    const d = decideWinner([v('spring-sale', 1000, 81), v('care-tips', 1000, 124)], { metric: 'clicks', fallback: 'spring-sale' });
    expect(d).toMatchObject({ winner: 'care-tips', significant: true });
    expect(d.reason).toBe('care-tips: 12.4% clicks vs 8.1% (p = 0.0015)');
  });

  it('writes "p < 0.001" for very small p-values', () => {
    const d = decideWinner([v('a', 5000, 1000), v('b', 5000, 750)], { metric: 'orders', fallback: 'b' });
    expect(d.reason).toBe('a: 20.0% orders vs 15.0% (p < 0.001)');
  });

  it('falls back, with the p-value, when the difference is small', () => {
    // p = 0.394921660736909
    const d = decideWinner([v('a', 1000, 200), v('care-tips', 1000, 185)], { metric: 'opens', fallback: 'care-tips' });
    expect(d).toMatchObject({ winner: 'care-tips', significant: false });
    expectClose(d.pValue, 0.394921660736909, 1e-12);
    expect(d.reason).toBe('no significant difference (p = 0.39); fallback care-tips');
  });

  it('falls back on equal rates', () => {
    const d = decideWinner([v('a', 500, 100), v('b', 1000, 200)], { metric: 'clicks', fallback: 'b' });
    expect(d).toMatchObject({ winner: 'b', significant: false, pValue: 1 });
    expect(d.reason).toBe('no significant difference (p = 1); fallback b');
  });

  it('falls back with no p-value when a variant sent nothing', () => {
    const d = decideWinner([v('a', 1000, 300), v('b', 0, 0)], { metric: 'clicks', fallback: 'b' });
    expect(d).toMatchObject({ winner: 'b', significant: false, pValue: null });
    expect(d.figures[1]).toEqual({ variant: 'b', sent: 0, converted: 0, rate: 0 });
    expect(d.reason).toBe('no test possible (b has no sends); fallback b');
  });

  it('falls back with no p-value when nothing varies', () => {
    const none = decideWinner([v('a', 1000, 0), v('b', 900, 0)], { metric: 'opens', fallback: 'b' });
    expect(none).toMatchObject({ winner: 'b', significant: false, pValue: null });
    expect(none.reason).toBe('no test possible (a and b both at 0.0% opens); fallback b');

    const all = decideWinner([v('a', 10, 10), v('b', 20, 20), v('c', 30, 3)], { metric: 'opens', fallback: 'c' });
    expect(all).toMatchObject({ winner: 'c', significant: false, pValue: null });
    expect(all.reason).toBe('no test possible (a and b both at 100.0% opens); fallback c');
  });

  it('needs the best to beat every other variant, at alpha / (k-1)', () => {
    // a vs b: p = 0.0032562696284120633 (passes 0.025); a vs c: p = 0.042746482290291266 (fails 0.025).
    const d = decideWinner([v('b', 1000, 150), v('a', 1000, 200), v('c', 1000, 165)], { metric: 'clicks', fallback: 'c' });
    expect(d).toMatchObject({ winner: 'c', significant: false });
    expectClose(d.pValue, 0.042746482290291266, 1e-12);
    expect(d.figures.map((f) => f.variant)).toEqual(['a', 'c', 'b']);
    expect(d.reason).toBe('no significant difference (p = 0.043, needs p < 0.025 across 3 variants); fallback c');

    // Without c, the same p = 0.043 would have been significant at 0.05 for two variants.
    expect(decideWinner([v('a', 1000, 200), v('c', 1000, 165)], { metric: 'clicks', fallback: 'c' }).winner).toBe('a');
  });

  it('honours a custom alpha', () => {
    const d = decideWinner([v('a', 1000, 200), v('b', 1000, 150)], { metric: 'clicks', fallback: 'b', alpha: 0.001 });
    expect(d).toMatchObject({ winner: 'b', significant: false, alpha: 0.001 });
    expect(d.reason).toBe('no significant difference (p = 0.0033); fallback b');
  });

  it('rejects a fallback that is not a variant', () => {
    expect(() => decideWinner([v('a', 10, 1), v('b', 10, 2)], { metric: 'clicks', fallback: 'c' })).toThrow(
      'fallback variant "c" is not one of the variants: a, b',
    );
  });
});

describe('decideWinner: revenue', () => {
  it("computes Welch's t-test from the sums", () => {
    // scipy.stats.ttest_ind(a, b, equal_var=False) on the per-message arrays
    // ([50]*20 + [0]*380 vs [60]*8 + [0]*372): t = 1.7608522017504984, df = 753.37, p = 0.0786690927710292.
    const d = decideWinner([rv('a', 400, 20, 50), rv('b', 380, 8, 60)], { metric: 'revenue', fallback: 'b' });
    expectClose(d.pValue, 0.0786690927710292, 1e-9);
    expect(d).toMatchObject({ winner: 'b', significant: false });
    expect(d.figures).toEqual([
      { variant: 'a', sent: 400, converted: 20, rate: 0.05, revenuePerMessage: 2.5 },
      { variant: 'b', sent: 380, converted: 8, rate: 8 / 380, revenuePerMessage: 480 / 380 },
    ]);
    expect(d.reason).toBe('no significant difference (p = 0.079); fallback b');
  });

  it('uses the t distribution, not the normal, for a small test group', () => {
    // [12, 0, 0, 30.5, 0, 8.25] vs [0, 0, 4, 0, 0]: scipy p = 0.17885660854061808 (df = 5.27);
    // the normal approximation would claim 0.121.
    const d = decideWinner(
      [
        { variant: 'x', sent: 6, converted: 3, revenue: { sum: 50.75, sumSquares: 1142.3125 } },
        { variant: 'y', sent: 5, converted: 1, revenue: { sum: 4, sumSquares: 16 } },
      ],
      { metric: 'revenue', fallback: 'y' },
    );
    expectClose(d.pValue, 0.17885660854061808, 1e-9);
  });

  it('picks a clear winner among three', () => {
    // a vs b: p = 0.00020035935859630673 (the worse); a vs c: p = 4.502182183871473e-06.
    const d = decideWinner([rv('b', 2000, 70, 50), rv('c', 2000, 130, 25), rv('a', 2000, 120, 50)], { metric: 'revenue', fallback: 'b' });
    expect(d).toMatchObject({ winner: 'a', significant: true });
    expectClose(d.pValue, 0.00020035935859630673, 1e-9);
    expect(d.reason).toBe('a: 3.00 revenue per message vs 1.75 (p < 0.001)');
  });

  it('falls back with no p-value when revenue does not vary or a variant has too few sends', () => {
    const flat = decideWinner([rv('a', 100, 0, 0), rv('b', 100, 0, 0)], { metric: 'revenue', fallback: 'a' });
    expect(flat).toMatchObject({ winner: 'a', significant: false, pValue: null });
    expect(flat.reason).toBe('no test possible (revenue per message does not vary within a or b); fallback a');

    const one = decideWinner([rv('a', 1, 1, 90), rv('b', 100, 3, 20)], { metric: 'revenue', fallback: 'b' });
    expect(one).toMatchObject({ winner: 'b', pValue: null });
    expect(one.reason).toBe('no test possible (a has fewer than 2 sends); fallback b');
  });
});

describe('decideWinner: properties', () => {
  const metrics = ['opens', 'clicks', 'orders', 'revenue'] as const;

  /** 2–4 variants; for revenue, each order is worth 1–200. */
  const campaign = fc
    .tuple(
      fc.constantFrom(...metrics),
      fc.array(
        fc.integer({ min: 0, max: 300 }).chain((sent) =>
          fc.tuple(fc.constant(sent), fc.array(fc.integer({ min: 1, max: 200 }), { maxLength: sent })),
        ),
        { minLength: 2, maxLength: 4 },
      ),
    )
    .chain(([metric, rows]) => {
      const results: VariantResult[] = rows.map(([sent, orders], i) => ({
        variant: `v${i}`,
        sent,
        converted: orders.length,
        ...(metric === 'revenue' && {
          revenue: { sum: orders.reduce((s, x) => s + x, 0), sumSquares: orders.reduce((s, x) => s + x * x, 0) },
        }),
      }));
      return fc.record({
        metric: fc.constant(metric),
        results: fc.constant(results),
        fallback: fc.constantFrom(...results.map((r) => r.variant)),
        shuffled: fc.shuffledSubarray(results, { minLength: results.length }),
      });
    });

  it('picks a variant, the strictly best one when significant, whatever the input order', () => {
    fc.assert(
      fc.property(campaign, ({ metric, results, fallback, shuffled }) => {
        const d = decideWinner(results, { metric, fallback });
        expect(results.map((r) => r.variant)).toContain(d.winner);
        const score = (f: (typeof d.figures)[number]): number => (metric === 'revenue' ? f.revenuePerMessage! : f.rate);
        if (d.significant) {
          const win = d.figures.find((f) => f.variant === d.winner)!;
          for (const f of d.figures) if (f !== win) expect(score(win)).toBeGreaterThan(score(f));
        } else {
          expect(d.winner).toBe(fallback);
        }
        expect(decideWinner(shuffled, { metric, fallback })).toEqual(d);
      }),
      { numRuns: 500 },
    );
  });
});
