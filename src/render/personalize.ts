import { convert } from 'html-to-text';
import nunjucks from 'nunjucks';
import { compileMjml } from './mjml.js';
import type { ProductToken } from './products.js';

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
  links: { unsubscribe: string; auto_login: string };
}

// HTML is autoescaped: a customer named "<script>" arrives as text. Subject and
// preheader are header and plain text, where escaping would show "&amp;".
const htmlEnv = new nunjucks.Environment(null, { autoescape: true, throwOnUndefined: false });
const textEnv = new nunjucks.Environment(null, { autoescape: false, throwOnUndefined: false });

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
  const html = new nunjucks.Template(compiled, htmlEnv, parts.file, true);
  const subject = new nunjucks.Template(parts.subject, textEnv, `${parts.file} (subject)`, true);
  const preheader = new nunjucks.Template(parts.preheader ?? '', textEnv, `${parts.file} (preheader)`, true);
  const text = new nunjucks.Template(parts.text ?? textFromHtml(compiled), textEnv, `${parts.file} (text)`, true);
  return {
    render(ctx) {
      const pre = preheader.render(ctx);
      return {
        subject: oneLine(subject.render(ctx)),
        preheader: pre,
        html: html.render({ ...ctx, preheader: pre }),
        text: tidyText(text.render({ ...ctx, preheader: pre })),
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
 * links there anyway; then lines are wrapped at 78 columns. A few string
 * passes over a few KB per message.
 */
function tidyText(text: string): string {
  return text
    .replace(/^[ \t\u00a0\u2000-\u200b]+$/gm, '')
    .replace(/\n{3,}/g, '\n\n')
    .split('\n\n')
    .filter((para, i, all) => !(/^\S+:\/\/\S+$/.test(para.trim()) && all[i + 1]?.includes(`[${para.trim()}]`)))
    .join('\n\n')
    .trim()
    .split('\n')
    .map((line) => (line.length > WRAP ? wrap(line) : line))
    .join('\n');
}

/** Plain-text lines are kept under this many characters (RFC 3676 suggests 78). */
const WRAP = 78;

/** Greedy wrap at spaces; a word longer than a line (a URL) stays whole on its own line. */
function wrap(line: string): string {
  const out: string[] = [];
  let current = '';
  for (const word of line.split(' ')) {
    if (current && current.length + 1 + word.length > WRAP) {
      out.push(current);
      current = word;
    } else current = current ? `${current} ${word}` : word;
  }
  out.push(current);
  return out.join('\n');
}

/** A subject is one line, whatever a token contained. */
function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').trim();
}
