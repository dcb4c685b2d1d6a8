import { absoluteUrl, cssUrls, sitesRefusing, type SiteHosts } from '../../render/link-check.js';

/**
 * A light scan of an MJML body's tags, for what the MJML compiler does not
 * report: tags closed out of order, text that MJML silently drops (a nunjucks
 * `{% for %}` between two mj-columns vanishes from the HTML), images without
 * alt text, and http links. Offsets are into the scanned text.
 */

export interface Attribute {
  name: string;
  value: string;
  /** Offset of the attribute's name. */
  start: number;
}

export interface Tag {
  name: string;
  kind: 'open' | 'close' | 'self';
  start: number;
  end: number;
  attributes: Attribute[];
  /** The MJML element this tag sits in, or the ending tag whose HTML content holds it. */
  parent: string | undefined;
  /** Inside the HTML content of an ending tag (mj-text, mj-button, mj-raw, ...). */
  inContent: boolean;
}

export interface MarkupProblem {
  offset: number;
  message: string;
  hint?: string;
  rule: string;
  severity: 'error' | 'warning';
}

/**
 * MJML's components with `endingTag = true` (mjml 5): their content is HTML
 * kept as written, so nunjucks tags and text belong inside them.
 */
const ENDING_TAGS = new Set([
  'mj-text', 'mj-button', 'mj-raw', 'mj-table', 'mj-title', 'mj-preview', 'mj-style', 'mj-breakpoint',
  'mj-navbar-link', 'mj-social-element', 'mj-accordion-title', 'mj-accordion-text', 'mj-carousel-image',
]);

