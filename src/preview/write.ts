import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { RenderedCell } from './render.js';

/**
 * The preview as static files, for a pull request's artefacts: each cell's
 * HTML and text part, `index.html` (the grid a reviewer opens) and
 * `preview.json` (the same, for tools). Written into a fresh folder beside
 * the target and moved into place, so a failed run never leaves half a preview.
 */
export interface PreviewSummary {
  generated_at: string;
  samples: string;
  cells: {
    id: string;
    row: string;
    site: string;
    locale: string;
    recipient: string;
    subject: string;
    preheader: string;
    from: string;
    reply_to?: string;
    kb: number;
    html: string;
    text: string;
    screenshots?: { desktop: string; mobile: string };
    problems: RenderedCell['problems'];
  }[];
}

export function previewSummary(cells: readonly RenderedCell[], samples: string, now: Date, screenshots: boolean): PreviewSummary {
  return {
    generated_at: now.toISOString(),
    samples,
    cells: cells.map((c) => ({
      id: c.id,
      row: c.row,
      site: c.site,
      locale: c.locale,
      recipient: c.recipient.email,
      subject: c.subject,
      preheader: c.preheader,
      from: c.from,
      ...(c.replyTo ? { reply_to: c.replyTo } : {}),
      kb: Math.round((c.bytes / 1024) * 10) / 10,
      html: `${c.id}.html`,
      text: `${c.id}.txt`,
      ...(screenshots ? { screenshots: { desktop: `${c.id}.desktop.png`, mobile: `${c.id}.mobile.png` } } : {}),
      problems: c.problems,
    })),
  };
}

/** Writes the cells and the index into `staging`; `publish` moves it to `out`. */
export function writePreviewFiles(staging: string, cells: readonly RenderedCell[], summary: PreviewSummary, note?: string): void {
  mkdirSync(staging, { recursive: true });
  for (const c of cells) {
    mkdirSync(dirname(join(staging, c.id)), { recursive: true });
    writeFileSync(join(staging, `${c.id}.html`), c.html);
    writeFileSync(join(staging, `${c.id}.txt`), c.text);
  }
  writeFileSync(join(staging, 'preview.json'), `${JSON.stringify(summary, null, 2)}\n`);
  writeFileSync(join(staging, 'index.html'), indexHtml(summary, note));
}

export function publish(staging: string, out: string): void {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(dirname(out), { recursive: true });
  renameSync(staging, out);
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The grid: one row per campaign, trigger or template (and variant), one column per site and locale. */
export function indexHtml(summary: PreviewSummary, note?: string): string {
  const columns = [...new Set(summary.cells.map((c) => `${c.site} · ${c.locale}`))].sort();
  const rows = [...new Set(summary.cells.map((c) => c.row))];
  const errors = summary.cells.reduce((n, c) => n + c.problems.filter((p) => p.severity === 'error').length, 0);
  const warnings = summary.cells.reduce((n, c) => n + c.problems.filter((p) => p.severity === 'warning').length, 0);
  const cell = (c: PreviewSummary['cells'][number]) => `
      <div class="cell${c.problems.some((p) => p.severity === 'error') ? ' has-error' : ''}">
        ${c.screenshots ? `<a href="${esc(c.html)}"><img class="shot" src="${esc(c.screenshots.desktop)}" alt="${esc(c.subject)}" loading="lazy"></a>` : ''}
        <dl>
          <dt>Subject</dt><dd class="subject">${esc(c.subject)}</dd>
          <dt>Preheader</dt><dd>${esc(c.preheader) || '<em>none</em>'}</dd>
          <dt>From</dt><dd>${esc(c.from)}${c.reply_to ? `<br><small>Reply-To ${esc(c.reply_to)}</small>` : ''}</dd>
          <dt>To</dt><dd>${esc(c.recipient)}</dd>
          <dt>Size</dt><dd>${c.kb} KB</dd>
        </dl>
        ${c.problems.length ? `<ul class="problems">${c.problems.map((p) => `<li class="${p.severity}">${p.severity}: ${esc(p.message)}</li>`).join('')}</ul>` : ''}
        <p class="links"><a href="${esc(c.html)}">HTML</a> · <a href="${esc(c.text)}">text</a>${c.screenshots ? ` · <a href="${esc(c.screenshots.desktop)}">600 px</a> · <a href="${esc(c.screenshots.mobile)}">375 px</a>` : ''}</p>
      </div>`;
  const body = rows
    .map((row) => {
      const tds = columns.map((col) => {
        const cs = summary.cells.filter((c) => c.row === row && `${c.site} · ${c.locale}` === col);
        return `<td>${cs.length ? cs.map(cell).join('') : '<span class="none">—</span>'}</td>`;
      });
      return `<tr><th scope="row">${esc(row)}</th>${tds.join('')}</tr>`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>herald preview</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1f2937; }
  table { border-collapse: collapse; }
  th, td { border: 1px solid #e5e7eb; padding: 8px; vertical-align: top; text-align: left; }
  thead th { background: #f9fafb; position: sticky; top: 0; }
  .cell { width: 300px; }
  .cell.has-error { outline: 2px solid #dc2626; }
  .shot { width: 100%; max-height: 360px; object-fit: cover; object-position: top; border: 1px solid #e5e7eb; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 8px; margin: 6px 0; }
  dt { color: #6b7280; }
  dd { margin: 0; overflow-wrap: anywhere; }
  .subject { font-weight: 600; }
  .problems { margin: 6px 0; padding-left: 18px; }
  .error { color: #b91c1c; }
  .warning { color: #b45309; }
  .none { color: #9ca3af; }
</style>
</head>
<body>
<h1>herald preview</h1>
<p>${summary.cells.length} message${summary.cells.length === 1 ? '' : 's'}, rendered ${esc(summary.generated_at)} with ${esc(summary.samples)}.
${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}.${note ? ` ${esc(note)}` : ''}
Links in previews are signed with a throwaway secret and do not work.</p>
${rows.length === 0 ? '<p>Nothing to preview.</p>' : `<table>
<thead><tr><th></th>${columns.map((c) => `<th scope="col">${esc(c)}</th>`).join('')}</tr></thead>
<tbody>
${body}
</tbody>
</table>`}
</body>
</html>
`;
}

/**
 * In GitHub Actions, the grid's text as the job summary (HTML, as GitHub
 * renders it), so a reviewer sees it on the run's page. Every value comes from
 * data (a customer's name in a subject, a sender's `Name <address>`) and is
 * escaped: a customer named `<b>html</b>` is text, an address is not a tag.
 */
export function jobSummaryHtml(summary: PreviewSummary): string {
  const head = ['Message', 'Site · locale', 'Subject', 'From', 'Size', 'Problems'];
  const rows = summary.cells.map((c) => [c.row, `${c.site} · ${c.locale}`, c.subject, c.from, `${c.kb} KB`, c.problems.map((p) => `${p.severity}: ${p.message}`).join('; ') || '—']);
  return [
    '<h2>herald preview</h2>',
    `<table><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>`,
    ...rows.map((r) => `<tr>${r.map((d) => `<td>${esc(d)}</td>`).join('')}</tr>`),
    '</table>',
    '',
  ].join('\n');
}

