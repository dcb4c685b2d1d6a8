import type { Project, Site } from '../workspace/model.js';

/**
 * Links a message may contain: to its site's own host (and subdomains), to
 * the domains the site lists in herald.yaml (`domains:`), and to herald's own
 * tracking host. Anything else in a message is an error: a link to a
 * look-alike domain is what phishing looks like, and what spam filters punish.
 */
export interface SiteHosts {
  site: string;
  hosts: string[];
}

export function siteHosts(project: Project, site: Site): SiteHosts {
  const hosts = [hostOf(site.url), ...(site.domains ?? []), project.tracking?.base_url ? hostOf(project.tracking.base_url) : undefined];
  return { site: site.id, hosts: [...new Set(hosts.filter((h): h is string => !!h))] };
}

/**
 * The sites whose domains do not include the link's host; empty when the link
 * is allowed everywhere, or is not an absolute http(s) link (mailto:, #, a
 * token that is only known per recipient). A protocol-relative `//host/…`
 * (common in CSS) is absolute too.
 */
export function sitesRefusing(url: string, sites: readonly SiteHosts[]): SiteHosts[] {
  const absolute = absoluteUrl(url);
  const host = /^https?:\/\//i.test(absolute) && !url.includes('{{') ? hostOf(absolute) : undefined;
  if (!host) return [];
  return sites.filter((s) => !s.hosts.some((h) => host === h || host.endsWith(`.${h}`)));
}

/**
 * Every address rendered HTML makes a mail client follow or fetch: the href
 * of links (and of stylesheets: a web font is a request on every open), the
 * src of images, and in CSS, in <style> elements and style attributes, what
 * @import and url() load.
 */
export function linksIn(html: string): { url: string; offset: number }[] {
  const tags = [...html.matchAll(/<(?:a|area|img|link)\b(?:[^>"']|"[^"]*"|'[^']*')*?\s(?:href|src)\s*=\s*(?:"([^"]*)"|'([^']*)')/gi)].map((m) => ({ url: m[1] ?? m[2] ?? '', offset: m.index }));
  const css = [
    ...[...html.matchAll(/<style\b[^>]*>([\s\S]*?)<\/style\s*>/gi)].map((m) => ({ text: m[1]!, offset: m.index + m[0].indexOf('>') + 1 })),
    ...[...html.matchAll(/\sstyle\s*=\s*(?:"([^"]*)"|'([^']*)')/gi)].map((m) => ({ text: m[1] ?? m[2] ?? '', offset: m.index + m[0].search(/["']/) + 1 })),
  ].flatMap((c) => cssUrls(c.text).map((u) => ({ url: u.url, offset: c.offset + u.offset })));
  return [...tags, ...css].sort((a, b) => a.offset - b.offset).map((l) => ({ ...l, url: absoluteUrl(l.url) }));
}

/** A link as written, trimmed, with a protocol-relative `//host/…` made https. */
export function absoluteUrl(url: string): string {
  return url.trim().replace(/^\/\//, 'https://');
}

/** What a piece of CSS loads: `@import "x"`, `@import url(x)`, `url(x)`; offsets into the text. */
export function cssUrls(css: string): { url: string; offset: number }[] {
  return [...css.matchAll(/@import\s+(["'])(.*?)\1|url\(\s*(?:(["'])(.*?)\3|([^"')\s]*))\s*\)/gi)].map((m) => {
    const url = m[2] ?? m[4] ?? m[5] ?? '';
    return { url, offset: m.index + m[0].indexOf(url) };
  });
}

function hostOf(url: string): string | undefined {
  try {
    return new URL(url).hostname.toLowerCase();
  } catch {
    return undefined;
  }
}
