import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { printable } from '../errors.js';
import { charName, esc, pushCard, smsBubble, smsLine } from './channel-cells.js';
import { checkPreviewOut } from './out.js';
import type { RenderedCell } from './render.js';

/**
 * The preview as static files, for a pull request's artefacts: each cell's
 * HTML and text part, `index.html` (the grid a reviewer opens) and
 * `preview.json` (the same, for tools; it marks the folder as a preview that
 * a later run may replace, out.ts). Every page carries a Content-Security-Policy.
 * Written into a fresh folder beside the target and moved into place, so a
 * failed run never leaves half a preview.
 */
export interface PreviewSummary {
  generated_at: string;
  samples: string;
  cells: SummaryCell[];
}

/** What every cell has: where it is in the grid, its files (`html` shows the message, `text` is its text) and its problems. */
interface SummaryCellBase {
  id: string;
  row: string;
  site: string;
  locale: string;
  /** The sample customer's email address, which names them on every channel. */
  recipient: string;
  html: string;
  text: string;
  problems: RenderedCell['problems'];
}

/** An email; `channel` is absent in previews made before SMS and push. */
export interface EmailSummaryCell extends SummaryCellBase {
  channel?: 'email';
  subject: string;
  preheader: string;
  from: string;
  reply_to?: string;
  kb: number;
  screenshots?: { desktop: string; mobile: string };
}

export interface SmsSummaryCell extends SummaryCellBase {
  channel: 'sms';
  sms: { text: string; encoding: 'GSM-7' | 'UCS-2'; parts: number; forced_by?: { char: string; code_point: string; index: number } };
}

export interface PushSummaryCell extends SummaryCellBase {
  channel: 'push';
  push: { title: string; body: string; url: string | null; icon: string | null; image: string | null };
}

export type SummaryCell = EmailSummaryCell | SmsSummaryCell | PushSummaryCell;

export function previewSummary(cells: readonly RenderedCell[], samples: string, now: Date, screenshots: boolean): PreviewSummary {
  return { generated_at: now.toISOString(), samples, cells: cells.map((c) => summaryCell(c, screenshots)) };
}

function summaryCell(c: RenderedCell, screenshots: boolean): SummaryCell {
  const base: SummaryCellBase = { id: c.id, row: c.row, site: c.site, locale: c.locale, recipient: c.recipient.email, html: `${c.id}.html`, text: `${c.id}.txt`, problems: c.problems };
  if (c.channel === 'sms') {
    const f = c.sms.forcedBy;
    const forced = f ? { forced_by: { char: f.char, code_point: `U+${f.char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`, index: f.index } } : {};
    return { channel: 'sms', ...base, sms: { text: c.sms.text, encoding: c.sms.encoding, parts: c.sms.parts, ...forced } };
  }
  if (c.channel === 'push') return { channel: 'push', ...base, push: { ...c.push } };
  return {
    channel: 'email',
    ...base,
    subject: c.subject,
    preheader: c.preheader,
    from: c.from,
    ...(c.replyTo ? { reply_to: c.replyTo } : {}),
    kb: Math.round((c.bytes / 1024) * 10) / 10,
    // Screenshots are of emails: an SMS or a notification is its own page.
    ...(screenshots ? { screenshots: { desktop: `${c.id}.desktop.png`, mobile: `${c.id}.mobile.png` } } : {}),
  };
}

/** A cell's channel as a person names it. */
export function channelLabel(c: SummaryCell): string {
  return c.channel === 'sms' ? 'SMS' : c.channel === 'push' ? 'push' : 'email';
}

/** The grid's row of a cell: the campaign, trigger or template (and variant), on a channel other than email said so. */
function gridRow(c: SummaryCell): string {
  return c.channel === 'sms' || c.channel === 'push' ? `${c.row} · ${channelLabel(c)}` : c.row;
}

/** Writes the cells and the index into `staging`; `publish` moves it to `out`. */
export function writePreviewFiles(staging: string, cells: readonly RenderedCell[], summary: PreviewSummary, note?: string): void {
  mkdirSync(staging, { recursive: true });
  for (const c of cells) {
    mkdirSync(dirname(join(staging, c.id)), { recursive: true });
    writeFileSync(join(staging, `${c.id}.html`), withPolicy(c.html));
    writeFileSync(join(staging, `${c.id}.txt`), c.text);
  }
  writeFileSync(join(staging, 'preview.json'), `${JSON.stringify(summary, null, 2)}\n`);
  writeFileSync(join(staging, 'index.html'), withPolicy(indexHtml(summary, note)));
}

