import { describe, expect, it } from 'vitest';
import { buildReport, reportMarkdown, reportText } from '../../src/report/report.js';
import type { LedgerCounts } from '../../src/ledger/ledger.js';

const COUNTS = { audience: 10, control: 0, left_out: 0, recipients: 10, sent: 10, failed: 0, bounced: 0, expired: 0, unknown: 0, suppressed: 0, queued: 0, claimed: 0, waiting: 0 } as LedgerCounts;

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
