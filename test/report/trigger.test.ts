import { describe, expect, it } from 'vitest';
import type { DayCounts } from '../../src/ledger/ledger.js';
import { buildTriggerReport, triggerReportMarkdown, triggerReportText } from '../../src/report/trigger.js';

const day = (d: string, counts: Partial<DayCounts>): DayCounts => ({
  day: d, occurrences: 0, sent: 0, capped: 0, exited: 0, deferred: 0, suppressed: 0, failed: 0, pending: 0, ...counts,
});

const DAYS = [
  day('2026-11-20', { occurrences: 4, sent: 2, exited: 1, suppressed: 1, deferred: 1 }),
  day('2026-11-21', { occurrences: 3, sent: 1, capped: 1, pending: 1 }),
];
const STATE = { description: 'Reminds customers of a cart\nleft alone.\n', status: 'active', enabledAt: new Date('2026-11-20T10:00:00Z') };

describe('trigger report', () => {
  it('sums the days into totals and keeps the days and reasons', () => {
    const r = buildTriggerReport('abandoned-cart', STATE, DAYS, [{ kind: 'exited', reason: 'ordered', count: 1 }]);
    expect(r).toEqual({
      kind: 'trigger',
      name: 'abandoned-cart',
      description: STATE.description,
      status: 'active',
      enabled_at: '2026-11-20T10:00:00.000Z',
      totals: { occurrences: 7, sent: 3, capped: 1, exited: 1, deferred: 1, suppressed: 1, failed: 0, pending: 1 },
      days: DAYS,
      reasons: [{ kind: 'exited', reason: 'ordered', count: 1 }],
    });
  });

  it('keeps a pause reason, and says when it was never swept', () => {
    const r = buildTriggerReport('t', { description: '', status: 'paused', reason: 'wrong copy', enabledAt: null }, [], []);
    expect(r).toMatchObject({ status: 'paused', status_reason: 'wrong copy', enabled_at: null, totals: { occurrences: 0 } });
    expect(triggerReportText(r)).toContain('t (trigger): paused (wrong copy), not yet swept as active');
    expect(triggerReportMarkdown(r)).toContain('paused (wrong copy); not yet swept as active.');
    expect(triggerReportMarkdown(r)).not.toContain('## By day');
  });

  it('writes markdown with totals, a table per day and the reasons, reason text escaped', () => {
    const r = buildTriggerReport('abandoned-cart', STATE, DAYS, [
      { kind: 'exited', reason: 'ordered', count: 1 },
      { kind: 'exited', reason: 'a|b <i>x</i>', count: 2 },
    ]);
    const md = triggerReportMarkdown(r);
    expect(md).toContain('# Trigger abandoned-cart');
    expect(md).toContain('Reminds customers of a cart left alone.');
    expect(md).toContain('| Occurrences | 7 |');
    expect(md).toContain('| Capped (over the frequency cap) | 1 |');
    expect(md).toContain('| Day | Occurrences | Sent | Capped | Exited | Deferred | Suppressed | Failed | Pending |');
    expect(md).toContain('| 2026-11-20 | 4 | 2 | 0 | 1 | 1 | 1 | 0 | 0 |');
    expect(md).toContain('| Exited | ordered | 1 |');
    expect(md).toContain('| Exited | a\\|b &lt;i&gt;x&lt;/i&gt; | 2 |');
    expect(md).not.toContain('<i>');
  });

  it('prints totals, the days and the reasons as text, control characters escaped', () => {
    const r = buildTriggerReport('abandoned-cart', STATE, DAYS, [{ kind: 'deferred', reason: 'quiet\x1b[2J hours', count: 1 }]);
    const text = triggerReportText(r);
    expect(text).toContain('abandoned-cart (trigger): active, enabled 2026-11-20T10:00:00.000Z');
    expect(text).toContain('  occurrences 7');
    expect(text).toContain('  capped      1');
    expect(text).not.toMatch(/^  failed/m);
    expect(text).toContain('    day         occurrences  sent  capped  exited  deferred  suppressed  failed  pending');
    expect(text).toContain('    2026-11-21            3     1       1       0         0           0       0        1');
    expect(text).toContain('quiet\\x1b[2J hours');
    expect(text).not.toContain('\x1b');
  });

  it('escapes the description in the markdown as it escapes every other value: no markup, image, link or control character', () => {
    const hostile = { ...STATE, description: 'Cart <img src=x onerror=alert(1)> ![x](https://evil.example/p.png)\n\n# Fake [docs](javascript:alert(1)) \x1b[2J' };
    const md = triggerReportMarkdown(buildTriggerReport('t', hostile, [], []));
    const line = md.split('\n')[2]!;
    expect(line).toBe('Cart &lt;img src=x onerror=alert(1)&gt; !\\[x\\](https://evil.example/p.png) # Fake \\[docs\\](javascript:alert(1)) \\\\x1b\\[2J');
    expect(md).not.toContain('<img');
    expect(md).not.toContain('\x1b');
    expect(md).not.toMatch(/^# Fake/m);
    // Nothing at its start opens a block: a heading, a list, a fence.
    for (const [description, shown] of [['# Heading', '\\# Heading'], ['- item', '\\- item'], ['1. first', '1\\. first'], ['~~~', '\\~~~']]) {
      expect(triggerReportMarkdown(buildTriggerReport('t', { ...STATE, description: description! }, [], [])).split('\n')[2]).toBe(shown);
    }
  });

  it('prints only the last two weeks of a long history as text', () => {
    const days = Array.from({ length: 20 }, (_, i) => day(`2026-10-${String(i + 1).padStart(2, '0')}`, { occurrences: 1, sent: 1 }));
    const text = triggerReportText(buildTriggerReport('t', STATE, days, []));
    expect(text).toContain('by day (the last 14 of 20; the report files have every day):');
    expect(text).not.toContain('2026-10-06');
    expect(text).toContain('2026-10-07');
    expect(triggerReportMarkdown(buildTriggerReport('t', STATE, days, []))).toContain('| 2026-10-01 |');
  });
});
