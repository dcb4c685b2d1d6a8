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

/**
 * nunjucks sets eight variables per loop iteration (`loop.index`, …), each
 * through Frame.set, which splits the name at dots every time: half the cost of
 * a product grid. This frame remembers the splits. Frame and render's frame
 * argument are nunjucks internals (3.2), so the golden tests guard this.
 */
const { Frame } = (nunjucks as unknown as { runtime: { Frame: new (parent?: unknown, isolateWrites?: boolean) => NunjucksFrame } }).runtime;
interface NunjucksFrame {
  variables: Record<string, unknown>;
  set(name: string, val: unknown, resolveUp?: boolean): void;
  push(isolateWrites?: boolean): NunjucksFrame;
}
const splitNames = new Map<string, string[]>();
class LoopFrame extends Frame {
  override set(name: string, val: unknown, resolveUp?: boolean): void {
    if (resolveUp) return super.set(name, val, resolveUp);
    let parts = splitNames.get(name);
    if (!parts) splitNames.set(name, (parts = name.split('.')));
    let obj = this.variables;
    for (let i = 0; i < parts.length - 1; i++) obj = (obj[parts[i]!] ??= {}) as Record<string, unknown>;
    obj[parts[parts.length - 1]!] = val;
  }
  override push(isolateWrites?: boolean): NunjucksFrame {
    return new LoopFrame(this, isolateWrites);
  }
}
type FrameRender = (ctx: object, frame: NunjucksFrame) => string;
const renderIn = (t: nunjucks.Template, ctx: object): string => (t.render as unknown as FrameRender).call(t, ctx, new LoopFrame());

/** One part, compiled once; a part without tags (a fixed preheader, say) is just its text. */
function part(source: string, env: nunjucks.Environment, name: string): (ctx: object) => string {
  if (!/\{[{%#]/.test(source)) return () => source;
  const t = new nunjucks.Template(source, env, name, true);
  return (ctx) => renderIn(t, ctx);
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
  const html = part(compiled, htmlEnv, parts.file);
  const subject = part(parts.subject, textEnv, `${parts.file} (subject)`);
  const preheader = part(parts.preheader ?? '', textEnv, `${parts.file} (preheader)`);
  const text = part(parts.text ?? textFromHtml(compiled), textEnv, `${parts.file} (text)`);
  return {
    render(ctx) {
      const pre = preheader(ctx);
      const withPreheader = { ...ctx, preheader: pre };
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
