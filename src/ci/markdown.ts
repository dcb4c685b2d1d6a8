import { printable } from '../errors.js';

/**
 * Escaping for what herald writes into GitHub Markdown: PR comments and job
 * summaries. Everything from the workspace, the shop's data or the database
 * (a campaign title, a pause reason, a subject) passes through one of these,
 * so `</details><img src=x onerror=…>` stays text, a value cannot close a
 * code fence, and `@team` in a title pings nobody.
 */

const HTML: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/**
 * Text inside HTML that herald writes (a `<summary>`, a table cell). A blank
 * line would end GitHub's HTML block and let Markdown start again, so line
 * breaks become spaces.
 */
export function htmlText(s: string): string {
  return noMention(printable(s.replace(/\r?\n|\r/g, ' ')).replace(/[&<>"']/g, (c) => HTML[c]!));
}

/**
 * Text in running Markdown: entities for what HTML would act on, a backslash
 * before every other ASCII punctuation Markdown gives a meaning to, and line
 * breaks as spaces (a line break could start a heading, a list or a fence).
 * A table cell's `|` is escaped too, so the same function serves cells.
 */
export function markdownText(s: string): string {
  return noMention(
    printable(s.replace(/\r?\n|\r/g, ' '))
      .replace(/[\\`*_{}[\]()#+\-.!|~]/g, (c) => `\\${c}`)
      .replace(/[&<>]/g, (c) => HTML[c]!),
  );
}

/**
 * A fenced code block that no line of `text` can close: the fence is one
 * backtick longer than the longest run of backticks inside. Lines are made
 * printable (a bidi override or a carriage return shows as an escape).
 */
export function codeBlock(text: string, lang = ''): string {
  const body = text
    .split('\n')
    .map((l) => printable(l))
    .join('\n');
  const longest = Math.max(0, ...(body.match(/`+/g) ?? []).map((r) => r.length));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return `${fence}${lang}\n${body}\n${fence}`;
}

/** Code inside HTML (`<code>` in a summary line): escaped like any HTML text. */
export function htmlCode(s: string): string {
  return `<code>${htmlText(s)}</code>`;
}

/**
 * An http(s) URL as an autolink, `<https://…>`, or undefined for anything
 * else (a `javascript:` URL is never a link). What could end the angle
 * brackets is percent-encoded.
 */
export function autolink(url: string): string | undefined {
  const href = webUrl(url);
  return href === undefined ? undefined : `<${href}>`;
}

/** A link with a label to an http(s) URL, or undefined for anything else. */
export function markdownLink(label: string, url: string): string | undefined {
  const href = webUrl(url);
  return href === undefined ? undefined : `[${markdownText(label)}](<${href}>)`;
}

/** The URL normalised, when it is http(s); what could end a link is percent-encoded. */
export function webUrl(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return undefined;
  return u.href.replace(/[<>\s()"'`]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

/** 12345 → "12,345", the same on every machine whatever its locale. */
export function thousands(n: number): string {
  const [int, frac] = String(Math.abs(n)).split('.');
  return `${n < 0 ? '−' : ''}${int!.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}${frac ? `.${frac}` : ''}`;
}

/** "1 object", "2 objects". */
export function plural(n: number, noun: string, many = `${noun}s`): string {
  return `${thousands(n)} ${n === 1 ? noun : many}`;
}

/**
 * GitHub notifies `@name` and `@org/team` wherever they start a word in a
 * comment outside code. A zero-width space after the `@` keeps the text
 * readable and pings nobody; an address (news@shop.example.com) is left alone.
 */
function noMention(s: string): string {
  return s.replace(/(^|[^A-Za-z0-9_])@(?=[A-Za-z0-9])/g, '$1@\u200b');
}
