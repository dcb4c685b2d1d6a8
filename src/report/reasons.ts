import { printable } from '../errors.js';
import type { ReasonCount } from '../ledger/ledger.js';

/**
 * The contact policy's part of every report (campaigns and triggers alike):
 * the rows left unsent at claim time (capped, exited, suppressed) and those
 * put off (deferred), grouped by why, as reasonCounts gives them. Reasons are
 * ledger text (an exit's, the cap's, a pause's): escaped wherever shown.
 */

const KIND_LABEL: Record<ReasonCount['kind'], string> = {
  capped: 'Capped',
  exited: 'Exited',
  suppressed: 'Suppressed',
  deferred: 'Deferred',
};

/**
 * Text in a markdown table cell: its own text, never markup, a link or a
 * column break; one line, and no control character (printable's escapes).
 */
export function mdCell(s: string): string {
  return printable(s.replace(/[\r\n]+/g, ' ')).replace(/[\\`*_[\]|<>&]/g, (c) => (c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '&' ? '&amp;' : `\\${c}`));
}

/** Text as a paragraph of its own: a cell's escaping, and nothing at its start that opens a block (a heading, a list, a fence, a rule). */
export function mdParagraph(s: string): string {
  return mdCell(s).replace(/^(\s*)(?:([#+~=-])|(\d+)([.)]))/, (_m, space: string, mark?: string, n?: string, delimiter?: string) => (mark ? `${space}\\${mark}` : `${space}${n}\\${delimiter}`));
}

/** The "Skipped and deferred, by reason" section; nothing when no row was. */
export function reasonsMarkdown(reasons: readonly ReasonCount[]): string[] {
  if (reasons.length === 0) return [];
  return [
    '## Skipped and deferred, by reason',
    '',
    'Skipped: settled without sending when a worker took the message (over the frequency cap, the event gone, suppressed since). Deferred: put off at least once by quiet hours or the frequency cap, then sent or not; counted by the last reason.',
    '',
    '| | Reason | Messages |',
    '|---|---|---:|',
    ...reasons.map((r) => `| ${KIND_LABEL[r.kind]} | ${mdCell(r.reason)} | ${r.count} |`),
    '',
  ];
}

/** The same section for a terminal, indented under a report's figures. */
export function reasonsText(reasons: readonly ReasonCount[]): string[] {
  if (reasons.length === 0) return [];
  const shown = reasons.map((r) => ({ kind: r.kind, reason: printable(r.reason), count: r.count }));
  const width = Math.max(...shown.map((r) => r.reason.length));
  return ['  skipped and deferred, by reason:', ...shown.map((r) => `    ${r.kind.padEnd(11)}${r.reason.padEnd(width)}  ${r.count}`)];
}
