import { convert } from 'html-to-text';
import { compileMjml } from './mjml.js';
import type { ProductToken } from './products.js';
import { compileTemplate } from './sandbox.js';

/**
 * A template made ready for one locale: MJML compiled to HTML once, then every
 * part compiled once by nunjucks. Per recipient only `render` runs.
 */
export interface PreparedTemplate {
  render(ctx: TokenContext): { subject: string; preheader: string; html: string; text: string };
}

/** The tokens a campaign message can use. */
export interface TokenContext {
  /** For a list's members, the CSV's extra columns too. */
  customer: { first_name: string | null; last_name: string | null; email: string; city: string | null; [column: string]: string | null };
  greeting: string;
  site: { id: string; name: string; url: string; postal_address: string; currency: string; brand: Record<string, string | number> };
  campaign: { name: string; title: string };
  trigger: { name: string };
  products: ProductToken[];
  cart?: Record<string, unknown>;
  order?: Record<string, unknown>;
  event?: Record<string, unknown>;
  links: { unsubscribe: string; auto_login: string };
}

// HTML is autoescaped: a customer named "<script>" arrives as text. Subject and
// preheader are header and plain text, where escaping would show "&amp;".
// Both run in the sandbox (sandbox.ts): a template reaches its tokens and nothing else.

