import { describe, expect, it } from 'vitest';
import { buildReport, reportMarkdown, reportText } from '../../src/report/report.js';
import type { LedgerCounts, ReasonCount } from '../../src/ledger/ledger.js';

const COUNTS: LedgerCounts = {
  audience: 10, control: 0, left_out: 0, recipients: 10, sent: 10, failed: 0, bounced: 0, expired: 0, unknown: 0, suppressed: 0,
  queued: 0, claimed: 0, waiting: 0, capped: 0, exited: 0, deferred: 0,
};

describe('report: products left out', () => {
  it('lists each with its reason, as text in the markdown table whatever the shop data holds', () => {
    const r = buildReport('winback', 'Win-back', { phase: 'completed', inForce: 'ready' }, COUNTS, undefined, [
      { sku: 'A|B', reason: 'its url "javascript:alert(1)" is not an http(s) link' },
      { sku: '<img src=x onerror=alert(1)>', reason: "its image_url's host [x](https://evil.example) is outside\nthe domains of main" },
    ]);
    expect(r.products_left_out).toHaveLength(2);
    const md = reportMarkdown(r);
    expect(md).toContain('## Products left out');
    expect(md).toContain('| A\\|B | its url "javascript:alert(1)" is not an http(s) link |');
    expect(md).toContain('| &lt;img src=x onerror=alert(1)&gt; | its image\\_url\'s host \\[x\\](https://evil.example) is outside the domains of main |');
    // Every row of the table has its two columns, and no raw markup.
    const table = md.slice(md.indexOf('## Products left out')).split('\n').filter((l) => l.startsWith('|'));
    expect(table).toHaveLength(4);
    for (const line of table) expect(line.replace(/\\\|/g, '').split('|')).toHaveLength(4);
    expect(md).not.toContain('<img');
    expect(reportText(r)).toContain('products   2 left out (A|B, <img src=x onerror=alert(1)>)');
  });

  it('says nothing of products when none is left out', () => {
    const r = buildReport('winback', 'Win-back', { phase: 'completed', inForce: 'ready' }, COUNTS);
    expect(r.products_left_out).toEqual([]);
    expect(reportMarkdown(r)).not.toContain('Products left out');
    expect(reportText(r)).not.toContain('products');
  });
});

describe('report: the contact policy', () => {
  const counts: LedgerCounts = { ...COUNTS, sent: 7, capped: 2, queued: 1, deferred: 4 };
  const reasons: ReasonCount[] = [
    { kind: 'capped', reason: 'frequency cap: 3 per 7d', count: 2 },
    { kind: 'deferred', reason: 'quiet hours', count: 3 },
    { kind: 'deferred', reason: 'frequency cap', count: 1 },
  ];
  const r = buildReport('winback', 'Win-back', { phase: 'sending', inForce: 'ready' }, counts, undefined, [], reasons);

  it('counts capped and deferred messages, and keeps the reasons, in JSON', () => {
    expect(r).toMatchObject({ recipients: 10, sent: 7, capped: 2, pending: 1, deferred: 4, reasons });
    expect(JSON.parse(JSON.stringify(r))).toMatchObject({ capped: 2, deferred: 4, reasons });
  });

  it('shows them in markdown: capped among the outcomes, deferred and the reasons below', () => {
    const md = reportMarkdown(r);
    expect(md).toContain('| Capped | 2 (20.0%) |');
    expect(md).toContain('4 messages were put off at least once by quiet hours or the frequency cap.');
    expect(md).toContain('## Skipped and deferred, by reason');
    expect(md).toContain('| Capped | frequency cap: 3 per 7d | 2 |');
    expect(md).toContain('| Deferred | quiet hours | 3 |');
  });

  it('shows them in text', () => {
    const text = reportText(r);
    expect(text).toContain('  capped     2');
    expect(text).toContain('  deferred   4 (put off at least once: quiet hours, frequency cap)');
    expect(text).toContain('  skipped and deferred, by reason:');
    expect(text).toMatch(/ {4}capped {5}frequency cap: 3 per 7d {2}2/);
    expect(text).toMatch(/ {4}deferred {3}quiet hours {14}3/);
  });

  it('says nothing of the policy when nothing was capped or put off', () => {
    const plain = buildReport('winback', 'Win-back', { phase: 'completed', inForce: 'ready' }, COUNTS);
    expect(plain).toMatchObject({ capped: 0, deferred: 0, reasons: [] });
    expect(reportMarkdown(plain)).not.toContain('by reason');
    expect(reportMarkdown(plain)).toContain('| Capped | 0 (0.0%) |');
    expect(reportText(plain)).not.toMatch(/capped|deferred|reason/);
  });

  it('escapes reason text in the markdown table', () => {
    const odd = buildReport('winback', 'Win-back', { phase: 'completed', inForce: 'ready' }, COUNTS, undefined, [], [
      { kind: 'suppressed', reason: 'a|b <script>\n[x](y)', count: 1 },
    ]);
    expect(reportMarkdown(odd)).toContain('| Suppressed | a\\|b &lt;script&gt; \\[x\\](y) | 1 |');
  });

  it('escapes a pause reason in markdown and text: no markup, no heading, no control character', () => {
    const paused = buildReport('winback', 'Win-back', { phase: 'sending', inForce: 'paused', reason: '</td><img src=x onerror=alert(1)>\n\n# Fake heading \x1b[2J' }, COUNTS);
    const md = reportMarkdown(paused);
    expect(md).toContain('Campaign `winback` — paused (&lt;/td&gt;&lt;img src=x onerror=alert(1)&gt; # Fake heading \\\\x1b\\[2J).');
    expect(md).not.toContain('<img');
    expect(md).not.toMatch(/^# Fake/m);
    expect(md).not.toContain('\x1b');
    const text = reportText(paused);
    expect(text.split('\n')[0]).toBe('Win-back (winback): paused (</td><img src=x onerror=alert(1)>\\n\\n# Fake heading \\x1b[2J)');
    expect(text).not.toContain('\x1b');
  });

  it('prints a title as one line of text: no workflow command in a CI log, no escape sequence, no line break', () => {
    const forged = buildReport('winback', '::error title=herald::forged annotation\n::error::second\x1b[2J\x1b]8;;https://evil.example\x07link', { phase: 'completed', inForce: 'ready' }, COUNTS);
    const text = reportText(forged);
    for (const line of text.split('\n')) expect(line).not.toMatch(/^\s*::/);
    expect(text).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/);
    expect(text.split('\n')[0]).toContain('error title=herald::forged annotation\\n::error::second\\x1b[2J\\x1b]8;;https://evil.example\\x07link (winback): completed');
    const md = reportMarkdown(forged);
    expect(md.split('\n')[0]).toBe('# ::error title=herald::forged annotation ::error::second\\\\x1b\\[2J\\\\x1b\\]8;;https://evil.example\\\\x07link');
    expect(md).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/);
  });

  it('keeps a space after a label longer than the column', () => {
    const cancelled = buildReport('winback', 'Win-back', { phase: 'sending', inForce: 'cancelled' }, { ...COUNTS, sent: 8, queued: 2 });
    expect(reportText(cancelled)).toContain('  not sent (cancelled) 2');
  });
});