/**
 * What a preview's page may do, opened from the artifact (file://) or any
 * server: show itself and its images, and nothing else. A template's
 * <script> is sent as written (a mail client drops it), so here it must not
 * run; nor is anything else fetched (stylesheets, fonts, frames), and no
 * form posts anywhere. `--serve` sandboxes its messages the same way.
 */
const PREVIEW_POLICY = "default-src 'none'; script-src 'none'; img-src * data: file:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'";

/** A page with the policy first, before anything of the template's can run: right after the doctype, else at the very start. */
function withPolicy(html: string): string {
  const doctype = /^\s*<!doctype[^>]*>/i.exec(html)?.[0] ?? '';
  return `${doctype}${doctype ? '\n' : ''}<meta http-equiv="Content-Security-Policy" content="${PREVIEW_POLICY}">${html.slice(doctype.length)}`;
}

/** Moves the preview into place, replacing `out` only when checkPreviewOut lets it (checked again here: the run may take minutes). */
export function publish(staging: string, out: string, workspace: string): void {
  checkPreviewOut(out, workspace);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(dirname(out), { recursive: true });
  renameSync(staging, out);
}

/** The grid: one row per campaign, trigger or template (and variant) and channel, one column per site and locale. */
export function indexHtml(summary: PreviewSummary, note?: string): string {
  const columns = [...new Set(summary.cells.map((c) => `${c.site} · ${c.locale}`))].sort();
  const rows = [...new Set(summary.cells.map(gridRow))];
  const errors = summary.cells.reduce((n, c) => n + c.problems.filter((p) => p.severity === 'error').length, 0);
  const warnings = summary.cells.reduce((n, c) => n + c.problems.filter((p) => p.severity === 'warning').length, 0);
  const problems = (c: SummaryCell) => (c.problems.length ? `<ul class="problems">${c.problems.map((p) => `<li class="${p.severity}">${p.severity}: ${esc(p.message)}</li>`).join('')}</ul>` : '');
  const open = (c: SummaryCell) => `<div class="cell ${c.channel ?? 'email'}${c.problems.some((p) => p.severity === 'error') ? ' has-error' : ''}">`;
  const cell = (c: SummaryCell) => {
    if (c.channel === 'sms') {
      return `
      ${open(c)}
        ${smsBubble({ text: c.sms.text, encoding: c.sms.encoding, parts: c.sms.parts, ...(c.sms.forced_by ? { forcedBy: c.sms.forced_by } : {}) })}
        <dl>
          <dt>Encoding</dt><dd>${esc(c.sms.encoding)}${c.sms.forced_by ? `, forced by ${esc(charName(c.sms.forced_by.char))}` : ''}</dd>
          <dt>Parts</dt><dd>${c.sms.parts}</dd>
          <dt>To</dt><dd>${esc(c.recipient)}</dd>
        </dl>
        ${problems(c)}
        <p class="links"><a href="${esc(c.html)}">SMS</a> · <a href="${esc(c.text)}">text</a></p>
      </div>`;
    }
    if (c.channel === 'push') {
      return `
      ${open(c)}
        ${pushCard(c.push)}
        <dl><dt>To</dt><dd>${esc(c.recipient)}</dd></dl>
        ${problems(c)}
        <p class="links"><a href="${esc(c.html)}">notification</a> · <a href="${esc(c.text)}">text</a></p>
      </div>`;
    }
    return emailCell(c);
  };
  const emailCell = (c: EmailSummaryCell) => `
      <div class="cell${c.problems.some((p) => p.severity === 'error') ? ' has-error' : ''}">
        ${c.screenshots ? `<a href="${esc(c.html)}"><img class="shot" src="${esc(c.screenshots.desktop)}" alt="${esc(c.subject)}" loading="lazy"></a>` : ''}
        <dl>
          <dt>Subject</dt><dd class="subject">${esc(c.subject)}</dd>
          <dt>Preheader</dt><dd>${esc(c.preheader) || '<em>none</em>'}</dd>
          <dt>From</dt><dd>${esc(c.from)}${c.reply_to ? `<br><small>Reply-To ${esc(c.reply_to)}</small>` : ''}</dd>
          <dt>To</dt><dd>${esc(c.recipient)}</dd>
          <dt>Size</dt><dd>${c.kb} KB</dd>
        </dl>
        ${problems(c)}
        <p class="links"><a href="${esc(c.html)}">HTML</a> · <a href="${esc(c.text)}">text</a>${c.screenshots ? ` · <a href="${esc(c.screenshots.desktop)}">600 px</a> · <a href="${esc(c.screenshots.mobile)}">375 px</a>` : ''}</p>
      </div>`;
  const body = rows
    .map((row) => {
      const tds = columns.map((col) => {
        const cs = summary.cells.filter((c) => gridRow(c) === row && `${c.site} · ${c.locale}` === col);
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
  .bubble { background: #e5e7eb; border-radius: 14px; padding: 8px 10px; white-space: pre-wrap; overflow-wrap: anywhere; }
  .phone .sender, .phone .meta { color: #6b7280; font-size: 12px; }
  .card { background: #fff; border-radius: 10px; box-shadow: 0 1px 4px rgba(0,0,0,.2); padding: 10px; display: grid; grid-template-columns: 32px 1fr; gap: 2px 8px; }
  .card .icon { width: 32px; height: 32px; border-radius: 6px; object-fit: cover; grid-row: span 2; }
  .card .title { font-weight: 600; }
  .card .body { white-space: pre-wrap; overflow-wrap: anywhere; }
  .card .image { grid-column: 1 / -1; width: 100%; border-radius: 6px; }
  .card .url { grid-column: 1 / -1; font-size: 12px; color: #6b7280; overflow-wrap: anywhere; }
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
  // A blank line would end GitHub's HTML block and let markdown start again (an SMS's `![x](…)` an image, `# …` a heading): line breaks are <br>.
  const cellText = (s: string) => esc(printable(s.replace(/\r\n?/g, '\n'), { newlines: true })).replace(/\n/g, '<br>');
  const problems = (c: SummaryCell) => c.problems.map((p) => `${p.severity}: ${p.message}`).join('; ') || '—';
  const where = (c: SummaryCell) => `${c.site} · ${c.locale}`;
  const email = summary.cells.filter((c): c is EmailSummaryCell => c.channel === undefined || c.channel === 'email');
  const sms = summary.cells.filter((c): c is SmsSummaryCell => c.channel === 'sms');
  const push = summary.cells.filter((c): c is PushSummaryCell => c.channel === 'push');
  const table = (title: string | undefined, head: string[], rows: string[][]) => [
    ...(title ? [`<h3>${esc(title)}</h3>`] : []),
    `<table><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>`,
    ...rows.map((r) => `<tr>${r.map((d) => `<td>${cellText(d)}</td>`).join('')}</tr>`),
    '</table>',
  ];
  // One table per channel, each with what a reviewer checks on it; an email-only preview keeps its one table.
  const titled = sms.length > 0 || push.length > 0;
  return [
    '<h2>herald preview</h2>',
    ...(email.length > 0 || !titled ? table(titled ? 'Email' : undefined, ['Message', 'Site · locale', 'Subject', 'From', 'Size', 'Problems'], email.map((c) => [c.row, where(c), c.subject, c.from, `${c.kb} KB`, problems(c)])) : []),
    ...(sms.length > 0 ? table('SMS', ['Message', 'Site · locale', 'Text', 'Encoding', 'Parts', 'Problems'], sms.map((c) => [c.row, where(c), c.sms.text, c.sms.forced_by ? `${c.sms.encoding} (forced by ${charName(c.sms.forced_by.char)})` : c.sms.encoding, String(c.sms.parts), problems(c)])) : []),
    ...(push.length > 0 ? table('Push', ['Message', 'Site · locale', 'Title', 'Body', 'Opens', 'Problems'], push.map((c) => [c.row, where(c), c.push.title, c.push.body, c.push.url ?? '—', problems(c)])) : []),
    '',
  ].join('\n');
}

export { smsLine };

