import type { Project, Site } from '../workspace/model.js';
import { signAutoLoginToken } from './auto-login.js';
import { recipientUnsubscribeToken, TRACKING_PATHS, unsubscribeToken } from './tracking.js';

/**
 * Every link herald itself puts into a message, built in this one place:
 * unsubscribe (page and mailto, also used by the List-Unsubscribe header) and
 * auto-login. Click tracking and the open pixel are added where
 * render/message.ts finishes a message (links/rewrite.ts), so templates never
 * change for them.
 *
 * A ledger message's unsubscribe link names the message (links/tracking.ts);
 * a preview's or test send's, which has none, names the recipient.
 */
export interface MessageLinks {
  unsubscribe: string;
  unsubscribeMailto: string;
  autoLogin: string;
}

export function messageLinks(o: {
  project: Project;
  site: Site;
  secret: string;
  now: Date;
  recipient: { customer_id: number | null; contact_id?: number | null; site: string };
  source: { name: string };
  /** The ledger message, when there is one. */
  ledgerId?: number;
}): MessageLinks {
  const r = o.recipient;
  const token =
    o.ledgerId !== undefined
      ? unsubscribeToken(o.ledgerId, o.secret)
      : recipientUnsubscribeToken({ customer: r.customer_id, contact: r.customer_id === null ? (r.contact_id ?? null) : null, site: r.site, source: o.source.name }, o.secret);
  const base = trackingBase(o.project, o.site);
  return {
    unsubscribe: `${base}/${o.ledgerId !== undefined ? TRACKING_PATHS.unsubscribe : TRACKING_PATHS.legacyUnsubscribe}/${token}`,
    unsubscribeMailto: `mailto:${o.site.sender.reply_to ?? o.site.sender.from}?subject=unsubscribe%20${token}`,
    autoLogin: autoLoginLink(o.site, r.customer_id, o.secret, o.now),
  };
}

/**
 * A customer's auto-login link on a site, signed now: at render time, or at
 * the click for a tracked message (http/destinations.ts). Only a shop
 * customer has an account to log into; a list's contact (null) gets the
 * plain site link.
 */
export function autoLoginLink(site: Site, customerId: number | null, secret: string, now: Date): string {
  const siteUrl = site.url.replace(/\/+$/, '');
  return customerId !== null ? `${siteUrl}${site.auto_login_path ?? '/auto-login'}?token=${signAutoLoginToken(customerId, site.id, secret, { now })}` : siteUrl;
}

/** Where herald's link endpoints are served: tracking.base_url, without a trailing slash. */
export function trackingBase(project: Project, site: Site): string {
  return (project.tracking?.base_url ?? site.url).replace(/\/+$/, '');
}
