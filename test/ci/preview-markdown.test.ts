import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { previewMarkdown } from '../../src/ci/preview-markdown.js';
import type { PreviewSummary } from '../../src/preview/write.js';
import { herald } from '../support/cli.js';
import { useCleanups } from '../support/cleanup.js';
import { MINIMAL, tempWorkspace } from '../support/workspace.js';
import { git } from './git.js';

const cleanup = useCleanups();

function cell(row: string, site: string, locale: string, subject: string, problems: PreviewSummary['cells'][number]['problems'] = []): PreviewSummary['cells'][number] {
  const id = `${row}/${site}.${locale}`;
  return { id, row, site, locale, recipient: 'a@example.com', subject, preheader: '', from: 'Shop <news@shop.example.com>', kb: 12.3, html: `${id}.html`, text: `${id}.txt`, problems };
}

const summary = (cells: PreviewSummary['cells']): PreviewSummary => ({ generated_at: '2026-11-20T12:00:00.000Z', samples: 'sample customers', cells });

describe('preview as a PR comment', () => {
  it('lists the changed rows of the grid by site and locale, with subjects, and links the artifact', () => {
    const url = 'https://github.com/shop/emails/actions/runs/42/artifacts/8';
    const md = previewMarkdown(
      summary([
        cell('campaign-winback.a', 'main', 'en', 'We miss you'),
        cell('campaign-winback.a', 'main', 'de', 'Wir vermissen dich'),
        cell('campaign-winback.b', 'main', 'en', '10% off', [{ severity: 'warning', message: 'the HTML is 110 KB: Gmail clips it' }]),
      ]),
      { changedSince: 'origin/main', artifactUrl: url },
    );
    const lines = md.split('\n');
    expect(lines[0]).toBe('<!-- herald:preview -->');
    expect(lines[1]).toBe(`**herald preview**: 3 messages changed since <code>origin/main</code> (2 campaigns, triggers or templates × 1 site × 2 locales): 0 errors, 1 warning · grid and screenshots: <${url}>`);
    expect(md).toContain('<details><summary><b>campaign-winback.a</b> · 1 site · 2 locales</summary>');
    expect(md).toContain('| main | de | Wir vermissen dich | — | 12.3 KB | — |');
    expect(md).toContain('| main | en | 10% off | — | 12.3 KB | warning: the HTML is 110 KB: Gmail clips it |');
  });

  it('escapes subjects: a customer named </details><img> is text, a | does not split the cell', () => {
    const md = previewMarkdown(summary([cell('campaign-x</summary>', 'main', 'en', 'Hi </details><img src=x onerror=alert(1)> | @team\n\n# big')]));
    expect(md).not.toMatch(/<img|<\/summary><\/b>/);
    expect(md).toContain('Hi &lt;/details&gt;&lt;img src=x onerror=alert\\(1\\)&gt; \\| @\u200bteam  \\# big');
    expect(md).toContain('<b>campaign-x&lt;/summary&gt;</b>');
  });

  it('stays under the comment limit, cutting whole rows', () => {
    const cells = Array.from({ length: 3000 }, (_, i) => cell(`template-t${i}`, 'main', 'en', `Subject number ${i} `.repeat(5)));
    const md = previewMarkdown(summary(cells), { artifactUrl: 'https://example.com/a' });
    expect(md.length).toBeLessThanOrEqual(65_000);
    const shown = md.match(/^<details>/gm)!.length;
    expect(md).toContain(`${(3000 - shown).toLocaleString('en-US')} more rows of the grid: see the job summary and the preview artifact (<https://example.com/a>)`);
  });

  it('herald preview --format markdown --changed-since: only what the branch changed', async () => {
    const ws = tempWorkspace({ ...MINIMAL, 'templates/bye/template.yaml': 'subject:\n  en: Bye {{ customer.first_name }}\n', 'templates/bye/en.mjml': MINIMAL['templates/hello/en.mjml']! });
    cleanup(ws.remove);
    git(ws.dir, 'init', '-q');
    git(ws.dir, 'add', '.');
    git(ws.dir, 'commit', '-qm', 'base');
    ws.write('templates/hello/template.yaml', 'subject:\n  en: Hello again {{ customer.first_name }}\n');
    const r = await herald(['preview', '--dir', ws.dir, '--out', join(ws.dir, 'out'), '--changed-since', 'HEAD', '--format', 'markdown', '--artifact-url', 'https://example.com/run/1']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('<!-- herald:preview -->');
    expect(r.stdout).toContain('**herald preview**: 1 message changed since <code>HEAD</code> (1 campaign, trigger or template × 1 site × 1 locale): 0 errors, 0 warnings · grid and screenshots: <https://example.com/run/1>\n');
    expect(r.stdout).toContain('<b>campaign-hello</b>');
    // The unused template bye is a row of the full grid, and did not change.
    expect(r.stdout).not.toContain('template-bye');
    expect(r.stdout).toMatch(/\| main \| en \| Hello again \w+/);

    const bad = await herald(['preview', '--dir', ws.dir, '--format', 'markdown', '--artifact-url', 'javascript:alert(1)']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--artifact-url "javascript:alert(1)" is not an http(s) URL');
    const both = await herald(['preview', '--dir', ws.dir, '--format', 'markdown', '--json']);
    expect(both.stderr).toContain('--json and --format markdown ask for two formats');
  });
});
