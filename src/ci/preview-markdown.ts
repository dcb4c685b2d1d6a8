import { charName } from '../preview/channel-cells.js';
import { channelLabel, type EmailSummaryCell, type PreviewSummary, type PushSummaryCell, type SmsSummaryCell } from '../preview/write.js';
import { COMMENT, fitBody, type Budget } from './fit.js';
import { PREVIEW_MARKER } from './marker.js';
import { autolink, htmlCode, htmlText, markdownText, plural, thousands } from './markdown.js';

/**
 * The preview as the body of its pull request comment: which campaigns,
 * triggers and templates (and A/B variants) render differently, on which
 * sites and in which locales, with each message's subject, and a link to the
 * artifact holding the grid and the screenshots. One collapsed section per
 * campaign, trigger or template (and variant), with a table per channel it
 * sends on: emails by subject, SMS by text, encoding and parts, push
 * notifications by title and body.
 */
export interface PreviewMarkdownOptions {
  /** `--changed-since`: the ref the pull request is compared with. */
  changedSince?: string;
  /** Where the uploaded preview (index.html, screenshots) is. */
  artifactUrl?: string;
  budget?: Budget;
}

type Cell = PreviewSummary['cells'][number];

export function previewMarkdown(summary: PreviewSummary, opts: PreviewMarkdownOptions = {}): string {
  const budget = opts.budget ?? COMMENT;
  const rows = new Map<string, Cell[]>();
  for (const c of summary.cells) rows.set(c.row, [...(rows.get(c.row) ?? []), c]);
  const link = opts.artifactUrl ? autolink(opts.artifactUrl) : undefined;
  const head = [PREVIEW_MARKER, summaryLine(summary, rows, opts.changedSince, link)].join('\n');
  const sections = [...rows].map(([row, cells]) => section(row, cells));
  const where = budget.where === 'comment' ? 'see the job summary and the preview artifact' : 'see the preview artifact';
  const foot = `<sub>Rendered ${htmlText(summary.generated_at)} with ${htmlText(summary.samples)}. Links in previews are signed with a throwaway secret and do not work.</sub>`;
  return fitBody({ head, sections, foot }, budget, (n) => `${plural(n, 'more row')} of the grid: ${where}${link ? ` (${link})` : ''}`);
}

function summaryLine(summary: PreviewSummary, rows: Map<string, Cell[]>, changedSince: string | undefined, link: string | undefined): string {
  const since = changedSince !== undefined ? ` changed since ${htmlCode(changedSince)}` : '';
  if (summary.cells.length === 0) {
    return `**herald preview**: nothing to preview${changedSince !== undefined ? `: no template, campaign or trigger changed since ${htmlCode(changedSince)}` : ''}.`;
  }
  const problems = summary.cells.flatMap((c) => c.problems);
  const errors = problems.filter((p) => p.severity === 'error').length;
  const sites = new Set(summary.cells.map((c) => c.site)).size;
  const locales = new Set(summary.cells.map((c) => c.locale)).size;
  const channels = channelsOf(summary.cells);
  const on = channels.length === 1 && channels[0] === 'email' ? '' : ` on ${listed(channels)}`;
  const grid = `${plural(rows.size, 'campaign, trigger or template', 'campaigns, triggers or templates')} × ${plural(sites, 'site')} × ${plural(locales, 'locale')}${on}`;
  const artifact = link ? ` · grid and screenshots: ${link}` : '';
  return `**herald preview**: ${plural(summary.cells.length, 'message')}${since} (${grid}): ${plural(errors, 'error')}, ${plural(problems.length - errors, 'warning')}${artifact}`;
}

/** The channels of the cells, as a person names them, email first. */
function channelsOf(cells: readonly Cell[]): string[] {
  const have = new Set(cells.map(channelLabel));
  return ['email', 'SMS', 'push'].filter((c) => have.has(c));
}

function listed(words: readonly string[]): string {
  return words.length <= 1 ? (words[0] ?? '') : `${words.slice(0, -1).join(', ')} and ${words[words.length - 1]}`;
}

const problemsText = (c: Cell) => c.problems.map((p) => `${p.severity}: ${markdownText(p.message)}`).join('; ') || '—';

/** One row of the grid: its messages by channel, site and locale, each with what a reviewer checks on it and its problems. */
function section(row: string, cells: readonly Cell[]): string {
  const sites = new Set(cells.map((c) => c.site)).size;
  const locales = new Set(cells.map((c) => c.locale)).size;
  const errors = cells.reduce((n, c) => n + c.problems.filter((p) => p.severity === 'error').length, 0);
  const warnings = cells.reduce((n, c) => n + c.problems.length, 0) - errors;
  const channels = channelsOf(cells);
  const onlyEmail = channels.length === 1 && channels[0] === 'email';
  const tags = [...(onlyEmail ? [] : [listed(channels)]), plural(sites, 'site'), plural(locales, 'locale'), ...(errors ? [plural(errors, 'error')] : []), ...(warnings ? [plural(warnings, 'warning')] : [])];
  const email = cells.filter((c): c is EmailSummaryCell => c.channel === undefined || c.channel === 'email');
  const sms = cells.filter((c): c is SmsSummaryCell => c.channel === 'sms');
  const push = cells.filter((c): c is PushSummaryCell => c.channel === 'push');
  const tables: string[][] = [];
  if (email.length > 0) {
    tables.push([
      ...(onlyEmail ? [] : ['**Email**', '']),
      '| Site | Locale | Subject | Preheader | Size | Problems |',
      '| --- | --- | --- | --- | ---: | --- |',
      ...email.map((c) => `| ${[markdownText(c.site), markdownText(c.locale), markdownText(c.subject), markdownText(c.preheader) || '—', `${thousands(c.kb)} KB`, problemsText(c)].join(' | ')} |`),
    ]);
  }
  if (sms.length > 0) {
    tables.push([
      '**SMS**',
      '',
      '| Site | Locale | Text | Encoding | Parts | Problems |',
      '| --- | --- | --- | --- | ---: | --- |',
      ...sms.map((c) => {
        const encoding = c.sms.forced_by ? `${c.sms.encoding} (forced by ${charName(c.sms.forced_by.char)})` : c.sms.encoding;
        return `| ${[markdownText(c.site), markdownText(c.locale), markdownText(c.sms.text) || '—', markdownText(encoding), String(c.sms.parts), problemsText(c)].join(' | ')} |`;
      }),
    ]);
  }
  if (push.length > 0) {
    tables.push([
      '**Push**',
      '',
      '| Site | Locale | Title | Body | Opens | Problems |',
      '| --- | --- | --- | --- | --- | --- |',
      ...push.map((c) => `| ${[markdownText(c.site), markdownText(c.locale), markdownText(c.push.title) || '—', markdownText(c.push.body) || '—', c.push.url ? markdownText(c.push.url) : '—', problemsText(c)].join(' | ')} |`),
    ]);
  }
  return [`<details><summary><b>${htmlText(row)}</b> · ${tags.map(htmlText).join(' · ')}</summary>`, '', ...tables.flatMap((t) => [...t, '']), '</details>'].join('\n');
}