/** One part, compiled once; a part without tags (a fixed preheader, say) is just its text. */
function part(source: string, html: boolean, name: string): (ctx: object) => string {
  if (!/\{[{%#]/.test(source)) return () => source;
  return compileTemplate(source, name, html);
}

export interface TemplateParts {
  mjml: string;
  subject: string;
  preheader?: string;
  /** The <locale>.txt part, when the template has one. */
  text?: string;
  /** For error messages: where the MJML came from. */
  file: string;
}

export async function prepareTemplate(parts: TemplateParts): Promise<PreparedTemplate> {
  const compiled = await compileMjml(parts.mjml, parts.file);
  const html = part(compiled, true, parts.file);
  const subject = part(parts.subject, false, `${parts.file} (subject)`);
  const preheader = part(parts.preheader ?? '', false, `${parts.file} (preheader)`);
  const text = part(parts.text ?? textFromHtml(compiled), false, `${parts.file} (text)`);
  return {
    render(ctx) {
      const pre = preheader(ctx);
      // Object.assign, not { ...ctx, preheader }: V8 (11, Node 20) takes a slow path, ~1.5 µs, for a
      // literal that starts with a spread and goes on; see docs/sending.md.
      const withPreheader = Object.assign({}, ctx, { preheader: pre });
      return {
        subject: oneLine(subject(ctx)),
        preheader: pre,
        html: html(withPreheader),
        text: tidyText(text(withPreheader)),
      };
    },
  };
}

/**
 * The plain-text part of a template without a <locale>.txt: the compiled HTML
 * turned into text once, tokens still in place, then rendered per recipient
 * like the other parts. Converting per message would cost milliseconds each.
 * Paragraphs stay one line each here; they are wrapped after rendering, when
 * the tokens' lengths are known.
 */
function textFromHtml(html: string): string {
  // A linked image (a logo, a product picture) has no text: its bare URL would
  // open the text part. The text link beside it carries the same address.
  const withoutImageLinks = html.replace(/<a\b[^>]*>(?:\s|<img\b[^>]*>)*<\/a>/gi, '');
  return convert(withoutImageLinks, {
    wordwrap: false,
    selectors: [
      { selector: 'img', format: 'skip' },
      { selector: 'a', options: { hideLinkHrefIfSameAsText: true } },
      // MJML lays out with tables; as text they are just their cells' lines.
      { selector: 'table', format: 'block' },
      { selector: 'tr', format: 'block' },
      { selector: 'td', format: 'block' },
    ],
  }).trim();
}

/**
 * After rendering (loops leave blank lines, linked images bare URLs): blank
 * runs become one empty line, and a bare URL goes when the next paragraph
 * links there anyway; then lines are wrapped at 78 columns.
 *
 * One pass over the lines does it all for the usual text: a line of blanks
 * is emptied, a blank line after another dropped, a long line wrapped, and
 * the rest copied a run at a time (an unchanged text is returned as it is).
 * Each of the former passes (two replaces, a test for bare URLs, the
 * wrapping) cost as much as this whole pass. A text with a line that may be
 * a bare URL, or with unusual characters (UNUSUAL), takes the steps one
 * after another (tidySteps).
 */
export function tidyText(text: string): string {
  const t = text.trim();
  if (UNUSUAL.test(t)) return tidySteps(text);
  let out = '';
  let copied = 0;
  let blanks = 0; // blank lines since the last line with words
  let url = t.indexOf('://');
  for (let start = 0; ; ) {
    const nl = t.indexOf('\n', start);
    const end = nl < 0 ? t.length : nl;
    if (blankLine(t, start, end)) {
      // Never the last line: the text is trimmed.
      if (++blanks > 1) {
        out += t.slice(copied, start);
        copied = nl + 1;
      } else if (end > start) {
        out += t.slice(copied, start);
        copied = end;
      }
    } else {
      blanks = 0;
      if (url >= start && url < end) {
        if (MAYBE_BARE_URL.test(t.slice(start, url))) return tidySteps(text);
        url = t.indexOf('://', end);
      }
      if (end - start > WRAP) {
        out += t.slice(copied, start) + wrap(t.slice(start, end));
        copied = end;
      }
    }
    if (nl < 0) return copied === 0 ? t : out + t.slice(copied);
    start = nl + 1;
  }
}

/**
 * What the one pass leaves to the steps: line ends other than \n (the steps'
 * multiline expressions end lines there too), and the zero-width space, the
 * one blank of a blank line that trim() keeps (a line of it and a form feed
 * is not blank before the trim, and would be after it).
 */
const UNUSUAL = /[\r\u2028\u2029\u200b]/;

/** A line of nothing but the blanks a blank line may hold ([ \t\u00a0\u2000-\u200b]), or none. */
function blankLine(t: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = t.charCodeAt(i);
    if (!(c === 32 || c === 9 || c === 0xa0 || (c >= 0x2000 && c <= 0x200b))) return false;
  }
  return true;
}

/** The tidying one step after another over the whole text: for texts the one pass leaves to it. */
function tidySteps(text: string): string {
  const t = text.replace(/^[ \t\u00a0\u2000-\u200b]+$/gm, '').replace(/\n{3,}/g, '\n\n');
  return wrapLines((hasBareUrl(t) ? withoutBareUrls(t) : t).trim());
}

const BARE_URL = /^\S+:\/\/\S+$/;
/** What comes before a line's first "://" when the line may be a bare URL's paragraph: blanks, then no blank. */
const MAYBE_BARE_URL = /^\s*\S*$/;

/** Whether a paragraph (paragraphs part at "\n\n", never more newlines here) is a bare URL: only one with "://" can be. */
function hasBareUrl(t: string): boolean {
  for (let at = t.indexOf('://'); at >= 0; ) {
    const start = t.lastIndexOf('\n\n', at);
    let end = t.indexOf('\n\n', at);
    if (end < 0) end = t.length;
    if (BARE_URL.test(t.slice(start < 0 ? 0 : start + 2, end).trim())) return true;
    at = t.indexOf('://', end);
  }
  return false;
}

function withoutBareUrls(t: string): string {
  return t
    .split('\n\n')
    .filter((para, i, all) => !(BARE_URL.test(para.trim()) && all[i + 1]?.includes(`[${para.trim()}]`)))
    .join('\n\n');
}

/** Each line longer than WRAP wrapped; the lines between are copied a run at a time, not line by line. */
function wrapLines(text: string): string {
  let out = '';
  let copied = 0;
  let start = 0;
  for (;;) {
    const nl = text.indexOf('\n', start);
    const end = nl < 0 ? text.length : nl;
    if (end - start > WRAP) {
      out += text.slice(copied, start) + wrap(text.slice(start, end));
      copied = end;
    }
    if (nl < 0) return copied === 0 ? text : out + text.slice(copied);
    start = nl + 1;
  }
}

/** Plain-text lines are kept under this many characters (RFC 3676 suggests 78). */
const WRAP = 78;

/**
 * Greedy wrap at spaces; a word longer than a line (a URL) stays whole on its
 * own line, and the spaces at a break go. Cuts at the last space that fits
 * rather than adding word by word: per message, this runs on every long line.
 */
function wrap(line: string): string {
  let out = '';
  let start = 0;
  for (;;) {
    while (line.charCodeAt(start) === 32) start++;
    if (line.length - start <= WRAP) return out + line.slice(start);
    let cut = line.lastIndexOf(' ', start + WRAP);
    if (cut <= start) {
      cut = line.indexOf(' ', start + WRAP);
      if (cut < 0) return out + line.slice(start);
    }
    out += `${line.slice(start, cut)}\n`;
    start = cut + 1;
  }
}

/** A subject is one line, whatever a token contained. */
function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').trim();
}
