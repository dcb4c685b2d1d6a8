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
 * token that is only known per recipient).
 */
export function sitesRefusing(url: string, sites: readonly SiteHosts[]): SiteHosts[] {
  const host = /^\s*https?:\/\//i.test(url) && !url.includes('{{') ? hostOf(url.trim()) : undefined;
  if (!host) return [];
  return sites.filter((s) => !s.hosts.some((h) => host === h || host.endsWith(`.${h}`)));
}

/**
 * What a reader sees or follows in rendered HTML: the href of links and the
 * src of images. A stylesheet MJML links in the head (a web font) is neither.
 */
export function linksIn(html: string): { url: string; offset: number }[] {
  return [...html.matchAll(/<(?:a|area|img)\b(?:[^>"']|"[^"]*"|'[^']*')*?\s(?:href|src)\s*=\s*(?:"([^"]*)"|'([^']*)')/gi)].map((m) => ({ url: m[1] ?? m[2] ?? '', offset: m.index }));
}

function hostOf(url: string): string | undefined {
  try {
    return new URL(url).hostname.toLowerCase();
  } catch {
    return undefined;
  }
}