// A comment, or a tag whose attributes may hold ">" inside quotes.
const TOKEN = /<!--[\s\S]*?(?:-->|$)|<(\/?)([A-Za-z][\w:-]*)((?:[^>"']|"[^"]*"|'[^']*')*?)(\/?)>/g;
const ATTRIBUTE = /([^\s=/"']+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?/g;
const NUNJUCKS_COMMENT = /\{#[\s\S]*?#\}/g;

const isMjml = (name: string) => name === 'mjml' || name.startsWith('mj-');

/**
 * MJML's elements that hold only other elements: text directly inside them is
 * dropped. Unknown elements are left to the compiler's own error.
 */
const CONTAINERS = new Set([
  'mjml', 'mj-head', 'mj-attributes', 'mj-body', 'mj-wrapper', 'mj-section', 'mj-group', 'mj-column', 'mj-hero',
  'mj-social', 'mj-navbar', 'mj-accordion', 'mj-accordion-element', 'mj-carousel',
]);

export function scanMarkup(text: string): { tags: Tag[]; problems: MarkupProblem[] } {
  const tags: Tag[] = [];
  const problems: MarkupProblem[] = [];
  const open: { name: string; start: number }[] = [];
  /** The ending tag whose content we are in, and how deep the same tag nests inside it. */
  let content: { name: string; depth: number } | undefined;
  let textFrom = 0;

  const droppedText = (from: number, to: number) => {
    const piece = text.slice(from, to).replace(NUNJUCKS_COMMENT, (c) => ' '.repeat(c.length));
    const first = piece.search(/\S/);
    if (first === -1) return;
    const parent = open.at(-1)?.name;
    if (parent !== undefined && !CONTAINERS.has(parent)) return;
    const shown = piece.trim().split('\n')[0]!.slice(0, 40);
    problems.push({
      offset: from + first,
      message: parent ? `"${shown}" sits directly in <${parent}>, where MJML drops it` : `"${shown}" is outside <mjml>, where MJML drops it`,
      hint: /\{[{%]/.test(piece) ? 'wrap nunjucks tags that sit between MJML elements in <mj-raw>…</mj-raw>' : 'put text in an <mj-text>',
      rule: 'mjml',
      severity: 'error',
    });
  };

  for (const m of text.matchAll(TOKEN)) {
    const start = m.index;
    const end = start + m[0].length;
    if (m[0].startsWith('<!--')) {
      if (!content) {
        droppedText(textFrom, start);
        textFrom = end;
      }
      continue;
    }
    const name = m[2]!.toLowerCase();
    const kind = m[1] ? 'close' : m[4] ? 'self' : 'open';
    const tag: Tag = { name, kind, start, end, attributes: attributes(m[3] ?? '', start + 1 + m[1]!.length + m[2]!.length), parent: content?.name ?? open.at(-1)?.name, inContent: !!content };
    tags.push(tag);

    if (content) {
      if (name !== content.name) continue;
      if (kind === 'open') content.depth++;
      if (kind !== 'close' || --content.depth > 0) continue;
      // The ending tag closes: back to MJML structure.
      content = undefined;
      textFrom = end;
      open.pop();
      continue;
    }
    droppedText(textFrom, start);
    textFrom = end;
    if (!isMjml(name)) continue;
    if (kind === 'open') {
      open.push({ name, start });
      if (ENDING_TAGS.has(name)) content = { name, depth: 1 };
    } else if (kind === 'close') {
      closeTag(name, start, open, problems);
    }
  }
  if (content) {
    // Everything after it became its content, so the elements around it only seem unclosed.
    const opened = open.at(-1)!;
    problems.push({ offset: opened.start, message: `<${opened.name}> is never closed`, hint: `add </${opened.name}> after its content`, rule: 'mjml', severity: 'error' });
    return { tags, problems: problems.sort((a, b) => a.offset - b.offset) };
  }
  droppedText(textFrom, text.length);
  for (const o of open.reverse()) {
    problems.push({ offset: o.start, message: `<${o.name}> is never closed`, hint: `add </${o.name}>, or write <${o.name} ... /> if it has no content`, rule: 'mjml', severity: 'error' });
  }
  return { tags, problems: problems.sort((a, b) => a.offset - b.offset) };
}

function closeTag(name: string, start: number, open: { name: string; start: number }[], problems: MarkupProblem[]): void {
  const at = open.map((o) => o.name).lastIndexOf(name);
  if (at === -1) {
    problems.push({ offset: start, message: `</${name}> has no matching <${name}>`, hint: 'remove it, or open the element before', rule: 'mjml', severity: 'error' });
    return;
  }
  // Everything opened after the element being closed was left open.
  for (const unclosed of open.splice(at).slice(1).reverse()) {
    problems.push({ offset: start, message: `</${name}> closes <${name}> while <${unclosed.name}> inside it is still open`, hint: `close <${unclosed.name}> first with </${unclosed.name}>`, rule: 'mjml', severity: 'error' });
  }
}

function attributes(text: string, offset: number): Attribute[] {
  return [...text.matchAll(ATTRIBUTE)].map((m) => ({ name: m[1]!.toLowerCase(), value: m[2] ?? m[3] ?? m[4] ?? '', start: offset + m.index }));
}

/** `<mj-image>` and `<img>` without alt: screen readers and blocked images show nothing. */
export function missingAlt(tags: readonly Tag[]): MarkupProblem[] {
  return tags
    // Inside <mj-attributes>, <mj-image> sets defaults for images and is no image itself.
    .filter((t) => t.kind !== 'close' && ((t.name === 'mj-image' && !t.inContent && t.parent !== 'mj-attributes') || t.name === 'img'))
    .filter((t) => !t.attributes.some((a) => a.name === 'alt'))
    .map((t) => ({
      offset: t.start,
      message: `<${t.name}> has no alt text`,
      hint: 'describe the image in alt="…", or write alt="" if it is only decoration',
      rule: 'alt',
      severity: 'warning',
    }));
}

/** Links over plain http: mail clients warn about them and they leak the click. */
export function httpLinks(tags: readonly Tag[]): MarkupProblem[] {
  return tags.flatMap((t) =>
    t.attributes
      .filter((a) => a.name === 'href' && /^\s*http:\/\//i.test(a.value))
      .map((a) => ({
        offset: a.start,
        message: `link uses http: ${a.value.trim()}`,
        hint: `use ${a.value.trim().replace(/^http:/i, 'https:')}`,
        rule: 'http',
        severity: 'warning' as const,
      })),
  );
}

/**
 * Links to hosts outside the domains of the sites that send the template (see
 * render/link-check.ts): in href, src and background-url attributes (a
 * <mj-font> stylesheet too), and in CSS, in <mj-style> and <style> content
 * and style attributes, what @import and url() load.
 */
export function outsideLinks(text: string, tags: readonly Tag[], sites: readonly SiteHosts[]): MarkupProblem[] {
  const links: { url: string; offset: number }[] = [];
  tags.forEach((t, i) => {
    for (const a of t.attributes) {
      if (a.name === 'href' || a.name === 'src' || a.name === 'background-url') links.push({ url: a.value, offset: a.start });
      if (a.name === 'style') {
        const at = text.indexOf(a.value, a.start);
        links.push(...cssUrls(a.value).map((u) => ({ url: u.url, offset: at + u.offset })));
      }
    }
    if ((t.name === 'mj-style' || t.name === 'style') && t.kind === 'open') {
      const close = tags.slice(i + 1).find((c) => c.name === t.name && c.kind === 'close');
      const css = text.slice(t.end, close?.start ?? text.length);
      links.push(...cssUrls(css).map((u) => ({ url: u.url, offset: t.end + u.offset })));
    }
  });
  return links.flatMap(({ url, offset }) => {
    const refusing = sitesRefusing(url, sites);
    if (refusing.length === 0) return [];
    const host = new URL(absoluteUrl(url)).hostname;
    const names = refusing.map((s) => s.site).join(', ');
    return [{
      offset,
      message: `link to ${host} is outside the domains of ${names}`,
      hint: `link to the site itself, or add "${host}" to domains: of ${names} in herald.yaml`,
      rule: 'link-domain',
      severity: 'error' as const,
    }];
  });
}
