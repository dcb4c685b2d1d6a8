import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { jobSummaryHtml, type PreviewSummary } from '../../src/preview/write.js';
import { herald } from '../support/cli.js';
import { useCleanups } from '../support/cleanup.js';
import { MINIMAL, tempWorkspace } from '../support/workspace.js';

const cleanup = useCleanups();

/** A workspace whose sample customer and sender are markup, as shop data can be. */
function hostile() {
  const ws = tempWorkspace({
    ...MINIMAL,
    'herald.yaml': MINIMAL['herald.yaml']!.replace('      from: news@shop.example.com', '      from: news@shop.example.com\n      name: Shop & <i>Co</i>'),
    'templates/hello/preview.yaml': 'customers:\n  - { first_name: "<b>html</b><img src=x onerror=alert(1)>", email: b@example.com, locale: en }\n',
  });
  cleanup(ws.remove);
  return ws;
}

describe('herald preview in GitHub Actions: the job summary', () => {
  it('shows data as text: a customer named <b>html</b> is not bold, a sender address does not vanish', async () => {
    const ws = hostile();
    const file = join(ws.dir, 'summary.md');
    writeFileSync(file, '');
    const r = await herald(['preview', '--dir', ws.dir, '--out', join(ws.dir, 'preview')], { GITHUB_STEP_SUMMARY: file });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const html = readFileSync(file, 'utf8');
    expect(html).toContain('<td>Hello &#60;b&#62;html&#60;/b&#62;&#60;img src=x onerror=alert(1)&#62;</td>');
    expect(html).toContain('<td>Shop &#38; &#60;i&#62;Co&#60;/i&#62; &#60;news@shop.example.com&#62;</td>');
    expect(html).not.toMatch(/<(b|i|img)\b/);
    expect(html).toContain('<th>Subject</th>');
  });

  it('warns, and still previews, when the summary file is missing or cannot be written', async () => {
    const ws = hostile();
    // A folder cannot be written to as a file, even by root (CI containers run as root, where permissions do not stop a write).
    for (const file of [join(ws.dir, 'no-such-folder', 'summary.md'), join(ws.dir, 'templates')]) {
      const r = await herald(['preview', '--dir', ws.dir, '--out', join(ws.dir, 'preview')], { GITHUB_STEP_SUMMARY: file });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain(`warning: the GitHub job summary was not written to ${file}:`);
      expect(r.stderr).not.toContain('internal error');
      expect(r.stdout).toContain('1 message rendered');
    }
  });

  it('keeps every cell on one line: a blank line in an SMS or a notification cannot end the HTML and start markdown', () => {
    const text = 'Sale!\n\n![x](https://evil.example/p.png)\r\n# Heading\r<img src=x>';
    const base = { row: 'campaign-sale', site: 'main', locale: 'en', recipient: 'a@example.com', html: 'x.html', text: 'x.txt' };
    const summary: PreviewSummary = {
      generated_at: '2026-11-20T12:00:00.000Z',
      samples: 'built-in samples',
      cells: [
        { ...base, id: 'a', channel: 'sms', sms: { text, encoding: 'GSM-7', parts: 1 }, problems: [{ severity: 'warning', message: 'two\n\n# lines' }] },
        { ...base, id: 'b', channel: 'push', push: { title: 'Title\n\n# Heading', body: text, url: null, icon: null, image: null }, problems: [] },
        { ...base, id: 'c', channel: 'email', subject: 'Sub\n\n# ject', preheader: '', from: 'news@shop.example.com', kb: 1, problems: [] },
      ],
    };
    const html = jobSummaryHtml(summary);
    // Each row of each table is one line; the text itself is there, escaped.
    for (const line of html.trimEnd().split('\n')) expect(line).not.toMatch(/^\s*(#|!\[|$)/);
    expect(html.split('\n').filter((l) => l.includes('<tr>')).length).toBe(6);
    expect(html).toContain('<td>Sale!<br><br>![x](https://evil.example/p.png)<br># Heading<br>&#60;img src=x&#62;</td>');
    expect(html).not.toContain('\r');
  });
});
