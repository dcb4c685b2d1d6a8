import type { Problem } from '../../errors.js';
import { campaignSites, type Workspace } from '../model.js';
import { problemAt } from '../source.js';
import { parseNunjucks } from './templates-nunjucks.js';
import { tokenUses } from './templates-walk.js';

/**
 * What marketing email must carry: a working unsubscribe link and the
 * sender's postal address (CAN-SPAM; Gmail's and Yahoo's rules for bulk
 * senders ask for the unsubscribe link too). A campaign is marketing; so is a
 * trigger under the frequency cap. A trigger that opts out of the cap
 * (`frequency_cap: false`) is transactional, an order's confirmation say,
 * where the law asks for neither: there they are warnings.
 */

/** A campaign or trigger that sends a template, for messages. */
export interface TemplateSender {
  /** `campaign "winback"`, `trigger "cart" (cart_abandoned)` */
  label: string;
  marketing: boolean;
  sites: string[];
}

const UNSUBSCRIBE = 'links.unsubscribe';
const POSTAL = 'site.postal_address';

/** Per template, the campaigns (with their A/B variants' templates) and triggers that send it. */
export function templateSenders(ws: Workspace): Map<string, TemplateSender[]> {
  const out = new Map<string, TemplateSender[]>();
  const add = (template: string | undefined, s: TemplateSender) => {
    if (template !== undefined) out.set(template, [...(out.get(template) ?? []).filter((x) => x.label !== s.label), s]);
  };
  for (const c of ws.campaigns.values()) {
    const s = { label: `campaign "${c.name}"`, marketing: true, sites: campaignSites(c.spec) };
    add(c.spec.template, s);
    for (const v of c.spec.ab_test?.variants ?? []) add(v.template, s);
  }
  for (const t of ws.triggers.values()) {
    const sites = campaignSites(t.spec);
    add(t.spec.template, {
      label: `trigger "${t.name}" (${t.spec.event})`,
      marketing: t.spec.frequency_cap !== false,
      // A trigger without sites sends for every site.
      sites: sites.length > 0 ? sites : ws.project.spec.sites.map((s) => s.id),
    });
  }
  return out;
}

/**
 * What one body lacks, read from its compiled HTML (partials inlined, MJML
 * comments gone): the tokens it uses, wherever in the message. Nothing when
 * the HTML does not parse, which the syntax check reports.
 */
export function footerProblems(html: string, senders: readonly TemplateSender[]): { message: string; hint?: string; severity: 'error' | 'warning' }[] {
  if (senders.length === 0) return [];
  const parsed = parseNunjucks(html);
  if (!parsed.ok) return [];
  // Printed somewhere, directly or through a {% set %} variable; a condition alone shows nothing.
  const used = new Set(tokenUses(parsed.root, { isKnown: () => true, isKey: () => true }).uses.filter((u) => u.printed).map((u) => u.path.join('.')));
  const marketing = senders.filter((s) => s.marketing);
  const names = (ss: readonly TemplateSender[]) => (ss.length <= 2 ? ss.map((s) => s.label).join(' and ') : `${ss[0]!.label} and ${ss.length - 1} more`);
  const out: ReturnType<typeof footerProblems> = [];
  const missing = (token: string, lacks: string, must: string, hint: string, why: string) => {
    if (used.has(token)) return;
    if (marketing.length > 0) out.push({ message: `the body ${lacks}, which ${names(marketing)} must ${must} as marketing email`, hint, severity: 'error' });
    else out.push({ message: `the body ${lacks}`, hint: `${names(senders)} ${senders.length === 1 ? 'is' : 'are'} transactional (frequency_cap: false), where the law does not ask for it; ${why}`, severity: 'warning' });
  };
  missing(POSTAL, 'does not show {{ site.postal_address }}', 'show',
    'show {{ site.postal_address }} in the footer: CAN-SPAM asks every marketing message for the sender\'s postal address; a footer partial keeps it in every template',
    'showing who sends the message still earns trust');
  missing(UNSUBSCRIBE, 'has no {{ links.unsubscribe }} link', 'carry',
    'add <a href="{{ links.unsubscribe }}">Unsubscribe</a> to the footer: CAN-SPAM, and Gmail\'s and Yahoo\'s rules for bulk senders, ask every marketing message for a working way out; a footer partial keeps it in every template',
    'a way out still keeps the message from being reported as spam');
  return out;
}

/** A site that marketing email is sent for needs a postal address to show. */
export function sitePostalProblems(ws: Workspace, senders: ReadonlyMap<string, readonly TemplateSender[]>): Problem[] {
  const bySite = new Map<string, TemplateSender[]>();
  for (const list of senders.values()) {
    for (const s of list) if (s.marketing) for (const site of s.sites) bySite.set(site, [...(bySite.get(site) ?? []), s]);
  }
  return ws.project.spec.sites.flatMap((site, i) => {
    const senders = [...new Map((bySite.get(site.id) ?? []).map((s) => [s.label, s])).values()];
    if (senders.length === 0 || (site.postal_address ?? '').trim() !== '') return [];
    const who = senders.length <= 2 ? senders.map((s) => s.label).join(' and ') : `${senders[0]!.label} and ${senders.length - 1} more`;
    return [problemAt(ws.project.source, ['sites', i], `site "${site.id}" has no postal_address, which the marketing email of ${who} must show`, 'marketing', {
      hint: 'add postal_address: "Company, street, postcode city, country" to the site: CAN-SPAM asks every marketing message for it',
    })];
  });
}
